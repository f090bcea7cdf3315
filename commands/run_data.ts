/**
 * The data a command runs a model on: from the dataset flags for a new run, or a saved run's own
 * data (dataset, variant, geometry, seed) with flags overriding parts of it, as eval, probe and
 * compare allow. The check that a dataset fits a model's input lives here, once.
 *
 * @module
 */
import { VARIANT_OPTIONS } from "../datasets/variants.ts";
import type { RamConfig } from "../ram/config.ts";
import { datasetOptionsOf, type RunConfig } from "../run/run_config.ts";
import { type DatasetOptions, loadDataset, type LoadedDataset } from "../datasets/load.ts";
import { type DatasetFlags, datasetOptionsFromFlags } from "./dataset_flags.ts";

/** A dataset spec ("mnist", "idx:DIR", …) and the options that load it. */
export interface DataChoice {
  spec: string;
  options: DatasetOptions;
}

/**
 * The data of a new run from its flags (`--dataset` defaults to mnist); folder datasets get
 * their fitting written out ("mnist" unless --fit says otherwise) so that it is saved.
 */
export function dataFromFlags(flags: DatasetFlags): DataChoice {
  const spec = flags.dataset ?? "mnist";
  const options = datasetOptionsFromFlags(flags);
  if (spec.startsWith("folder:") && options.fit === undefined) options.fit = "mnist";
  return { spec, options };
}

/**
 * The saved run's data with the given flags laid over it. A different `--variant` starts its
 * geometry from that variant's defaults; a `--dataset` that is not a folder drops the folder
 * fitting; every other flag replaces the saved value. The seed stays the run's (so generated
 * test images are the same), and the validation slice is not carved (evaluation uses test).
 *
 * @example
 * ```ts ignore
 * import { savedDataWith } from "./run_data.ts";
 * // a model trained on cluttered MNIST, tested on cluttered Fashion-MNIST of the same geometry
 * const { spec, options } = savedDataWith(ckpt.meta.config, { dataset: "fashion-mnist" });
 * ```
 */
export function savedDataWith(config: RunConfig, flags: DatasetFlags): DataChoice {
  const given = datasetOptionsFromFlags(flags);
  const spec = flags.dataset ?? config.dataset;
  let options: DatasetOptions = { ...datasetOptionsOf(config), validation: undefined };
  if (given.variant !== undefined && given.variant !== options.variant) {
    options = { variant: given.variant, seed: options.seed, fit: options.fit };
  }
  if (!spec.startsWith("folder:")) options.fit = undefined;
  else if (options.fit === undefined) options.fit = "mnist";
  for (const key of [...VARIANT_OPTIONS.map((o) => o.key), "fit"] as const) {
    if (given[key] !== undefined) (options as Record<string, unknown>)[key] = given[key];
  }
  return { spec, options };
}

/**
 * Throws one line when `ds` does not fit `model`: its image size or class count differs.
 * `where` names the model, e.g. "runs/x".
 */
export function checkDataFitsModel(ds: LoadedDataset, model: RamConfig, where: string): void {
  if (ds.height === model.height && ds.width === model.width && ds.classes === model.classes) {
    return;
  }
  throw new Error(
    `dataset ${ds.name} has ${ds.height}×${ds.width} images of ${ds.classes} classes, but the ` +
      `model in ${where} takes ${model.height}×${model.width} images of ${model.classes} classes`,
  );
}

/**
 * Loads `choice` and checks that it fits `model` (trained in `where`).
 *
 * @example
 * ```ts ignore
 * import { loadModelData, savedDataWith } from "./run_data.ts";
 * const config = ckpt.meta.config;
 * const ds = await loadModelData(savedDataWith(config, flags), config.model, "runs/x");
 * ```
 */
export async function loadModelData(
  choice: DataChoice,
  model: RamConfig,
  where: string,
): Promise<LoadedDataset> {
  const ds = await loadDataset(choice.spec, choice.options);
  checkDataFitsModel(ds, model, where);
  return ds;
}
