/**
 * GPU wrapper for kernels/reduce.wgsl: row sums and means of an (M, N) matrix, the sum or
 * mean of a vector into one value, and squared error per row (reconstruction MSE).
 * CPU reference: kernels/reduce_ref.ts.
 *
 * Offsets let one metrics tensor collect many results (e.g. one slot per glimpse) so a step
 * reads everything back at once; `accumulate` sums over steps on the device.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { defaultRowStrategy, rowGrid, type RowStrategy } from "./_grid.ts";
import type { ReduceOptions, SqErrOptions } from "./reduce_ref.ts";
import reduceWgsl from "./reduce.wgsl" with { type: "text" };

export type { ReduceOptions, SqErrOptions } from "./reduce_ref.ts";
export type { RowStrategy } from "./_grid.ts";

/** Invocations per workgroup for row reductions (rows or columns of a row, by strategy). */
const ROW_WG = 64;
/** Invocations of the single workgroup that sums a whole vector. */
const SUM_WG = 256;

/** The compiled reduction kernels. */
export interface ReduceKernels {
  /** How rowSum and rowSqErr spread rows over the device. */
  strategy: RowStrategy;
  rowSum: Kernel;
  sum: Kernel;
  rowSqErr: Kernel;
}

/**
 * Compiles the reduction kernels (once per device; bind them many times). The row strategy
 * defaults to the one measured faster on this kind of adapter; tests pass both.
 */
export async function reduceKernels(
  gpu: Gpu,
  strategy: RowStrategy = defaultRowStrategy(gpu),
): Promise<ReduceKernels> {
  const suffix = strategy === "workgroup" ? "wg" : "thread";
  return {
    strategy,
    rowSum: await compileKernel(gpu, {
      name: `row sum (${strategy})`,
      code: reduceWgsl,
      entryPoint: `row_sum_${suffix}`,
      storage: ["read", "read_write"],
      constants: { WG: ROW_WG },
    }),
    sum: await compileKernel(gpu, {
      name: "sum",
      code: reduceWgsl,
      entryPoint: "row_sum_wg",
      storage: ["read", "read_write"],
      constants: { WG: SUM_WG },
    }),
    rowSqErr: await compileKernel(gpu, {
      name: `row squared error (${strategy})`,
      code: reduceWgsl,
      entryPoint: `row_sqerr_${suffix}`,
      storage: ["read", "read", "read_write"],
      constants: { WG: ROW_WG },
    }),
  };
}

function need(what: string, t: Tensor, size: number): void {
  if (t.size < size) {
    throw new Error(`kernels/reduce.ts: ${what} ${t.label} [${t.shape}] holds fewer than ${size}`);
  }
}

function bind(
  gpu: Gpu,
  kernel: Kernel,
  M: number,
  N: number,
  buffers: Tensor[],
  o: SqErrOptions,
  grid: [number, number],
): Dispatch {
  if (!Number.isInteger(M) || !Number.isInteger(N) || M < 1 || N < 0) {
    throw new Error(`kernels/reduce.ts: bad ${kernel.name} size ${M}×${N}`);
  }
  const words = packUniforms({
    M,
    N,
    in_off: o.inOffset ?? 0,
    out_off: o.outOffset ?? 0,
    target_rows: o.targetRows ?? M,
    accumulate: o.accumulate ? 1 : 0,
    scale: o.scale ?? 1,
  }, ["scale"]);
  return new Dispatch(gpu, kernel, buffers, words, grid);
}

/**
 * Binds out[outOffset + i] (+)= scale·Σ_j X[inOffset + i·N + j] over a row-major (M, N)
 * matrix (one workgroup or one invocation per row, by `k.strategy`). Reads M·N floats,
 * writes M.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { bindRowSum, reduceKernels } from "./reduce.ts";
 * const gpu = await sharedGpu();
 * const X = tensor(gpu, [2, 3], "X", [1, 2, 3, 4, 5, 6]), out = tensor(gpu, [2], "out");
 * run(gpu, [bindRowSum(gpu, await reduceKernels(gpu), 2, 3, X, out, { scale: 1 / 3 })]);
 * console.log(await read(gpu, out)); // row means [2, 5]
 * ```
 */
export function bindRowSum(
  gpu: Gpu,
  k: ReduceKernels,
  M: number,
  N: number,
  X: Tensor, // (M, N) from inOffset
  out: Tensor, // (M) from outOffset
  o: ReduceOptions = {},
): Dispatch {
  need("X", X, (o.inOffset ?? 0) + M * N);
  need("out", out, (o.outOffset ?? 0) + M);
  return bind(gpu, k.rowSum, M, N, [X, out], o, rowGrid(M, ROW_WG, k.strategy));
}

/** Binds row means: {@link bindRowSum} with scale (o.scale ?? 1)/N. */
export function bindRowMean(
  gpu: Gpu,
  k: ReduceKernels,
  M: number,
  N: number,
  X: Tensor,
  out: Tensor,
  o: ReduceOptions = {},
): Dispatch {
  return bindRowSum(gpu, k, M, N, X, out, { ...o, scale: (o.scale ?? 1) / Math.max(1, N) });
}

/**
 * Binds out[outOffset] (+)= scale·Σ_{i<n} x[inOffset + i] (scale 1/n: the mean) with one
 * workgroup of 256 invocations looping over the vector: no second pass and no atomics.
 */
export function bindSum(
  gpu: Gpu,
  k: ReduceKernels,
  n: number,
  x: Tensor, // (n) from inOffset
  out: Tensor, // one value at outOffset
  o: ReduceOptions = {},
): Dispatch {
  need("x", x, (o.inOffset ?? 0) + n);
  need("out", out, (o.outOffset ?? 0) + 1);
  return bind(gpu, k.sum, 1, n, [x, out], o, [1, 1]);
}

/**
 * Binds out[outOffset + i] (+)= scale·Σ_j (A[inOffset + i·N + j] − T[(i % targetRows)·N + j])²;
 * scale 1/N gives the per-row MSE. `targetRows` (default M) lets T·B reconstructions share
 * B targets. Reads 2·M·N floats, writes M.
 */
export function bindRowSqErr(
  gpu: Gpu,
  k: ReduceKernels,
  M: number,
  N: number,
  A: Tensor, // (M, N) from inOffset
  T: Tensor, // (targetRows, N)
  out: Tensor, // (M) from outOffset
  o: SqErrOptions = {},
): Dispatch {
  const tr = o.targetRows ?? M;
  if (!Number.isInteger(tr) || tr < 1) {
    throw new Error(`kernels/reduce.ts: targetRows must be a positive integer, got ${tr}`);
  }
  need("A", A, (o.inOffset ?? 0) + M * N);
  need("T", T, tr * N);
  need("out", out, (o.outOffset ?? 0) + M);
  return bind(gpu, k.rowSqErr, M, N, [A, T, out], o, rowGrid(M, ROW_WG, k.strategy));
}
