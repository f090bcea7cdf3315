import {
  bindRowMean,
  bindRowSqErr,
  bindRowSum,
  bindSum,
  reduceKernels,
} from "../kernels/reduce.ts";
import { rowSqErrRef, rowSumRef, sumRef } from "../kernels/reduce_ref.ts";
import { run } from "../gpu/kernel.ts";
import { Readback, tensor } from "../gpu/tensor.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";
import { elementGrid, rowGrid } from "../kernels/_grid.ts";

/**
 * Compares GPU and CPU sums relative to the size of what was summed: f32 rounding in a sum
 * scales with Σ|x|, not with the (possibly cancelling) result. `mag[i]` is 1 + |scale|·Σ|x|.
 */
function assertSums(
  got: Float32Array,
  want: Float32Array,
  mag: Float32Array,
  label: string,
  rel = 2e-6,
): void {
  assertClose(got.map((v, i) => v / mag[i]), want.map((v, i) => v / mag[i]), {
    atol: rel,
    rtol: 0,
    label,
  });
}

/** Values spread over several decades, with exact zeros and ±1e6 outliers. */
function spread(n: number, seed: number): Float32Array {
  const x = randomArray(n, seed);
  const e = randomArray(n, seed + 1000, -3, 3);
  return x.map((v, i) => (i % 97 === 5 ? Math.sign(v) * 1e6 : i % 11 === 3 ? 0 : v * 10 ** e[i]));
}

const rowShapes: [number, number][] = [[1, 1], [1, 7], [5, 784], [130, 37], [128, 784], [3, 0]];

for (const strategy of ["workgroup", "invocation"] as const) {
  gpuTest(
    `row sums, means and squared errors match the CPU reference (${strategy} per row)`,
    async (gpu) => {
      const k = await reduceKernels(gpu, strategy);
      let seed = 1;
      for (const [M, N] of rowShapes) {
        const X = spread(M * N, seed++), T = spread(M * N, seed++);
        const sum = new Float32Array(M), mean = new Float32Array(M), sq = new Float32Array(M);
        rowSumRef(M, N, X, sum);
        rowSumRef(M, N, X, mean, { scale: 1 / Math.max(1, N) });
        rowSqErrRef(M, N, X, T, sq, { scale: 1 / Math.max(1, N) });
        const magSum = new Float32Array(M),
          magMean = new Float32Array(M),
          magSq = new Float32Array(M);
        rowSumRef(M, N, X.map(Math.abs), magSum);
        rowSumRef(M, N, X.map(Math.abs), magMean, { scale: 1 / Math.max(1, N) });
        rowSqErrRef(M, N, X.map(Math.abs), T.map((v) => -Math.abs(v)), magSq, {
          scale: 1 / Math.max(1, N),
        });

        // (An empty upload panics Deno 2.9.6's writeBuffer, so N = 0 uploads nothing.)
        const gX = tensor(gpu, [M, N], "X", N > 0 ? X : undefined);
        const gT = tensor(gpu, [M, N], "T", N > 0 ? T : undefined);
        const gSum = tensor(gpu, [M], "sum", randomArray(M, 5));
        const gMean = tensor(gpu, [M], "mean"), gSq = tensor(gpu, [M], "sq");
        run(gpu, [
          bindRowSum(gpu, k, M, N, gX, gSum),
          bindRowMean(gpu, k, M, N, gX, gMean),
          bindRowSqErr(gpu, k, M, N, gX, gT, gSq, { scale: 1 / Math.max(1, N) }),
        ]);
        const rb = new Readback(gpu);
        const [gotSum, gotMean, gotSq] = await rb.read([gSum, gMean, gSq]);
        rb.destroy();
        const tag = `${M}×${N}`;
        const one = (m: Float32Array) => m.map((v) => 1 + v);
        assertSums(gotSum, sum, one(magSum), `row sum ${tag}`);
        assertSums(gotMean, mean, one(magMean), `row mean ${tag}`);
        // Squares of 1e6 outliers reach 1e12: compare to their size as well.
        assertSums(gotSq, sq, one(magSq), `row squared error ${tag}`);
      }
    },
  );
}

gpuTest("sum of a vector into one value matches the CPU reference", async (gpu) => {
  const k = await reduceKernels(gpu);
  let seed = 11;
  for (const n of [1, 2, 255, 256, 257, 784, 100003]) {
    const x = spread(n, seed++);
    const want = new Float32Array(1), mag = new Float32Array(1);
    sumRef(n, x, want, { scale: 1 / n });
    sumRef(n, x.map(Math.abs), mag, { scale: 1 / n });
    const out = tensor(gpu, [1], "mean");
    run(gpu, [bindSum(gpu, k, n, tensor(gpu, [n], "x", x), out, { scale: 1 / n })]);
    const got = await new Readback(gpu).read([out]);
    // Each of the 256 invocations sums n/256 values in f32 before the tree: allow for it.
    assertSums(
      got[0],
      want,
      mag.map((v) => 1 + v),
      `mean of ${n}`,
      1e-6 * Math.ceil(n / 256) + 2e-6,
    );
  }
});

