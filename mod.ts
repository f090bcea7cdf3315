/**
 * glimpse: Recurrent Attention Models trained with WGSL compute kernels on WebGPU,
 * explained glimpse by glimpse, with rewards from plugin modules.
 *
 * The library mirrors the command line: open a backend (`GpuRam` on WebGPU or `CpuRam`, the
 * composed CPU references), load a dataset, obtain a reward function, and train.
 *
 * @example
 * ```ts ignore
 * import { CpuRam, loadDataset, resolveRamConfig, resolveTrainConfig } from "./mod.ts";
 * import { Rng } from "./mod.ts";
 * const data = await loadDataset("mnist");
 * const ram = new CpuRam(resolveRamConfig({ glimpses: 4 }), 1);
 * const B = 16, rng = new Rng(1);
 * const images = new Float32Array(B * 28 * 28);
 * const indices = Array.from({ length: B }, (_, i) => i * 400);
 * data.train.fill(indices, 0, images);
 * const labels = Int32Array.from(indices, (i) => data.train.labels[i]);
 * const noise = {
 *   start: rng.fillUniform(new Float32Array(2 * B), -1, 1),
 *   policy: rng.fillNormal(new Float32Array(3 * B * 2)),
 * };
 * const reward = (e: { T: number; B: number }) => new Float32Array(e.T * e.B);
 * const result = await ram.trainStep({ size: B, images, labels }, reward, noise, resolveTrainConfig());
 * console.log(result.loss);
 * ```
 *
 * @module
 */
export * from "./gpu/mod.ts";
export * from "./ram/config.ts";
export type * from "./ram/backend.ts";
export { Rng } from "./util/rng.ts";
export * from "./ram/params.ts";
export { CpuRam } from "./ram/cpu.ts";
export { GpuRam } from "./ram/gpu.ts";
export * from "./run/checkpoint.ts";
export * from "./run/trainer.ts";
export * from "./run/evaluate.ts";
export * from "./probe/vae.ts";
export * from "./probe/vae_config.ts";
export * from "./run/load_run.ts";
export * from "./probe/train.ts";
export * from "./report/eig.ts";
export * from "./run/eig_table.ts";
export * from "./run/evaluate_eig.ts";
export * from "./run/eig_map.ts";
export * from "./report/explain.ts";
export * from "./report/figure.ts";
export * from "./report/recon_grid.ts";
export * from "./report/glimpse_overlay.ts";
export * from "./report/chart.ts";
export * from "./report/eig_compare.ts";
export * from "./report/eig_map_figure.ts";
export { toModelInput } from "./datasets/model_input.ts";
export * from "./rewards/mod.ts";
export * from "./datasets/mod.ts";
