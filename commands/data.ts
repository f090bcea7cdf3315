/**
 * `glimpse data`: look at a dataset (`data preview`) and fetch the official MNIST idx files
 * (`data mnist --to DIR`). The implementations are imported when a subcommand runs.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { withDatasetFlags } from "./dataset_flags.ts";

/** Options of {@link preview} (flag values as commander hands them over). */
export interface PreviewFlags {
  dataset: string;
  variant?: string;
  canvas?: string;
  distractors?: string;
  distractorSize?: string;
  fit?: string;
  seed?: string;
  split?: string;
  epoch?: string;
  count?: string;
  cols?: string;
  noise?: string;
  out: string;
}

function intFlag(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`${flag} "${value}": expected an integer ≥ ${min}`);
  }
  return n;
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
  const { datasetOptionsFromFlags, loadDataset } = await import("../datasets/load.ts");
  const { Rng } = await import("../model/rng.ts");
  const { sampleGrid } = await import("../report/sample_grid.ts");
  const { writePng } = await import("../report/png.ts");
  const seed = intFlag("--seed", flags.seed, 1, 0);
  const epoch = intFlag("--epoch", flags.epoch, 0, 0);
  const count = intFlag("--count", flags.count, 36, 1);
  const cols = flags.cols === undefined ? undefined : intFlag("--cols", flags.cols, 6, 1);
  const which = flags.split ?? "train";
  if (which !== "train" && which !== "test" && which !== "validation") {
    throw new Error(`--split "${which}": expected train, test or validation`);
  }
  let ds = await loadDataset(
    flags.dataset,
    datasetOptionsFromFlags({
      ...flags,
      seed,
      validation: which === "validation" ? 0.1 : undefined,
    }),
  );
  let noiseText = "";
  if (flags.noise !== undefined) {
    const { parseNoise, withNoise, noiseLabel } = await import("../datasets/noise.ts");
    const levels = parseNoise(flags.noise);
    if (levels.length !== 1) throw new Error(`--noise "${flags.noise}": give one level to preview`);
    ds = withNoise(ds, levels[0], seed);
    noiseText = `, ${noiseLabel(levels[0])}`;
  }
  const split = which === "validation" ? ds.validation! : ds[which];
  const n = Math.min(count, split.size);
  const indices = [...new Rng(seed).permutation(split.size).subarray(0, n)];
  const grid = sampleGrid(split, indices, ds.height, ds.width, { cols, epoch });
  const dir = flags.out.includes("/") ? flags.out.slice(0, flags.out.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await writePng(flags.out, grid);
  const digits = ds.classNames.every((c, i) => c === String(i));
  const legend = digits ? "" : `; labels: ${ds.classNames.map((c, i) => `${i}=${c}`).join(", ")}`;
  return `${flags.out}: ${n} ${which} samples of ${ds.name} (${ds.width}×${ds.height}, ` +
    `epoch ${epoch}${noiseText})${legend}`;
}

/** The `data` command with its `preview` and `mnist` subcommands. */
export function dataCommand() {
  // exitOverride on each: cli.ts turns commander's exits into a status it returns
  const data = new Command("data").description(
    "look at datasets (preview) and fetch the official MNIST files (mnist)",
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
    .description("download the four official MNIST idx files and verify their SHA-256")
    .requiredOption("--to <dir>", "folder for the files (then use --dataset idx:DIR)")
    .option("--mirror <url>", "where the files are fetched from (default: PyTorch's mirror)")
    .option("--timeout <s>", "seconds per file", "60")
    .exitOverride()
    .action(async (opts) => {
      const { downloadMnist } = await import("../datasets/download.ts");
      const timeoutMs = intFlag("--timeout", opts.timeout, 60, 1) * 1000;
      const r = await downloadMnist(opts.to, { mirror: opts.mirror, timeoutMs, log: console.log });
      console.log(
        `${opts.to}: ${r.downloaded.length} downloaded, ${r.present.length} already present; ` +
          `use --dataset idx:${opts.to}`,
      );
    });
  return data;
}
