/**
 * glimpse: Recurrent Attention Models trained with WGSL compute kernels on WebGPU,
 * explained glimpse by glimpse, with rewards from plugin modules.
 *
 * @example
 * ```ts
 * import { requestGpu } from "./mod.ts";
 * const gpu = await requestGpu();
 * console.log(gpu.description);
 * gpu.destroy();
 * ```
 *
 * @module
 */
export * from "./gpu/mod.ts";
export * from "./kernels/matmul_ref.ts";
export * from "./kernels/linear_ref.ts";
export * from "./kernels/linear.ts";
