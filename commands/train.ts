/**
 * `glimpse train`: resolves the run config from the options, prints it, trains with progress on
 * stderr, and with --json prints one JSON object on stdout when done.
 *
 * @module
 */
import { CONFIG_FILE, runFile } from "../run/checkpoint.ts";
import { train } from "../run/trainer.ts";
import { type DatasetOptions, variantSuffix } from "../datasets/load.ts";
import type { DatasetFlags } from "./dataset_flags.ts";
import { type DataChoice, dataFromFlags } from "./run_data.ts";
import { invocationDir, parseRewardTimeout } from "../rewards/loader.ts";
import { DEFAULT_TRAIN, type Schedule, SCHEDULES } from "../ram/config.ts";
import {
  type PreparedRun,
  prepareRun,
  RunOptionError,
  type RunOptions,
} from "../run/prepare_run.ts";
import { backendLine, backendOption } from "./backend.ts";
import { intOption, numberOption, OptionError } from "./options.ts";
import { ProgressView } from "./progress.ts";
import type { VaeFlags } from "./vae_flags.ts";

/** The options of `train`, as commander hands them over (with the dataset flags). */
export interface TrainFlags extends DatasetFlags, VaeFlags {
  patch?: string;
  scales?: string;
  glimpses?: string;
  epochs?: string;
  batch?: string;
  lr?: string;
  policyLr?: string;
  baselineLr?: string;
  schedule?: string;
  testEvery?: string;
  seed?: string;
  backend?: string;
  out?: string;
  limit?: string;
  json?: boolean;
  resume?: boolean;
  reward?: string;
  rewardOpt?: string[];
  rewardTimeout?: string;
  validation?: string;
  plateau?: string;
  /** False with --no-probe-worker: the cpu probes step after each RAM step (run/trainer.ts). */
  probeWorker?: boolean;
  verbose?: boolean;
}

/** Exit code of a run stopped with Ctrl-C (after writing its checkpoint), as shells expect. */
export const INTERRUPTED_EXIT_CODE = 130;

/** A file-name-safe form of a dataset or reward name. */
function slug(text: string): string {
  return text.replace(/\.[a-z]+$/i, "").replace(/^.*[/\\]/, "").replace(/[^A-Za-z0-9._-]+/g, "-") ||
    "run";
}

/**
 * runs/<dataset>[-<variant>]-<reward>-s<seed>, e.g. runs/mnist-cluttered-60-4x8-classification-s1:
 * the same options find the same folder (and --resume it).
 */
export function defaultOut(
  dataset: string,
  reward: string,
  seed: number,
  options: DatasetOptions = {},
): string {
  const suffix = variantSuffix(options);
  const data = `${dataset}${suffix ? "-" + suffix : ""}`.replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "") || "data";
  return `runs/${data}-${slug(reward)}-s${seed}`;
}

/** Parsed option values; undefined where the option was not given. */
interface Parsed {
  dataset?: string;
  /** The data of a new run (--dataset defaults to mnist). */
  data: DataChoice;
  patch?: number;
  scales?: number;
  glimpses?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  policyLr?: number;
  baselineLr?: number;
  schedule?: Schedule;
  testEvery?: number;
  seed?: number;
  limit?: number;
  validation?: number;
  plateau?: number;
  timeoutMs?: number;
}

function parseFlags(f: TrainFlags): Parsed {
  const p: Parsed = {
    dataset: f.dataset,
    data: dataFromFlags(f),
    patch: intOption("--patch", f.patch, 1),
    scales: intOption("--scales", f.scales, 1),
    glimpses: intOption("--glimpses", f.glimpses, 1),
    epochs: intOption("--epochs", f.epochs, 0),
    batch: intOption("--batch", f.batch, 1),
    lr: numberOption("--lr", f.lr, { lo: 0, expected: "a positive number" }),
    seed: intOption("--seed", f.seed, 0),
    limit: intOption("--limit", f.limit, 1),
    policyLr: numberOption("--policy-lr", f.policyLr, { lo: 0, expected: "a non-negative number" }),
    baselineLr: numberOption("--baseline-lr", f.baselineLr, {
      lo: 0,
      expected: "a non-negative number",
    }),
    schedule: scheduleOption(f.schedule),
    testEvery: intOption("--test-every", f.testEvery, 1),
    validation: validationOption(f.validation),
    plateau: intOption("--plateau", f.plateau, 1),
    timeoutMs: f.rewardTimeout === undefined ? undefined : parseRewardTimeout(f.rewardTimeout),
  };
  if (p.plateau !== undefined && p.validation === undefined) {
    throw new OptionError(`--plateau ${p.plateau}: needs --validation FRACTION|COUNT to watch`);
  }
  return p;
}

