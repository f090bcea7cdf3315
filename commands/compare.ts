/**
 * `glimpse compare RUN...`: the EIG table of each run on the same test split, side by side
 * (eig-compare.md, eig-compare.csv) and the chart of cumulative information gain per glimpse with
 * one line per run, labelled by its reward (eig-compare.svg, eig-compare.png). The seed study's
 * figure: the classification reward against the entropy-reshaped one.
 *
 * The split is the first run's own data (dataset, variant, geometry and seed) unless the dataset
 * flags say otherwise; runs trained on different data need the flags to pick one. Every run is
 * opened and checked before anything is evaluated, and the files are written (atomically) only
 * when every table is done.
 *
 * @module
 */
import { type LoadedRun, loadRun } from "../run/load_run.ts";
import { evaluateEig } from "../run/evaluate_eig.ts";
import { beliefRows, beliefsOf } from "../report/eig_compare.ts";
import { eigChartSvg } from "../report/chart.ts";
import { svgToPng } from "../report/svg_png.ts";
import {
  compareCsv,
  type ComparedRun,
  compareMarkdown,
  rewardLabels,
} from "../report/eig_compare.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../util/write_atomic.ts";
import type { Gpu } from "../gpu/device.ts";
import { resolveBackendOption } from "./backend.ts";
import { type DatasetFlags, hasDataFlags } from "./dataset_flags.ts";
import { intOption, OptionError } from "./options.ts";
import { ProgressBar, writeStderr } from "./progress.ts";
import { checkDataFitsModel, loadModelData, savedDataWith } from "./run_data.ts";
import { snakeCaseKeys } from "../util/snake_case.ts";

/** The options of `compare`, as commander hands them over (with the dataset flags). */
export interface CompareFlags extends DatasetFlags {
  out?: string;
  backend?: string;
  limit?: string;
  json?: boolean;
}

/** Where compare writes without --out. */
export const DEFAULT_COMPARE_OUT = "runs/compare";

/** File names compare writes into its folder. */
export const COMPARE_FILES = {
  markdown: "eig-compare.md",
  csv: "eig-compare.csv",
  chart: "eig-compare", // .svg and .png
} as const;

function dataKey(run: LoadedRun): string {
  return JSON.stringify({ dataset: run.config.dataset, data: run.config.data });
}

/**
 * Runs `compare` on `runs`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { compareCommand } from "./compare.ts";
 * await compareCommand(["checkpoints/mnist-classification", "checkpoints/mnist-entropy"], {});
 * ```
 */
export async function compareCommand(runs: string[], flags: CompareFlags): Promise<number> {
  if (runs.length === 0) throw new OptionError("compare: give at least one run folder");
  const backend = (await resolveBackendOption(flags.backend)).name;
  const limit = intOption("--limit", flags.limit, 1);
  if (flags.out !== undefined && flags.out.trim() === "") {
    throw new OptionError(`--out "": expected a folder`);
  }
  const out = (flags.out ?? DEFAULT_COMPARE_OUT).replace(/\/+$/, "") || "/";
  const outInfo = await Deno.stat(out).catch(() => null);
  if (outInfo && !outInfo.isDirectory) {
    throw new OptionError(`--out "${out}": exists and is not a folder`);
  }
  let gpu: Gpu | undefined;
  const opened: LoadedRun[] = [];
  try {
    if (backend === "webgpu") gpu = await (await import("../gpu/device.ts")).requestGpu();
    for (const dir of runs) opened.push(await loadRun(dir, { backend, gpu, optimizer: false }));
    const first = opened[0];
    if (!hasDataFlags(flags) && flags.dataset === undefined) {
      const other = opened.find((r) => dataKey(r) !== dataKey(first));
      if (other) {
        throw new OptionError(
          `${first.dir} and ${other.dir} were trained on different data ` +
            `(${first.config.dataset} ${first.config.data.variant}, ${other.config.dataset} ` +
            `${other.config.data.variant}); choose one test split with --dataset/--variant`,
        );
      }
    }
    const ds = await loadModelData(
      savedDataWith(first.config, flags),
      first.config.model,
      first.dir,
    );
    for (const r of opened) checkDataFitsModel(ds, r.config.model, r.dir);
    const labels = rewardLabels(
      opened.map((r) => ({ run: r.dir, reward: r.config.reward.name })),
    );
    const n = Math.min(ds.test.size, limit ?? ds.test.size);
    const compared: ComparedRun[] = [];
    for (const [i, r] of opened.entries()) {
      writeStderr(
        `${r.dir}: reward ${r.config.reward.name}, epoch ${r.meta.epoch}; ${ds.name} test ` +
          `(${n} images), policy mean from the centre, backend ${r.description}` +
          `${r.vae ? "" : " (no VAE probe: no reconstruction MSE)"}\n`,
      );
      const bar = new ProgressBar(`run ${i + 1}/${opened.length}`, n, "img");
      const table = await evaluateEig(r.ram, r.vae, ds.test, {
        classProbe: r.classProbe,
        batch: 128,
        limit: n,
        onBatch: (done) => bar.update(done),
      });
      bar.done();
      compared.push({
        label: labels[i],
        run: r.dir,
        reward: r.config.reward.name,
        epoch: r.meta.epoch,
        table,
      });
    }
    const markdown = compareMarkdown(compared, `${ds.name} test`);
    // the chart is rendered before anything is written: a missing font leaves no files behind
    const svg = await eigChartSvg(
      compared.map((c) => ({ label: c.label, rows: beliefRows(compared, c) })),
      {
        title: `Cumulative information gain per glimpse, ${ds.name} test (${beliefsOf(compared)})`,
        priorEntropy: compared[0].table.priorEntropy,
      },
    );
    const png = await svgToPng(svg, { zoom: 2, background: "white" });
    try {
      await Deno.mkdir(out, { recursive: true });
    } catch (e) {
      throw new Error(`Cannot create the --out folder "${out}": ${(e as Error).message}`);
    }
    const files = [
      `${out}/${COMPARE_FILES.markdown}`,
      `${out}/${COMPARE_FILES.csv}`,
      `${out}/${COMPARE_FILES.chart}.svg`,
      `${out}/${COMPARE_FILES.chart}.png`,
    ];
    await writeTextFileAtomic(files[0], markdown);
    await writeTextFileAtomic(files[1], compareCsv(compared));
    await writeTextFileAtomic(files[2], svg);
    await writeFileAtomic(files[3], png);
    if (flags.json) {
      console.log(JSON.stringify({
        dataset: ds.name,
        samples: n,
        runs: compared.map((c) => ({
          label: c.label,
          run: c.run,
          reward: c.reward,
          epoch: c.epoch,
          table: snakeCaseKeys(c.table),
        })),
        files,
      }));
    } else {
      console.log(markdown);
      console.log(`wrote ${files.join(", ")}`);
    }
    return 0;
  } finally {
    for (const r of opened) r.close();
    gpu?.destroy();
  }
}
