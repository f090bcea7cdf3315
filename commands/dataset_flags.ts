/**
 * The dataset flags shared by train, eval, probe, compare and data preview, so that every
 * command spells and parses them alike: `--dataset`, `--variant`, `--canvas`, `--distractors`,
 * `--distractor-size`, `--fit`. Turn the parsed flags into loadDataset options with
 * {@link datasetOptionsFromFlags}; commands that read a run's saved data use commands/run_data.ts.
 *
 * @module
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { DatasetOptions } from "../datasets/load.ts";
import { VARIANT_OPTIONS, variantOption, VARIANTS } from "../datasets/variants.ts";
import { choiceOption, intOption, OptionError } from "./options.ts";

/** The dataset flag values as commander hands them over (undefined where not given). */
export interface DatasetFlags {
  dataset?: string;
  variant?: string;
  canvas?: string;
  distractors?: string;
  distractorSize?: string;
  fit?: string;
}

/** The `--fit` choices of folder:DIR datasets. */
export const FITS = ["mnist", "stretch"] as const;

/**
 * Adds the dataset flags to `cmd`. `--dataset` has no commander default so that a command can
 * tell "not given" (eval: the model's own dataset; train --resume: the saved one) from "mnist".
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { datasetOptionsFromFlags, withDatasetFlags } from "./dataset_flags.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * const cmd = withDatasetFlags(new Command("look"))
 *   .action(async (o) => {
 *     const ds = await loadDataset(o.dataset ?? "mnist", datasetOptionsFromFlags(o));
 *   });
 * ```
 */
export function withDatasetFlags<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .option("--dataset <spec>", "mnist (default) | fashion-mnist | idx:DIR | folder:DIR")
    .option("--variant <name>", "plain (default) | translated | cluttered")
    .option("--canvas <n>", variantOption("canvas").help)
    .option("--distractors <k>", variantOption("distractors").help)
    .option("--distractor-size <s>", variantOption("distractorSize").help)
    .option("--fit <how>", "folder:DIR images: mnist (centre by mass, default) | stretch");
}

/**
 * Parses the dataset flags into {@link DatasetOptions} (without `seed` and `validation`, which
 * each command sets), with one-line errors naming the flag: `--canvas "6o": expected a positive
 * integer`. Throws on an empty `--dataset`.
 *
 * @example
 * ```ts
 * import { datasetOptionsFromFlags } from "./dataset_flags.ts";
 * const o = datasetOptionsFromFlags({ variant: "cluttered", canvas: "100" });
 * // o.canvas === 100, o.distractors === undefined (the loader picks 8 at 100)
 * ```
 */
export function datasetOptionsFromFlags(flags: DatasetFlags): DatasetOptions {
  if (flags.dataset !== undefined && flags.dataset.trim() === "") {
    throw new OptionError(`--dataset "": expected a dataset name such as mnist`);
  }
  return {
    variant: choiceOption("--variant", flags.variant, VARIANTS),
    ...Object.fromEntries(
      VARIANT_OPTIONS.map((o) => [o.key, intOption(o.flag, flags[o.key], o.min)]),
    ),
    fit: choiceOption("--fit", flags.fit, FITS),
  };
}

/** True when any of the variant/geometry/fit flags was given. */
export function hasDataFlags(flags: DatasetFlags): boolean {
  return [flags.variant, ...VARIANT_OPTIONS.map((o) => flags[o.key]), flags.fit]
    .some((v) => v !== undefined);
}