/** `--schedule`: one of {@link SCHEDULES}. */
function scheduleOption(text: string | undefined): Schedule | undefined {
  if (text === undefined) return undefined;
  if (!SCHEDULES.includes(text as Schedule)) {
    throw new OptionError(`--schedule "${text}": expected one of ${SCHEDULES.join(", ")}`);
  }
  return text as Schedule;
}

/** `--validation`: a fraction in [0, 1) or a whole count of images. */
function validationOption(text: string | undefined): number | undefined {
  const v = numberOption("--validation", text, {
    lo: 0,
    expected: "a fraction between 0 and 1 or a count of images",
  });
  if (v !== undefined && v >= 1 && !Number.isInteger(v)) {
    throw new OptionError(
      `--validation "${text}": expected a fraction between 0 and 1 or a count of images`,
    );
  }
  return v;
}

/** The flag spelling of a {@link RunOptions} name, for errors: distractorSize → --distractor-size. */
export function flagOf(option: string): string {
  const special: Record<string, string> = {
    rewardOptions: "--reward-opt",
    rewardTimeoutMs: "--reward-timeout",
    vae: "--no-vae",
    cls: "--no-cls",
  };
  return special[option] ?? "--" + option.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** A library error about options, reworded with their flags: "option lr 0.1: …" → "--lr 0.1: …". */
export function asFlagError(e: unknown): unknown {
  if (!(e instanceof RunOptionError)) return e;
  return new OptionError(
    e.message.replace(
      /option (\w+)( false)?/g,
      (_, name: string, off?: string) =>
        (name === "vae" || name === "cls") && off ? `--no-${name}` : flagOf(name),
    ),
  );
}

/** Runs `train`; returns the exit code. */
export async function trainCommand(flags: TrainFlags): Promise<number> {
  const p = parseFlags(flags);
  const backend = backendOption(flags.backend);
  const view = new ProgressView(Deno.stderr.isTerminal(), flags.verbose ?? false);
  const rewardSpec = flags.reward ?? "classification";
  const out = flags.out ??
    defaultOut(p.data.spec, rewardSpec, p.seed ?? DEFAULT_TRAIN.seed, p.data.options);
  const options: RunOptions = {
    out,
    resume: flags.resume,
    data: p.data,
    dataset: p.dataset,
    patch: p.patch,
    scales: p.scales,
    glimpses: p.glimpses,
    epochs: p.epochs,
    batch: p.batch,
    lr: p.lr,
    policyLr: p.policyLr,
    baselineLr: p.baselineLr,
    schedule: p.schedule,
    seed: p.seed,
    limit: p.limit,
    validation: p.validation,
    plateau: p.plateau,
    reward: flags.reward,
    rewardOptions: flags.rewardOpt,
    rewardTimeoutMs: p.timeoutMs,
    rewardCwd: invocationDir(),
    vae: flags.vae,
    vaeStart: intOption("--vae-start", flags.vaeStart, 1),
    vaeRows: intOption("--vae-rows", flags.vaeRows, 1),
    vaeImages: numberOption("--vae-images", flags.vaeImages, {
      lo: 0,
      hi: 1,
      hiInclusive: true,
      expected: "a share of the batch in (0, 1]",
    }),
    cls: flags.cls,
    clsStart: intOption("--cls-start", flags.clsStart, 1),
    backend,
  };
  let run: PreparedRun;
  try {
    run = await prepareRun(options);
  } catch (e) {
    throw asFlagError(e);
  }
  try {
    return await trainPrepared(run, flags, view, p.testEvery);
  } finally {
    await run.close();
  }
}

/** Trains a prepared run with progress on stderr, Ctrl-C handling and the --json summary. */
async function trainPrepared(
  run: PreparedRun,
  flags: TrainFlags,
  view: ProgressView,
  testEvery: number | undefined,
) {
  const { out, config, resume, data, opened, reward } = run;
  for (const note of run.notes) view.line(note);
  // The full config is a file away; the terminal gets one line unless --verbose asks for it.
  const m = config.model, t = config.train;
  view.line(
    `${resume ? "resuming" : "training"} ${out}: ${m.glimpses} glimpses of ${m.patch}×` +
      `${m.patch}${m.scales > 1 ? `×${m.scales}` : ""}, ${m.core} ${m.hidden}, ` +
      `${t.epochs} epochs of batch ${t.batch}, lr ${t.lr}, seed ${t.seed}` +
      `${config.vae ? ", with the VAE probe" : ""}${config.cls ? ", with the class probe" : ""}` +
      ` (config: ${runFile(out, CONFIG_FILE)}${flags.verbose ? "" : "; --verbose prints it"})`,
  );
  if (flags.verbose) view.line(JSON.stringify(config, null, 2));
  view.batchSize = config.train.batch;
  view.line(`backend: ${backendLine(opened)}`);
  view.line(
    `data: ${run.dataset.name}, ${data.train.size} training images` +
      (data.validation ? `, ${data.validation.size} validation` : "") +
      `, ${data.test?.size ?? 0} test; reward ${reward.name}` +
      (resume ? `; from epoch ${resume.meta.epoch}, batch ${resume.meta.batch}` : ""),
  );

  const stop = new AbortController();
  const onSigint = () => {
    stop.abort();
    // A second Ctrl-C gets the default behaviour: quit at once (the checkpoint unit stays whole).
    Deno.removeSignalListener("SIGINT", onSigint);
    view.line("stopping after this step: writing a checkpoint (Ctrl-C again to quit now)");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const started = performance.now();
  let result;
  try {
    result = await train({
      backend: opened.backend,
      data,
      config,
      reward: reward.fn,
      out,
      resume,
      vae: run.vae ?? undefined,
      cls: run.cls ?? undefined,
      stop: stop.signal,
      onStep: (s) => view.step(s),
      onEpoch: (e) => view.epoch(e, config.train.epochs),
      onEvaluate: (what, n) => view.status(`evaluating on ${n} ${what} images…`),
      onLr: (lr, epoch) =>
        view.line(`validation stalled: lr lowered to ${lr} after epoch ${epoch}`),
      testEvery,
      probeWorker: flags.probeWorker !== false,
    });
  } finally {
    if (!stop.signal.aborted) Deno.removeSignalListener("SIGINT", onSigint);
  }
  const last = result.metrics.at(-1);
  if (result.interrupted) {
    view.line(
      `interrupted: checkpoint written to ${out} at epoch ${result.epochs}, batch ` +
        `${result.batch} (step ${result.step}); continue with --resume --out ${out}`,
    );
  } else {
    view.line(
      `done: ${out}, ${result.epochs} epochs` +
        (result.testError === null ? "" : `, test error ${(100 * result.testError).toFixed(2)}%`) +
        `, ${Math.round(result.imagesPerSecond)} training images/s`,
    );
  }
  if (flags.json) {
    console.log(JSON.stringify({
      out,
      epochs: result.epochs,
      step: result.step,
      interrupted: result.interrupted,
      backend: opened.backend.name,
      backend_description: opened.description,
      backend_reason: opened.decision.reason,
      reward: config.reward.name,
      images_per_second: result.imagesPerSecond,
      losses: last
        ? { nll: last.nll, baseline: last.baseline, reinforce: last.reinforce, loss: last.loss }
        : null,
      train_accuracy: last?.train_accuracy ?? null,
      validation_accuracy: last?.validation_accuracy ?? null,
      test_error: result.testError,
      seconds: (performance.now() - started) / 1000,
    }));
  }
  return result.interrupted ? INTERRUPTED_EXIT_CODE : 0;
}
