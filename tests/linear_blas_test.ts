/**
 * kernels/linear_blas.ts against kernels/linear_ref.ts (every activation, accumulation, null
 * bias, each backward output), and the VAE probe on BLAS products against the probe on the
 * references over training steps. Skipped, saying so, where no BLAS library opens.
 */
import assert from "node:assert/strict";
import { blasLinear, REF_LINEAR } from "../kernels/linear_blas.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { resolveVaeConfig } from "../probe/vae_params.ts";
import { loadBlas } from "../util/blas.ts";
import { assertClose, randomArray } from "./_assert.ts";

const blas = loadBlas();
const ignore = blas === null;
if (ignore) console.log("linear_blas_test: skipped, no BLAS library opens");

Deno.test({
  name: "blas linear forward and backward match the references",
  ignore,
  fn: () => {
    const ops = blasLinear(blas!.sgemm);
    const s = { batch: 6, inF: 5, outF: 4 };
    const x = randomArray(30, 1), W = randomArray(20, 2), b = randomArray(4, 3);
    const acts: Activation[] = ["none", "relu", "tanh", "sigmoid"];
    for (const act of acts) {
      for (const acc of [false, true]) {
        for (const bias of [b, null]) {
          const y0 = randomArray(24, 4), y1 = y0.slice();
          REF_LINEAR.forward(s, x, W, bias, y0, act, acc);
          ops.forward(s, x, W, bias, y1, act, acc);
          assertClose(y1, y0, {
            atol: 1e-6,
            rtol: 1e-5,
            label: `${act} acc ${acc} bias ${!!bias}`,
          });
        }
      }
    }
    const dy = randomArray(24, 5);
    for (const acc of [false, true]) {
      const [dx0, dW0, db0] = [randomArray(30, 6), randomArray(20, 7), randomArray(4, 8)];
      const [dx1, dW1, db1] = [dx0.slice(), dW0.slice(), db0.slice()];
      REF_LINEAR.backward(s, x, W, dy, dx0, dW0, db0, acc);
      ops.backward(s, x, W, dy, dx1, dW1, db1, acc);
      assertClose(dx1, dx0, { atol: 1e-6, rtol: 1e-5, label: `dx acc ${acc}` });
      assertClose(dW1, dW0, { atol: 1e-6, rtol: 1e-5, label: "dW (accumulated)" });
      assertClose(db1, db0, { atol: 1e-6, rtol: 1e-5, label: "db (accumulated)" });
    }
  },
});

Deno.test({
  name: "the VAE probe on BLAS products trains as the probe on the references",
  ignore,
  fn: async () => {
    const cfg = resolveVaeConfig({ input: 16, hidden: 12, latent: 3, pixels: 20, lr: 1e-2 });
    const ref = new CpuVae(cfg, 4), fast = new CpuVae(cfg, 4, blasLinear(blas!.sgemm));
    const R = 10, B = 5;
    for (let k = 0; k < 3; k++) {
      const h = randomArray(R * 16, 10 + k), clean = randomArray(B * 20, 20 + k, 0, 1);
      const eps = randomArray(R * 3, 30 + k);
      const a = await ref.trainStep(h, clean, eps), b = await fast.trainStep(h, clean, eps);
      assertClose([b.loss, b.bce, b.kl], [a.loss, a.bce, a.kl], {
        atol: 1e-5,
        rtol: 1e-4,
        label: `step ${k}`,
      });
    }
    const [sa, sb] = [await ref.getState(), await fast.getState()];
    assert.equal(sb.step, sa.step);
    for (const [name, t] of sa.params) {
      assertClose(sb.params.get(name)!.data, t.data, { atol: 1e-5, rtol: 1e-3, label: name });
    }
    const h = randomArray(R * 16, 99);
    assertClose(await fast.reconstruct(h), await ref.reconstruct(h), {
      atol: 1e-5,
      rtol: 1e-3,
      label: "reconstruct",
    });
  },
});

Deno.test({
  name: "sgemm refuses operands that do not fit their arrays, before BLAS touches memory",
  ignore,
  fn: () => {
    const sgemm = blas!.sgemm;
    const A = new Float32Array(6), B = new Float32Array(6), C = new Float32Array(4);
    sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2); // (2×3)·(3×2) fits
    const before = C.slice();
    assert.throws(() => sgemm(false, false, 2, 3, 3, 1, A, 3, B, 3, 0, C, 3), /sgemm: B \(3×3/);
    assert.throws(() => sgemm(false, false, 3, 2, 3, 1, A, 3, B, 2, 0, C, 2), /sgemm: A \(3×3/);
    assert.throws(
      () => sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 1),
      /leading dimension 1/,
    );
    assert.throws(() => sgemm(true, false, 2, 2, 4, 1, A, 2, B, 2, 0, C, 2), /sgemm: A \(4×2/);
    assert.deepEqual(C, before, "a refused product wrote nothing");
  },
});
