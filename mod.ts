/**
 * glimpse: Recurrent Attention Models trained with WGSL compute kernels on WebGPU (or on the
 * CPU), explained glimpse by glimpse, with rewards from plugin modules.
 *
 * Open a saved run, read an image, explain it, and compute the EIG table of a split:
 *
 * ```ts
 * import { eigMarkdown, evaluateEig, explainInput, loadDataset, loadRun, readGreyImage, toModelInput } from "./mod.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * const image = await readGreyImage("examples/seven.png");
 * const { input } = toModelInput(image, run.config.model.height, run.config.model.width, true);
 * const e = await explainInput(run.ram, run.vae, input);
 * console.log(e.prediction, e.glimpses.map((g) => [g.x, g.y, g.infoGain]));
 * const data = await loadDataset("mnist-10k");
 * console.log(eigMarkdown(await evaluateEig(run.ram, run.vae, data.test, { limit: 64 })));
 * run.close();
 * ```
 *
 * Train a RAM with a reward of your own (here on 64 images for one epoch):
 *
 * ```ts
 * import { bindReward, CpuRam, defineReward, limitSplit, loadDataset, resolveRunConfig, train } from "./mod.ts";
 * const reward = defineReward({
 *   name: "last-right", description: "1 when the last glimpse's prediction is right",
 *   reward: ({ T, B, labels, predictions }) =>
 *     Float32Array.from({ length: T * B }, (_, i) =>
 *       i >= (T - 1) * B && predictions[i] === labels[i % B] ? 1 : 0),
 * });
 * const config = resolveRunConfig({ dataset: "mnist-10k", limit: 64, validation: 0, plateau: 0,
 *   reward: { spec: "last-right", name: "last-right", options: {} },
 *   model: { glimpses: 2 }, train: { epochs: 1, batch: 32 } });
 * const data = await loadDataset("mnist-10k");
 * const out = await Deno.makeTempDir();
 * const result = await train({ backend: new CpuRam(config.model, 1), config, out,
 *   data: { train: limitSplit(data.train, 64) },
 *   reward: bindReward(reward, {}) });
 * console.log(result.step, result.metrics.at(-1)?.nll);
 * ```
 *
 * {@link prepareRun} sets a run up the way `glimpse train` does instead: a locked run folder,
 * the reward plugin sandboxed, the data checked against the model, probes, and resume.
 *
 * @module
 */

// Open a saved run and explain what it saw.
export { type LoadedRun, loadRun, type LoadRunOptions, openRun } from "./run/load_run.ts";
export {
  type BackendName,
  defaultCpuLanes,
  openBackend,
  openCpuRam,
  type OpenedBackend,
  type OpenedCpu,
} from "./run/backend.ts";
export { BACKEND_CHOICES, type BackendChoice, type BackendDecision } from "./ram/choose_backend.ts";
export type { GpuRamOptions } from "./ram/gpu.ts";
export { type GreyImage, readGreyImage } from "./datasets/image.ts";
export { type ModelInput, toModelInput } from "./datasets/model_input.ts";
export {
  explainInput,
  type Explanation,
  explanationFigures,
  explanationText,
  type GlimpseExplanation,
} from "./report/explain.ts";
export { type EigMap, type EigMapOptions, eigMaps } from "./run/eig_map.ts";
export { type Figure, figurePng, writeFigurePng } from "./report/figure.ts";

// Evaluate: test error, accuracy per glimpse, the EIG table.
export {
  type EvalStart,
  evaluate,
  type EvaluateOptions,
  type EvaluationResult,
} from "./run/evaluate.ts";
export { type EigEvalOptions, evaluateEig } from "./run/evaluate_eig.ts";
export type { EigRow, EigTable } from "./run/eig_table.ts";
export { eigCsv, eigJson, eigMarkdown } from "./report/eig.ts";

// Train: configs, backends, the trainer, the probe, checkpoints.
// prepareRun sets a run folder up the way `glimpse train` does (lock, reward, data, backend,
// probes, resume); train() then trains what it prepared.
export {
  type PreparedRun,
  prepareRun,
  RunOptionError,
  type RunOptions,
} from "./run/prepare_run.ts";
export { resolveRunConfig, type RunConfig } from "./run/run_config.ts";
export {
  type RamConfig,
  resolveRamConfig,
  resolveTrainConfig,
  type Schedule,
  type TrainConfig,
} from "./ram/config.ts";
export type { Batch, RamBackend, Rollout, RolloutOptions } from "./ram/backend.ts";
export { CpuRam } from "./ram/cpu.ts";
export { GpuRam } from "./ram/gpu.ts";
export { type Gpu, requestGpu } from "./gpu/device.ts";
export {
  type EpochMetrics,
  limitSplit,
  train,
  type TrainData,
  type TrainerOptions,
  type TrainResult,
} from "./run/trainer.ts";
export { createVae, type Vae } from "./probe/vae.ts";
export { type ProbeEpoch, trainProbe, type TrainProbeOptions } from "./probe/train.ts";
export {
  type Checkpoint,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
  type SaveOptions,
} from "./run/checkpoint.ts";
export type { CommitHook } from "./run/checkpoint_commit.ts";
export { decodeSafetensors, encodeSafetensors } from "./util/safetensors.ts";

// Data and rewards.
export type { Dataset, Split } from "./datasets/types.ts";
export { type DatasetOptions, loadDataset, type LoadedDataset } from "./datasets/load.ts";
export { defineReward, type RewardDefinition } from "./rewards/define.ts";
export type { Episodes, RewardFn } from "./rewards/types.ts";
export { bindReward } from "./rewards/check.ts";
export { Rng } from "./util/rng.ts";

// Types that appear in the signatures above.
export type {
  BesideWork,
  ParamMap,
  StepNoise,
  StepResult,
  TrainState,
  TrainStepOptions,
} from "./ram/backend.ts";
export type { LossAndGrads, LossOptions } from "./ram/cpu.ts";
export type { RetinaShape } from "./kernels/retina_ref.ts";
export type { GpuOptions } from "./gpu/device.ts";
export type { MatmulStrategy } from "./kernels/matmul.ts";
export type { ClassProbe, ClsStepResult } from "./probe/cls_api.ts";
export type { ClsConfig, ClsGlimpse, ClsRunConfig } from "./probe/cls_params.ts";
export type { Belief } from "./run/eig_map.ts";
export type { Steering } from "./report/explain.ts";
export type { Safetensors, TensorMap } from "./util/safetensors.ts";
export type { EigRenderOptions } from "./report/eig.ts";
export type { FigurePath, FigureText } from "./report/figure.ts";
export type { RasterImage } from "./report/png.ts";
export type { StepProgress } from "./run/trainer.ts";
export type { DataConfig, RewardSpec } from "./run/run_config.ts";
export type { DataChoice } from "./run/run_data.ts";
export type { SandboxedReward } from "./rewards/sandbox.ts";
export type { VaeConfig } from "./probe/vae_params.ts";
export type { VaeStepResult } from "./probe/vae_api.ts";
export type { VaeRunConfig } from "./probe/vae_config.ts";
export type { Variant, VariantGeometry } from "./datasets/variants.ts";
export type {
  OptionInputs,
  OptionSpec,
  OptionValue,
  OptionValues,
  RewardDefinitionInput,
  RewardOutput,
  Widen,
} from "./rewards/define.ts";
export type { OptionInfo, OptionTable, ResolvedOptions } from "./rewards/options.ts";
export type { RewardMetadata } from "./rewards/sandbox.ts";
