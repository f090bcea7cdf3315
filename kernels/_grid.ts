/**
 * Workgroup grids for element-wise kernels that index with
 * `gid.y · (num_workgroups.x · WG) + gid.x` and bounds-check against their item count.
 *
 * @module
 */

/** Most workgroups a dispatch may have in one dimension (WebGPU's default limit). */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * Workgroup counts covering `n` items at `wg` items per workgroup: one dimension while it
 * fits, else a second dimension (the kernel drops the overhang).
 */
export function elementGrid(n: number, wg: number): [number, number] {
  const total = Math.max(1, Math.ceil(n / wg));
  if (total <= MAX_GROUPS_PER_DIM) return [total, 1];
  const y = Math.ceil(total / MAX_GROUPS_PER_DIM);
  if (y > MAX_GROUPS_PER_DIM) throw new Error(`kernels/_grid.ts: ${n} items exceed one dispatch`);
  return [Math.ceil(total / y), y];
}

/**
 * How a kernel that reduces rows spreads them: `"workgroup"`, one workgroup per row with a
 * tree in workgroup memory (coalesced, for real GPUs), or `"invocation"`, one invocation per
 * row with no barriers (several times faster on software adapters, where barriers are slow).
 */
export type RowStrategy = "workgroup" | "invocation";

/** The strategy that measured faster on this kind of adapter (bench/vae_bench.ts). */
export function defaultRowStrategy(gpu: { readonly isSoftware: boolean }): RowStrategy {
  return gpu.isSoftware ? "invocation" : "workgroup";
}

/** Workgroup counts for `rows` rows under `strategy` with `wg` invocations per workgroup. */
export function rowGrid(rows: number, wg: number, strategy: RowStrategy): [number, number] {
  return strategy === "workgroup"
    ? [Math.max(1, Math.min(rows, MAX_GROUPS_PER_DIM)), 1]
    : elementGrid(rows, wg);
}
