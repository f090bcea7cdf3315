/**
 * `glimpse eval --model runs/NAME`: test error and per-glimpse accuracy of a checkpoint, on
 * stderr for people and, with --json, as one JSON object on stdout. The data is the run's own
 * (dataset, variant, geometry, seed) unless the dataset flags override it; `--noise` adds one row
 * per noise level (the seed study's robustness test).
 *
 * @module
 */
import { openRun } from "../run/load_run.ts";
import { evaluate, type EvaluationResult, STILL_PX } from "../run/evaluate.ts";
import { noiseLabel, type NoiseLevel, parseNoise, withNoise } from "../datasets/noise.ts";
import { backendLine, backendOption } from "./backend.ts";
import type { DatasetFlags } from "./dataset_flags.ts";
import { choiceOption, intOption, OptionError } from "./options.ts";

/** The `--start` choices: where the first glimpse is taken. */
export const EVAL_STARTS = ["center", "uniform"] as const;
import { ProgressBar, writeStderr } from "./progress.ts";
import { loadModelData, savedDataWith } from "./run_data.ts";
import { eigReport, runDirOf } from "./eval_eig.ts";
import { type Control, parseControls } from "../run/controls.ts";
import { controlsJson } from "../report/controls.ts";

/** The options of `eval`, as commander hands them over (with the dataset flags). */
export interface EvalFlags extends DatasetFlags {
  model: string;
  noise?: string;
  backend?: string;
  stochastic?: boolean;
  mc?: string;
  start?: string;
  out?: string;
  json?: boolean;
  /** --control NAME (repeatable, comma-separated). */
  control?: string[];
  /** --controls: all of them. */
  controls?: boolean;
}

/** Runs `eval`; returns the exit code. */
export async function evalCommand(flags: EvalFlags): Promise<number> {
  const mc = intOption("--mc", flags.mc, 1);
  const startMode = choiceOption("--start", flags.start, EVAL_STARTS);
  const backendName = backendOption(flags.backend);
  let noise: NoiseLevel[] = [];
  try {
    noise = flags.noise === undefined ? [] : parseNoise(flags.noise);
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  let controls: Control[];
  try {
    controls = parseControls(flags.control, flags.controls ?? false);
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  const opened = await openRun(flags.model, { backend: backendName, optimizer: false });
  try {
    const ckpt = opened.checkpoint;
    const config = opened.config;
    const m = config.model;
    const ds = await loadModelData(savedDataWith(config, flags), config.model, flags.model);
    const stochastic = (flags.stochastic ?? false) || (mc ?? 1) > 1;
    const start = startMode ?? (stochastic ? "uniform" : "center");
    const from = start === "center" ? "from the centre" : "from a uniform first location";
    const how = mc !== undefined && mc > 1
      ? `${mc} stochastic rollouts averaged, ${from}`
      : stochastic
      ? `stochastic policy (μ + σ·ε, σ ${m.sigma}) ${from}`
      : `policy mean ${from}`;
    writeStderr(
      `evaluating ${flags.model} (epoch ${ckpt.meta.epoch}) on ${ds.name} test ` +
        `(${ds.test.size} images), ${how}, backend ${backendLine(opened)}\n`,
    );
    const run = async (split: typeof ds.test, what: string) => {
      const bar = new ProgressBar(`evaluating${what ? ` ${what.trim()}` : ""}`, split.size, "img");
      const r = await evaluate(opened.ram, split, {
        stochastic,
        mc,
        start,
        seed: config.train.seed,
        batch: config.train.batch,
        onBatch: (done) => bar.update(done),
      });
      bar.done();
      return r;
    };
    const r = await run(ds.test, "");
    const rows = r.accuracy.map((a, t) => `  glimpse ${t + 1}: accuracy ${(100 * a).toFixed(2)}%`);
    writeStderr(
      `test error ${(100 * r.error).toFixed(2)}% (nll ${r.nll.toFixed(4)}) on ${r.samples} ` +
        `images\n${rows.join("\n")}\nglimpse movement: mean distance from the first location ` +
        `${r.meanDistancePx.toFixed(2)} px; ${(100 * r.stillShare).toFixed(1)}% of images keep ` +
        `every glimpse within ${STILL_PX} px of it\n`,
    );
    const noisy: { level: NoiseLevel; result: EvaluationResult }[] = [];
    for (const level of noise) {
      // the noise is drawn from the run's seed, so every eval sees the same noisy images
      const split = withNoise(ds, level, config.train.seed).test;
      noisy.push({ level, result: await run(split, `${noiseLabel(level)}: `) });
    }
    if (noisy.length > 0) {
      writeStderr(noiseTable(r, noisy) + "\n");
    }
    const eig = await eigReport(opened.ram, ckpt, ds.test, {
      batch: config.train.batch,
      out: flags.out ?? runDirOf(flags.model),
      title: `${flags.model} on ${ds.name} test (policy mean from the centre)`,
      controls,
    });
    if (flags.json) {
      console.log(JSON.stringify({
        model: flags.model,
        epoch: ckpt.meta.epoch,
        dataset: ds.name,
        backend: opened.ram.name,
        backend_description: opened.description,
        backend_reason: opened.decision.reason,
        mode: r.mode,
        rollouts: r.rollouts,
        start: r.start,
        evaluation: how,
        samples: r.samples,
        test_images: r.samples,
        test_error: r.error,
        movement: {
          mean_distance_px: r.meanDistancePx,
          within_px: STILL_PX,
          share_within: r.stillShare,
        },
        nll: r.nll,
        accuracy_per_glimpse: r.accuracy,
        eig: eig.json,
        ...(eig.controls.length > 0
          ? { controls: controlsJson([{ name: "policy", table: eig.table }, ...eig.controls]) }
          : {}),
        ...(noisy.length > 0
          ? {
            noise: noisy.map(({ level, result }) => ({
              kind: level.kind,
              level: level.level,
              label: noiseLabel(level),
              test_error: result.error,
              nll: result.nll,
              accuracy_per_glimpse: result.accuracy,
            })),
          }
          : {}),
      }));
    }
    return 0;
  } finally {
    opened.close();
  }
}

/**
 * The noise table: one row per level (the clean images first), the test error and the accuracy
 * after every glimpse, in percent.
 */
export function noiseTable(
  clean: EvaluationResult,
  noisy: readonly { level: NoiseLevel; result: EvaluationResult }[],
): string {
  const rows = [
    { label: "none", r: clean },
    ...noisy.map(({ level, result }) => ({ label: noiseLabel(level), r: result })),
  ];
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const head = ["noise", "test error", ...clean.accuracy.map((_, t) => `acc g${t + 1}`)];
  const body = rows.map(({ label, r }) => [label, pct(r.error), ...r.accuracy.map(pct)]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}
