import assert from "node:assert/strict";
import {
  activationBackwardRef,
  activationRef,
  reluBackwardFast,
  reluFast,
  reluRowsFast,
} from "../kernels/activation_ref.ts";
import {
  activationKernels,
  bindActivation,
  bindActivationBackward,
} from "../kernels/activation.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import { run } from "../gpu/kernel.ts";
import { read, tensor, view } from "../gpu/tensor.ts";
import { assertClose, dot, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const ACTS: Activation[] = ["none", "relu", "tanh", "sigmoid"];
// Not multiples of the workgroup size (256) nor of 4 (the shader's vec4 tail), one element,
// and a (B=130, hidden=256) layer.
const SIZES = [1, 5, 130, 257, 130 * 256];

gpuTest("activation forward matches the CPU reference", async (gpu) => {
  const k = await activationKernels(gpu);
  for (const act of ACTS) {
    for (const n of SIZES) {
      const x = randomArray(n, n, -3, 3);
      const want = new Float32Array(n);
      activationRef(act, x, want);
      const out = tensor(gpu, [n], "out", randomArray(n, 7));
      run(gpu, [bindActivation(gpu, k, act, n, tensor(gpu, [n], "x", x), out)]);
      assertClose(await read(gpu, out), want, { atol: 1e-6, rtol: 1e-5, label: `${act} n=${n}` });
    }
  }
});

gpuTest("activation forward saturates without NaN on extreme inputs", async (gpu) => {
  const k = await activationKernels(gpu);
  const x = Float32Array.from([-1e30, -1e4, -100, -89, -20, -9, 0, 9, 20, 89, 100, 1e4, 1e30]);
  const n = x.length;
  for (const act of ACTS) {
    const want = new Float32Array(n);
    activationRef(act, x, want);
    const out = tensor(gpu, [n], "out");
    run(gpu, [bindActivation(gpu, k, act, n, tensor(gpu, [n], "x", x), out)]);
    const got = await read(gpu, out);
    assertClose(got, want, { atol: 1e-6, rtol: 1e-6, label: `extreme ${act}` });
    for (const v of got) if (Number.isNaN(v)) throw new Error(`${act} gave NaN on ${x}`);
  }
});

gpuTest(
  "activation backward matches the CPU reference, overwriting and accumulating",
  async (gpu) => {
    const k = await activationKernels(gpu);
    for (const act of ACTS) {
      for (const n of SIZES) {
        // y is a forward output, including saturated values (tanh ±1, sigmoid 0 and 1).
        const pre = randomArray(n, 3 * n, -30, 30);
        const y = new Float32Array(n);
        activationRef(act, pre, y);
        const dy = randomArray(n, 5 * n);
        const dx0 = randomArray(n, 11 * n);
        for (const accumulate of [false, true]) {
          const want = new Float32Array(n);
          activationBackwardRef(act, y, dy, want);
          if (accumulate) { for (let i = 0; i < n; i++) want[i] += dx0[i]; }
          const dx = tensor(gpu, [n], "dx", dx0);
          run(gpu, [
            bindActivationBackward(
              gpu,
              k,
              act,
              n,
              tensor(gpu, [n], "y", y),
              tensor(gpu, [n], "dy", dy),
              dx,
              accumulate,
            ),
          ]);
          assertClose(await read(gpu, dx), want, {
            atol: 1e-6,
            rtol: 1e-5,
            label: `${act} backward n=${n} accumulate=${accumulate}`,
          });
        }
      }
    }
  },
);

gpuTest("activation backward in place (dx = dy) matches the CPU reference", async (gpu) => {
  const k = await activationKernels(gpu);
  for (const act of ACTS) {
    for (const n of SIZES) {
      const y = new Float32Array(n);
      activationRef(act, randomArray(n, 2 * n, -30, 30), y);
      const dy = randomArray(n, 9 * n);
      const want = new Float32Array(n);
      activationBackwardRef(act, y, dy, want);
      const d = tensor(gpu, [n], "d", dy);
      run(gpu, [bindActivationBackward(gpu, k, act, n, tensor(gpu, [n], "y", y), d, d)]);
      assertClose(await read(gpu, d), want, {
        atol: 1e-6,
        rtol: 1e-5,
        label: `${act} in place n=${n}`,
      });
    }
  }
});

gpuTest("activation touches only the first n elements", async (gpu) => {
  const k = await activationKernels(gpu);
  const x = randomArray(10, 1), before = randomArray(10, 2);
  const out = tensor(gpu, [10], "out", before);
  run(gpu, [bindActivation(gpu, k, "tanh", 7, tensor(gpu, [10], "x", x), out)]);
  const got = await read(gpu, out);
  const want = before.slice();
  activationRef("tanh", x.subarray(0, 7), want);
  assertClose(got, want, { atol: 1e-6, label: "prefix" });
});

gpuTest("activation on a view leaves its neighbours in the shared buffer alone", async (gpu) => {
  const k = await activationKernels(gpu);
  const all = randomArray(200, 21, -2, 2);
  const base = tensor(gpu, [200], "base", all), src = tensor(gpu, [70], "src", all.subarray(0, 70));
  // out = base[64, 134); base[128, 192) is another view packed right after it.
  run(gpu, [bindActivation(gpu, k, "sigmoid", 66, src, view(base, 64, [66], "out"))]);
  const want = all.slice();
  activationRef("sigmoid", all.subarray(0, 66), want.subarray(64, 130));
  assertClose(await read(gpu, base), want, { atol: 1e-6, label: "shared buffer" });
});

gpuTest("activation covers a million values with a ragged tail", async (gpu) => {
  const k = await activationKernels(gpu);
  const n = 1_000_003; // 250,000 vec4s and a tail of 3
  const x = randomArray(n, 3, -2, 2);
  const gx = tensor(gpu, [n], "x", x), out = tensor(gpu, [n], "out");
  run(gpu, [bindActivation(gpu, k, "relu", n, gx, out)]);
  const got = await read(gpu, out);
  gx.buffer.destroy();
  out.buffer.destroy();
  let bad = 0;
  for (let i = 0; i < n; i++) if (got[i] !== (x[i] > 0 ? x[i] : 0)) bad++;
  if (bad > 0) throw new Error(`relu over ${n} elements: ${bad} wrong values`);
});

gpuTest("activation rejects aliased and undersized tensors", async (gpu) => {
  const k = await activationKernels(gpu);
  const a = tensor(gpu, [4], "a"), b = tensor(gpu, [2], "b");
  const expectThrow = (f: () => unknown, what: string) => {
    try {
      f();
    } catch {
      return;
    }
    throw new Error(`expected an error for ${what}`);
  };
  expectThrow(() => bindActivation(gpu, k, "relu", 4, a, a), "in-place forward");
  expectThrow(() => bindActivation(gpu, k, "relu", 4, a, b), "short output");
  expectThrow(() => bindActivationBackward(gpu, k, "relu", 4, a, b, a), "dx aliasing y");
  expectThrow(
    () => bindActivationBackward(gpu, k, "relu", 4, b, a, a, true),
    "in-place accumulation",
  );
});

for (const act of ["relu", "tanh", "sigmoid"] as Activation[]) {
  Deno.test(`activationBackwardRef (${act}) matches finite differences`, () => {
    const n = 40;
    // Keep relu inputs away from its kink at 0, where the finite difference is meaningless.
    const x = randomArray(n, 31, -3, 3).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const proj = randomArray(n, 32);
    const y = new Float32Array(n);
    const loss = () => {
      const out = new Float32Array(n);
      activationRef(act, x, out);
      return dot(out, proj);
    };
    activationRef(act, x, y);
    const dx = new Float32Array(n);
    activationBackwardRef(act, y, proj, dx);
    assertClose(dx, finiteDiff(x, loss), { atol: 2e-3, rtol: 1e-2, label: `${act} dx` });
  });
}

Deno.test("the bit-level ReLU and its backward give the reference's numbers on finite values", () => {
  const x = new Float32Array(1000).map((
    _,
    i,
  ) => (i % 7 === 0 ? 0 : Math.sin(i * 1.7) * 10 ** (i % 5)));
  x[1] = -0;
  x[2] = -3e-45; // a negative subnormal
  x[3] = 3.4e38;
  const want = new Float32Array(x.length), y = x.slice();
  activationRef("relu", x, want);
  reluFast(y);
  assert.deepEqual(Array.from(y), Array.from(want).map((v) => v + 0)); // −0 becomes +0 too
  assert.ok(Object.is(y[1], 0), "−0 becomes +0");
  // Rows: only the first n columns of each row change.
  const rows = x.slice(0, 40), r2 = rows.slice();
  reluRowsFast(r2, 4, 10, 6);
  for (let i = 0; i < 40; i++) {
    const expected = i % 10 < 6 ? Math.max(rows[i], 0) : rows[i];
    assert.equal(r2[i] + 0, expected + 0, `row value ${i}`);
  }
  // Backward through y = ReLU output, out of place and in place, with an offset into y.
  const dy = new Float32Array(x.length).map((_, i) => Math.cos(i) * 3);
  const ref = new Float32Array(x.length), fast = new Float32Array(x.length);
  activationBackwardRef("relu", want, dy, ref);
  reluBackwardFast(want, dy, fast);
  assert.deepEqual(Array.from(fast).map((v) => v + 0), Array.from(ref).map((v) => v + 0));
  const inPlace = dy.slice(0, 500);
  reluBackwardFast(want, inPlace, inPlace, 500, 500);
  const refOff = new Float32Array(500);
  activationBackwardRef("relu", want.subarray(500), dy.subarray(0, 500), refOff);
  assert.deepEqual(Array.from(inPlace).map((v) => v + 0), Array.from(refOff).map((v) => v + 0));
});
