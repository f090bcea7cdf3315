import assert from "node:assert/strict";
import {
  argmaxRef,
  entropyRef,
  logSoftmaxRef,
  nllBackwardRef,
  nllRef,
} from "../kernels/softmax_ref.ts";
import {
  bindArgmax,
  bindEntropy,
  bindLogSoftmax,
  bindNllBackward,
  softmaxKernels,
} from "../kernels/softmax.ts";
import { run } from "../gpu/kernel.ts";
import { logSoftmaxNllBackward } from "../probe/cls_cpu.ts";
import { read, tensor } from "../gpu/tensor.ts";
import { assertClose, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const SHAPES: [number, number][] = [[1, 10], [5, 3], [130, 10], [130, 3], [1, 2]];

/** Logits with moderate rows, then (when there is room) rows of ±1e4, ties and one-hot spikes. */
function logitsFor(B: number, C: number, seed: number): Float32Array {
  const x = randomArray(B * C, seed, -5, 5);
  const special = (row: number, f: (c: number) => number) => {
    if (row < B) { for (let c = 0; c < C; c++) x[row * C + c] = f(c); }
  };
  special(1, (c) => (c % 2 === 0 ? 1e4 : -1e4)); // huge, of both signs
  special(2, () => 1e4); // all equal and huge: uniform
  special(3, (c) => (c === C - 1 ? 1e4 : 0)); // one-hot spike: p = 1 and exp underflow
  special(4, (c) => (c === 0 ? -1e4 : 3)); // one hugely negative entry
  return x;
}

function labelsFor(B: number, C: number, seed: number): Int32Array {
  return Int32Array.from(randomArray(B, seed, 0, C), (v) => Math.min(C - 1, Math.floor(v)));
}

function finite(values: Float32Array, what: string): void {
  const i = values.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new Error(`${what}: non-finite value ${values[i]} at [${i}]`);
}

gpuTest("log-softmax matches the CPU reference, also for logits of ±1e4", async (gpu) => {
  const k = await softmaxKernels(gpu);
  for (const [B, C] of SHAPES) {
    const x = logitsFor(B, C, B * C);
    const want = new Float32Array(B * C);
    logSoftmaxRef(B, C, x, want);
    const logp = tensor(gpu, [B, C], "logp");
    run(gpu, [bindLogSoftmax(gpu, k, B, C, tensor(gpu, [B, C], "logits", x), logp)]);
    const got = await read(gpu, logp);
    finite(got, `log-softmax B=${B} C=${C}`);
    assertClose(got, want, { atol: 1e-5, rtol: 1e-6, label: `log-softmax B=${B} C=${C}` });
  }
});

gpuTest("entropy matches the CPU reference, from one-hot to uniform rows", async (gpu) => {
  const k = await softmaxKernels(gpu);
  for (const [B, C] of SHAPES) {
    const logp = new Float32Array(B * C);
    logSoftmaxRef(B, C, logitsFor(B, C, 3 * B + C), logp);
    const want = new Float32Array(B);
    entropyRef(B, C, logp, want);
    const H = tensor(gpu, [B], "H");
    run(gpu, [bindEntropy(gpu, k, B, C, tensor(gpu, [B, C], "logp", logp), H)]);
    const got = await read(gpu, H);
    finite(got, `entropy B=${B} C=${C}`);
    assertClose(got, want, { atol: 2e-6, rtol: 1e-5, label: `entropy B=${B} C=${C}` });
    // Rows 2 (uniform) and 3 (one-hot) have known entropies.
    if (B > 3) {
      assertClose([got[2], got[3]], [Math.log(C), 0], { atol: 2e-6, label: "known entropies" });
    }
  }
});

gpuTest("NLL backward matches the CPU reference, with scale and accumulation", async (gpu) => {
  const k = await softmaxKernels(gpu);
  for (const [B, C] of SHAPES) {
    const x = logitsFor(B, C, 7 * B + C);
    const labels = labelsFor(B, C, B + 11 * C);
    const logp = new Float32Array(B * C);
    logSoftmaxRef(B, C, x, logp);
    const d0 = randomArray(B * C, 5);
    for (const [scale, accumulate] of [[1, false], [0.37, true]] as const) {
      const want = new Float32Array(B * C);
      nllBackwardRef(B, C, logp, labels, want, scale);
      if (accumulate) { for (let i = 0; i < want.length; i++) want[i] += d0[i]; }
      // log-softmax and NLL backward recorded in one pass, as a model would.
      const gLogp = tensor(gpu, [B, C], "logp"), d = tensor(gpu, [B, C], "dlogits", d0);
      run(gpu, [
        bindLogSoftmax(gpu, k, B, C, tensor(gpu, [B, C], "logits", x), gLogp),
        bindNllBackward(gpu, k, B, C, gLogp, tensor(gpu, [B], "labels", labels), d, {
          scale,
          accumulate,
        }),
      ]);
      const got = await read(gpu, d);
      finite(got, "dlogits");
      assertClose(got, want, {
        atol: 1e-6,
        rtol: 1e-5,
        label: `dlogits B=${B} C=${C} scale=${scale} accumulate=${accumulate}`,
      });
    }
  }
});

gpuTest("argmax matches the CPU reference and takes the first index on ties", async (gpu) => {
  const k = await softmaxKernels(gpu);
  for (const [B, C] of SHAPES) {
    const x = logitsFor(B, C, 13 * B + C);
    const want = new Int32Array(B);
    argmaxRef(B, C, x, want);
    const pred = tensor(gpu, [B], "pred");
    run(gpu, [bindArgmax(gpu, k, B, C, tensor(gpu, [B, C], "x", x), pred)]);
    assertClose(await read(gpu, pred), want, { atol: 0, rtol: 0, label: `argmax B=${B} C=${C}` });
    if (B > 3) assertClose([want[2], want[3]], [0, C - 1], { atol: 0, label: "ties and spike" });
  }
});

gpuTest("softmax binders reject aliased outputs and short tensors", async (gpu) => {
  const k = await softmaxKernels(gpu);
  const a = tensor(gpu, [4, 10], "a"), short = tensor(gpu, [3], "short");
  for (
    const [what, f] of [
      ["in-place log-softmax", () => bindLogSoftmax(gpu, k, 4, 10, a, a)],
      ["short labels", () => bindNllBackward(gpu, k, 4, 10, a, short, tensor(gpu, [40], "d"))],
      ["short entropy", () => bindEntropy(gpu, k, 4, 10, a, short)],
    ] as const
  ) {
    let threw = false;
    try {
      f();
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`expected an error for ${what}`);
  }
});

Deno.test("nllBackwardRef matches finite differences of nllRef through logSoftmaxRef", () => {
  for (const [B, C] of [[1, 10], [5, 3], [4, 10]]) {
    const x = randomArray(B * C, 17 * B + C, -3, 3);
    const labels = labelsFor(B, C, B * C + 1);
    const scale = 0.7;
    const logp = new Float32Array(B * C);
    const loss = () => {
      logSoftmaxRef(B, C, x, logp);
      return scale * nllRef(B, C, logp, labels);
    };
    loss();
    const d = new Float32Array(B * C);
    nllBackwardRef(B, C, logp, labels, d, scale);
    assertClose(d, finiteDiff(x, loss), { atol: 5e-4, rtol: 1e-2, label: `B=${B} C=${C}` });
  }
});

Deno.test("nllBackwardRef with fewer labels than rows repeats them: row r reads labels[r % B]", () => {
  const T = 3, B = 4, C = 5, R = T * B;
  const logp = new Float32Array(R * C);
  logSoftmaxRef(R, C, randomArray(R * C, 9, -2, 2), logp);
  const labels = labelsFor(B, C, 11);
  const rowLabels = Int32Array.from({ length: R }, (_, r) => labels[r % B]);
  const [got, want] = [new Float32Array(R * C), new Float32Array(R * C)];
  nllBackwardRef(R, C, logp, labels, got);
  nllBackwardRef(R, C, logp, rowLabels, want);
  assert.deepEqual(got, want);
});

Deno.test("logSoftmaxNllBackward agrees with logSoftmaxRef then nllBackwardRef, labels repeating", () => {
  for (const [B, C] of SHAPES) {
    for (const repeat of [1, 3]) {
      const R = B * repeat, x = logitsFor(R, C, 5 + B);
      const labels = labelsFor(B, C, 7);
      const [logp, d] = [new Float32Array(R * C), new Float32Array(R * C)];
      const [wantLogp, wantD] = [new Float32Array(R * C), new Float32Array(R * C)];
      logSoftmaxNllBackward(R, C, x, labels, logp, d);
      logSoftmaxRef(R, C, x, wantLogp);
      nllBackwardRef(R, C, wantLogp, labels, wantD);
      const label = `B=${B} C=${C} ×${repeat}`;
      assertClose(logp, wantLogp, { atol: 1e-6, rtol: 1e-6, label });
      assertClose(d, wantD, { atol: 1e-7, rtol: 1e-5, label });
    }
  }
});

Deno.test("entropyRef and logSoftmaxRef agree with direct formulas", () => {
  const x = Float32Array.from([1, 2, 3]);
  const logp = new Float32Array(3), H = new Float32Array(1);
  logSoftmaxRef(1, 3, x, logp);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  const p = [1, 2, 3].map((v) => Math.exp(v) / z);
  assertClose(logp, p.map(Math.log), { atol: 1e-6, label: "logp" });
  entropyRef(1, 3, logp, H);
  assertClose(H, [-p.reduce((s, q) => s + q * Math.log(q), 0)], { atol: 1e-6, label: "H" });
});
