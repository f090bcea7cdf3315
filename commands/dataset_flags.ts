/**
 * The dataset flags shared by train, eval, probe, compare and data preview, so that every
 * command spells them alike: `--dataset`, `--variant`, `--canvas`, `--distractors`,
 * `--distractor-size`, `--fit`. Turn the parsed flags into loadDataset options with
 * `datasetOptionsFromFlags` (datasets/load.ts).
 *
 * @module
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";

/**
 * Adds the dataset flags to `cmd` (values arrive as strings; `--dataset` defaults to "mnist").
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { withDatasetFlags } from "./dataset_flags.ts";
 * import { datasetOptionsFromFlags, loadDataset } from "../datasets/load.ts";
 * const cmd = withDatasetFlags(new Command("train")).option("--seed <n>", "seed", "1")
 *   .action(async (o) => {
 *     const ds = await loadDataset(o.dataset, datasetOptionsFromFlags(o));
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
    .option("--dataset <spec>", "mnist | fashion-mnist | idx:DIR | folder:DIR", "mnist")
    .option("--variant <name>", "plain | translated | cluttered (default plain)")
    .option("--canvas <n>", "canvas side for translated/cluttered (default 60)")
    .option("--distractors <k>", "cluttered: distractor crops (default 4, 8 from a 100 canvas)")
    .option("--distractor-size <s>", "cluttered: side of each distractor crop (default 8)")
    .option("--fit <how>", "folder:DIR images: mnist (centre by mass, default) | stretch");
}
