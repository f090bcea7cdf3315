/**
 * The data a run's model runs on: a dataset spec with its options, loaded and checked to fit the
 * model's input (image size, class count), in one place for train, eval, probe and compare.
 *
 * @module
 */
import type { RamConfig } from "../ram/config.ts";
import { type DatasetOptions, loadDataset, type LoadedDataset } from "../datasets/load.ts";

/** A dataset spec ("mnist", "idx:DIR", …) and the options that load it. */
export interface DataChoice {
  /** "mnist", "mnist-10k", "fashion-mnist", "idx:DIR" or "folder:DIR". */
  spec: string;
  /** Variant, noise and the other loading options. */
  options: DatasetOptions;
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
 * import { loadModelData } from "./run_data.ts";
 * const config = ckpt.meta.config;
 * const ds = await loadModelData({ spec: "mnist", options: {} }, config.model, "runs/x");
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
