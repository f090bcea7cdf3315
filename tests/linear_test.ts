import { bindLinearBackward, bindLinearForward, linearKernels } from "../kernels/linear.ts";
import { linearBackwardRef, linearForwardRef, type LinearShape } from "../kernels/linear_ref.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import { run } from "../gpu/kernel.ts";
import { read, tensor } from "../gpu/tensor.ts";
import { assertClose, dot, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const shapes: LinearShape[] = [
  { batch: 1, inF: 1, outF: 1 },
  { batch: 1, inF: 7, outF: 3 },
  { batch: 5, inF: 2, outF: 128 },
  { batch: 33, inF: 65, outF: 17 },
  { batch: 128, inF: 256, outF: 256 },
];

for (const act of ["none", "relu", "tanh", "sigmoid"] as Activation[]) {
  gpuTest(`linear forward (${act}) matches the CPU reference`, async (gpu) => {
    const k = await linearKernels(gpu);
    for (const s of shapes) {
      const x = randomArray(s.batch * s.inF, 1, -2, 2);
      const W = randomArray(s.outF * s.inF, 2);
      const b = randomArray(s.outF, 3);
      const y0 = randomArray(s.batch * s.outF, 4);
      for (const accumulate of [false, true]) {
        const want = y0.slice();
        linearForwardRef(s, x, W, b, want, act, accumulate);
        const gy = tensor(gpu, [s.batch, s.outF], "y", y0);
        const d = bindLinearForward(
          gpu,
          k,
          s,
          tensor(gpu, [s.batch, s.inF], "x", x),
          tensor(gpu, [s.outF, s.inF], "W", W),
          tensor(gpu, [s.outF], "b", b),
          gy,
          act,
          accumulate,
        );
        run(gpu, [d]);
        assertClose(await read(gpu, gy), want, {
          atol: 1e-4,
          rtol: 1e-4,
          label: `linear ${act} ${JSON.stringify(s)} acc=${accumulate}`,
        });
      }
    }
  });
}

gpuTest("linear forward saturates cleanly on extreme inputs", async (gpu) => {
  const k = await linearKernels(gpu);
  const s = { batch: 3, inF: 4, outF: 5 };
  const x = randomArray(12, 9, -1e3, 1e3);
  const W = randomArray(20, 8, -10, 10);
  for (const act of ["tanh", "sigmoid", "relu"] as Activation[]) {
    const want = new Float32Array(15);
    linearForwardRef(s, x, W, null, want, act);
    const gy = tensor(gpu, [3, 5], "y");
    run(gpu, [
      bindLinearForward(
        gpu,
        k,
        s,
        tensor(gpu, [3, 4], "x", x),
        tensor(gpu, [5, 4], "W", W),
        null,
        gy,
        act,
      ),
    ]);
    const got = await read(gpu, gy);
    assertClose(got, want, { atol: 1e-3, rtol: 1e-4, label: `extreme ${act}` });
    for (const v of got) if (!Number.isFinite(v)) throw new Error(`non-finite ${act} output ${v}`);
  }
});

gpuTest("linear backward matches the CPU reference", async (gpu) => {
  const k = await linearKernels(gpu);
  for (const s of shapes) {
    const x = randomArray(s.batch * s.inF, 11);
    const W = randomArray(s.outF * s.inF, 12);
    const dy = randomArray(s.batch * s.outF, 13);
    const dW0 = randomArray(s.outF * s.inF, 14);
    const db0 = randomArray(s.outF, 15);
    const dx = new Float32Array(s.batch * s.inF), dW = dW0.slice(), db = db0.slice();
    linearBackwardRef(s, x, W, dy, dx, dW, db);
    const g = {
      dx: tensor(gpu, [s.batch, s.inF], "dx", randomArray(s.batch * s.inF, 16)),
      dW: tensor(gpu, [s.outF, s.inF], "dW", dW0),
      db: tensor(gpu, [s.outF], "db", db0),
    };
    run(
      gpu,
      bindLinearBackward(
        gpu,
        k,
        s,
        tensor(gpu, [s.batch, s.inF], "x", x),
        tensor(gpu, [s.outF, s.inF], "W", W),
        tensor(gpu, [s.batch, s.outF], "dy", dy),
        g,
      ),
    );
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(await read(gpu, g.dx), dx, { ...tol, label: `dx ${JSON.stringify(s)}` });
    assertClose(await read(gpu, g.dW), dW, { ...tol, label: `dW ${JSON.stringify(s)}` });
    assertClose(await read(gpu, g.db), db, { ...tol, label: `db ${JSON.stringify(s)}` });
  }
});

Deno.test("linear backward matches finite differences", () => {
  const s = { batch: 3, inF: 5, outF: 4 };
  const x = randomArray(15, 21), W = randomArray(20, 22), b = randomArray(4, 23);
  const proj = randomArray(12, 24);
  const y = new Float32Array(12);
  const loss = () => {
    linearForwardRef(s, x, W, b, y);
    return dot(y, proj);
  };
  const dx = new Float32Array(15), dW = new Float32Array(20), db = new Float32Array(4);
  linearBackwardRef(s, x, W, proj, dx, dW, db);
  const tol = { atol: 1e-3, rtol: 1e-2 };
  assertClose(dx, finiteDiff(x, loss), { ...tol, label: "dx" });
  assertClose(dW, finiteDiff(W, loss), { ...tol, label: "dW" });
  assertClose(db, finiteDiff(b, loss), { ...tol, label: "db" });
});
