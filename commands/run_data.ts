/**
 * The data a command runs a model on: from the dataset flags for a new run, or a saved run's own
 * data (dataset, variant, geometry, seed) with flags overriding parts of it, as eval, probe and
 * compare allow. The check that a dataset fits a model's input is the library's (run/run_data.ts).
 *
 * @module
 */
import { VARIANT_OPTIONS } from "../datasets/variants.ts";
import { datasetOptionsOf, type RunConfig } from "../run/run_config.ts";
import type { DatasetOptions } from "../datasets/load.ts";
import type { DataChoice } from "../run/run_data.ts";
import { type DatasetFlags, datasetOptionsFromFlags } from "./dataset_flags.ts";

export { checkDataFitsModel, type DataChoice, loadModelData } from "../run/run_data.ts";

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