for (const strategy of ["workgroup", "invocation"] as const) {
  gpuTest(
    `reductions honour offsets, accumulation and shared targets (${strategy} per row)`,
    async (gpu) => {
      const k = await reduceKernels(gpu, strategy);
      // 3 glimpses × 5 samples of 13 pixels; targets are the 5 clean images.
      const G = 3, B = 5, N = 13, M = G * B;
      const recon = randomArray(M * N + 7, 21, 0, 1), target = randomArray(B * N, 22, 0, 1);
      const metrics0 = randomArray(40, 23);
      const want = metrics0.slice();
      // Per-glimpse mean over samples of the per-row MSE, accumulated into slots 30..32.
      const mse = new Float32Array(M);
      rowSqErrRef(M, N, recon, target, mse, { scale: 1 / N, inOffset: 7, targetRows: B });
      for (let g = 0; g < G; g++) {
        sumRef(B, mse, want, {
          inOffset: g * B,
          outOffset: 30 + g,
          scale: 1 / B,
          accumulate: true,
        });
      }
      // Row sums of the same matrix written at slots 10..24.
      rowSumRef(M, N, recon, want, { inOffset: 7, outOffset: 10 });

      const gRecon = tensor(gpu, [M * N + 7], "recon", recon);
      const gTarget = tensor(gpu, [B, N], "target", target);
      const gMse = tensor(gpu, [M], "mse"), gMetrics = tensor(gpu, [40], "metrics", metrics0);
      run(gpu, [
        bindRowSqErr(gpu, k, M, N, gRecon, gTarget, gMse, {
          scale: 1 / N,
          inOffset: 7,
          targetRows: B,
        }),
        ...Array.from({ length: G }, (_, g) =>
          bindSum(gpu, k, B, gMse, gMetrics, {
            inOffset: g * B,
            outOffset: 30 + g,
            scale: 1 / B,
            accumulate: true,
          })),
        bindRowSum(gpu, k, M, N, gRecon, gMetrics, { inOffset: 7, outOffset: 10 }),
      ]);
      const rb = new Readback(gpu);
      const [gotMse, got] = await rb.read([gMse, gMetrics]);
      rb.destroy();
      assertClose(gotMse, mse, { atol: 1e-6, rtol: 1e-5, label: "per-row MSE" });
      assertClose(got, want, { atol: 1e-5, rtol: 1e-5, label: "metrics slots" });
    },
  );

  gpuTest(`row sums cover more than 65535 rows (${strategy} per row)`, async (gpu) => {
    const k = await reduceKernels(gpu, strategy);
    const M = 65600, N = 3;
    const X = randomArray(M * N, 31);
    const want = new Float32Array(M);
    rowSumRef(M, N, X, want);
    const out = tensor(gpu, [M], "out");
    run(gpu, [bindRowSum(gpu, k, M, N, tensor(gpu, [M, N], "X", X), out)]);
    const got = await new Readback(gpu).read([out]);
    assertClose(got[0], want, { atol: 1e-6, rtol: 1e-5, label: "row sums" });
  });
}

Deno.test("reduction references: means, MSE and accumulation by hand", () => {
  const out = new Float32Array([0, 0, 10]);
  rowSumRef(2, 3, new Float32Array([1, 2, 3, 4, 5, 6]), out, { scale: 1 / 3 });
  sumRef(3, new Float32Array([1, 2, 3]), out, { outOffset: 2, accumulate: true });
  assertClose(out, [2, 5, 16], { label: "means and accumulated sum" });
  const mse = new Float32Array(2);
  rowSqErrRef(2, 2, new Float32Array([1, 3, 0, 0]), new Float32Array([0, 1]), mse, {
    scale: 0.5,
    targetRows: 1,
  });
  assertClose(mse, [2.5, 0.5], { label: "mse" });
});

Deno.test("element grids switch to two dimensions past 65535 workgroups", () => {
  assertClose(elementGrid(1, 64), [1, 1], { label: "one item" });
  assertClose(elementGrid(65535 * 64, 64), [65535, 1], { label: "exactly full" });
  const [x, y] = elementGrid(65535 * 64 + 1, 64);
  if (y !== 2 || x * y * 64 < 65535 * 64 + 1 || x > 65535) throw new Error(`bad grid ${x}×${y}`);
  assertClose(rowGrid(70000, 64, "workgroup"), [65535, 1], { label: "rows by workgroup" });
  assertClose(rowGrid(70000, 64, "invocation"), [1094, 1], { label: "rows by invocation" });
});
