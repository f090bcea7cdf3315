/**
 * CPU reference for kernels/reduce.wgsl: the reductions the metrics need (row sums and
 * means, the sum of a vector, squared error per row). GPU version: kernels/reduce.ts.
 * Sums are taken in float64 here; the GPU sums in f32 (each invocation a strided slice,
 * then a tree), so compare with a tolerance relative to Σ|x|.
 *
 * @module
 */

/** Where a reduction reads and writes, and how it scales. */
export interface ReduceOptions {
  /** Multiplies each sum (1/N gives a mean). Default 1. */
  scale?: number;
  /** Adds into the output instead of overwriting it. Default false. */
  accumulate?: boolean;
  /** First element read from the input. Default 0. */
  inOffset?: number;
  /** First element written in the output. Default 0. */
  outOffset?: number;
}

/** Options of {@link rowSqErrRef}. */
export interface SqErrOptions extends ReduceOptions {
  /** Row i of A is compared with row i % targetRows of the target. Default M. */
  targetRows?: number;
}

function store(out: Float32Array, i: number, v: number, o: ReduceOptions): void {
  const k = (o.outOffset ?? 0) + i;
  out[k] = (o.scale ?? 1) * v + (o.accumulate ? out[k] : 0);
}

/**
 * out[outOffset + i] (+)= scale·Σ_j X[inOffset + i·N + j] for a row-major (M, N) matrix.
 *
 * @example
 * ```ts
 * import { rowSumRef } from "./reduce_ref.ts";
 * const out = new Float32Array(2);
 * rowSumRef(2, 3, new Float32Array([1, 2, 3, 4, 5, 6]), out, { scale: 1 / 3 });
 * // out is [2, 5] (row means)
 * ```
 */
export function rowSumRef(
  M: number,
  N: number,
  X: Float32Array, // (M, N) from inOffset
  out: Float32Array, // (M) from outOffset
  o: ReduceOptions = {},
): void {
  const base = o.inOffset ?? 0;
  for (let i = 0; i < M; i++) {
    let s = 0;
    for (let j = 0; j < N; j++) s += X[base + i * N + j];
    store(out, i, s, o);
  }
}

/** out[outOffset] (+)= scale·Σ_{i<n} x[inOffset + i]: the sum (or, with scale 1/n, mean). */
export function sumRef(n: number, x: Float32Array, out: Float32Array, o: ReduceOptions = {}): void {
  rowSumRef(1, n, x, out, o);
}

/**
 * out[outOffset + i] (+)= scale·Σ_j (A[inOffset + i·N + j] − T[(i % targetRows)·N + j])²;
 * with scale 1/N it is the per-row mean squared error (reconstruction MSE).
 *
 * @example
 * ```ts
 * import { rowSqErrRef } from "./reduce_ref.ts";
 * const out = new Float32Array(1);
 * rowSqErrRef(1, 2, new Float32Array([1, 3]), new Float32Array([0, 1]), out, { scale: 0.5 });
 * // out[0] === 2.5
 * ```
 */
export function rowSqErrRef(
  M: number,
  N: number,
  A: Float32Array, // (M, N) from inOffset
  T: Float32Array, // (targetRows, N)
  out: Float32Array, // (M) from outOffset
  o: SqErrOptions = {},
): void {
  const base = o.inOffset ?? 0, tr = o.targetRows ?? M;
  for (let i = 0; i < M; i++) {
    let s = 0;
    for (let j = 0; j < N; j++) {
      const d = A[base + i * N + j] - T[(i % tr) * N + j];
      s += d * d;
    }
    store(out, i, s, o);
  }
}
