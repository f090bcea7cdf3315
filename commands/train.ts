/**
 * `glimpse train`: resolves the run config from the options, prints it, trains with progress on
 * stderr, and with --json prints one JSON object on stdout when done.
 *
 * @module
 */
import {
  type Checkpoint,
  CONFIG_FILE,
  loadCheckpoint,
  MODEL_FILE,
  runFile,
} from "../run/checkpoint.ts";
import {
  DEFAULT_TRAIN,
  resolveRamConfig,
  resolveTrainConfig,
  retinaDefaultsFor,
} from "../ram/config.ts";
import {
  dataConfigOf,
  datasetOptionsOf,
  resolveRunConfig,
  RUN_CONFIG_VERSION,
  type RunConfig,
} from "../run/run_config.ts";
import { MNIST_VALIDATION_DEFAULT } from "../datasets/mnist_official.ts";
import { limitSplit, train, type TrainData } from "../run/trainer.ts";
import { type DatasetOptions, loadDataset, variantSuffix } from "../datasets/load.ts";
import type { DatasetFlags } from "./dataset_flags.ts";
import { checkDataFitsModel, type DataChoice, dataFromFlags } from "./run_data.ts";
import { invocationDir, loadReward, parseRewardTimeout } from "../rewards/loader.ts";
import { backendOption, openBackend } from "./backend.ts";
import { intOption, numberOption, OptionError } from "./options.ts";
import { ProgressView } from "./progress.ts";
import {
  checkResumeVaeFlags,
  clsFromFlags,
  openClassProbe,
  openProbe,
  type VaeFlags,
  vaeFromFlags,
} from "./vae_flags.ts";

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
    validation: validationOption(f.validation),
    plateau: intOption("--plateau", f.plateau, 1),
    timeoutMs: f.rewardTimeout === undefined ? undefined : parseRewardTimeout(f.rewardTimeout),
  };
  if (p.plateau !== undefined && p.validation === undefined) {
    throw new OptionError(`--plateau ${p.plateau}: needs --validation FRACTION|COUNT to watch`);
  }
  return p;
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

/**
 * The validation hold-out of a new run when --validation is not given: 5,000 of the official
 * MNIST's 60,000 training images (the peers' split), none elsewhere (mnist-10k keeps its 7,996).
 */
export function defaultValidation(spec: string): number {
  return spec === "mnist" ? MNIST_VALIDATION_DEFAULT : 0;
}

/** On --resume, options that would change the saved run are refused (only --epochs may). */
function checkResumeFlags(p: Parsed, f: TrainFlags, config: RunConfig, out: string): void {
  const saved: [string, unknown, unknown][] = [
    ["--dataset", p.dataset, config.dataset],
    ["--variant", f.variant, config.data.variant],
    ["--canvas", p.data.options.canvas, config.data.canvas ?? undefined],
    ["--distractors", p.data.options.distractors, config.data.distractors ?? undefined],
    ["--distractor-size", p.data.options.distractorSize, config.data.distractorSize ?? undefined],
    ["--fit", f.fit, config.data.fit ?? undefined],
    ["--patch", p.patch, config.model.patch],
    ["--scales", p.scales, config.model.scales],
    ["--glimpses", p.glimpses, config.model.glimpses],
    ["--batch", p.batch, config.train.batch],
    ["--lr", p.lr, config.train.lr],
    ["--policy-lr", p.policyLr, config.train.policyLr ?? undefined],
    ["--baseline-lr", p.baselineLr, config.train.baselineLr ?? undefined],
    ["--seed", p.seed, config.train.seed],
    ["--limit", p.limit, config.limit ?? undefined],
    ["--validation", p.validation, config.validation || undefined],
    ["--plateau", p.plateau, config.plateau || undefined],
    ["--reward", f.reward, config.reward.spec],
  ];
  for (const [flag, given, was] of saved) {
    if (given !== undefined && given !== was) {
      throw new OptionError(
        `${flag} ${given}: ${out} was trained with ${was === undefined ? "none" : was}, and a ` +
          "resumed run keeps its config (only --epochs may change)",
      );
    }
  }
}

/** Runs `train`; returns the exit code. */
export async function trainCommand(flags: TrainFlags): Promise<number> {
  const p = parseFlags(flags);
  const backendName = backendOption(flags.backend);
  const view = new ProgressView(Deno.stderr.isTerminal(), flags.verbose ?? false);
  const rewardSpec = flags.reward ?? "classification";
  const seedForName = p.seed ?? DEFAULT_TRAIN.seed;
  const fresh = p.data;
  const out = flags.out ?? defaultOut(fresh.spec, rewardSpec, seedForName, fresh.options);

  let resume: Checkpoint | undefined;
  let saved: RunConfig | undefined;
  if (flags.resume) {
    resume = await loadCheckpoint(out, { optimizer: true });
    saved = resume.meta.config;
    checkResumeFlags(p, flags, saved, out);
    checkResumeVaeFlags(flags, saved, out);
    if (p.epochs !== undefined) saved = { ...saved, train: { ...saved.train, epochs: p.epochs } };
    const { epoch, batch } = resume.meta;
    if (epoch >= saved.train.epochs && batch === 0) {
      throw new OptionError(
        `--resume: ${out} has trained ${epoch} of ${saved.train.epochs} epochs already; pass ` +
          `--epochs N with N > ${epoch} to train further`,
      );
    }
    if (epoch >= saved.train.epochs) {
      throw new OptionError(
        `--epochs ${saved.train.epochs}: ${out} is partway through epoch ${epoch + 1}; pass ` +
          `--epochs ${epoch + 1} or more`,
      );
    }
  } else {
    const existing = await Deno.stat(runFile(out, MODEL_FILE)).catch(() => null);
    if (existing) {
      throw new OptionError(
        `--out ${out}: it holds a checkpoint already; pass --resume to continue it, or another --out`,
      );
    }
  }

  const reward = await loadReward(saved ? saved.reward.spec : rewardSpec, {
    opts: saved ? (flags.rewardOpt ?? saved.reward.options) : (flags.rewardOpt ?? []),
    timeoutMs: p.timeoutMs,
    cwd: invocationDir(),
  });
  try {
    if (saved && JSON.stringify(reward.metadata.options) !== JSON.stringify(saved.reward.options)) {
      throw new OptionError(
        `--reward-opt ${flags.rewardOpt?.join(" ")}: ${out} was trained with reward options ` +
          `${JSON.stringify(saved.reward.options)}; a resumed run keeps its config`,
      );
    }
    const seed = saved ? saved.train.seed : seedForName;
    const datasetSpec = saved ? saved.dataset : fresh.spec;
    const validation = saved ? saved.validation : p.validation ?? defaultValidation(fresh.spec);
    const ds = await loadDataset(
      datasetSpec,
      saved ? datasetOptionsOf(saved) : {
        ...fresh.options,
        seed,
        validation: validation > 0 ? validation : undefined,
      },
    );
    const config: RunConfig = saved ?? resolveRunConfig({
      version: RUN_CONFIG_VERSION,
      dataset: datasetSpec,
      data: dataConfigOf(ds, fresh.options.fit),
      limit: p.limit ?? null,
      validation,
      plateau: p.plateau ?? 0,
      reward: reward.metadata,
      model: resolveRamConfig({
        height: ds.height,
        width: ds.width,
        classes: ds.classes,
        ...retinaDefaultsFor(Math.max(ds.height, ds.width)),
        patch: p.patch,
        scales: p.scales,
        glimpses: p.glimpses,
      }),
      train: resolveTrainConfig({
        epochs: p.epochs,
        batch: p.batch,
        lr: p.lr,
        policyLr: p.policyLr,
        baselineLr: p.baselineLr,
        seed,
      }),
      vae: vaeFromFlags(flags),
      cls: clsFromFlags(flags),
    }, "options");
    checkDataFitsModel(ds, config.model, out);
    const data: TrainData = {
      train: config.limit ? limitSplit(ds.train, config.limit) : ds.train,
      validation: ds.validation,
      test: ds.test,
    };

    // The full config is a file away; the terminal gets one line unless --verbose asks for it.
    const m = config.model, t = config.train;
    view.line(
      `${resume ? "resuming" : "training"} ${out}: ${m.glimpses} glimpses of ${m.patch}×` +
        `${m.patch}${m.scales > 1 ? `×${m.scales}` : ""}, ${m.core} ${m.hidden}, ` +
        `${t.epochs} epochs of batch ${t.batch}, lr ${t.lr}, seed ${t.seed}` +
        `${config.vae ? ", with the VAE probe" : ""} (config: ${runFile(out, CONFIG_FILE)}` +
        `${flags.verbose ? "" : "; --verbose prints it"})`,
    );
    if (flags.verbose) view.line(JSON.stringify(config, null, 2));
    view.batchSize = config.train.batch;
    const opened = await openBackend(backendName, config.model, config.train.seed);
    const vae = await openProbe(opened.backend, config).catch((e) => {
      opened.close();
      throw e;
    });
    const cls = await openClassProbe(opened.backend, config).catch((e) => {
      vae?.dispose();
      opened.close();
      throw e;
    });
    try {
      view.line(`backend: ${opened.description}; ${opened.decision.reason}`);
      view.line(
        `data: ${ds.name}, ${data.train.size} training images` +
          (data.validation ? `, ${data.validation.size} validation` : "") +
          `, ${data.test?.size ?? 0} test; reward ${reward.name}` +
          (resume ? `; from epoch ${resume.meta.epoch}, batch ${resume.meta.batch}` : ""),
      );

      const stop = new AbortController();
      const onSigint = () => {
        stop.abort();
        // A second Ctrl-C gets the default behaviour: quit at once.
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
          vae: vae ?? undefined,
          cls: cls ?? undefined,
          stop: stop.signal,
          onStep: (s) => view.step(s),
          onEpoch: (e) => view.epoch(e, config.train.epochs),
          onEvaluate: (what, n) => view.status(`evaluating on ${n} ${what} images…`),
          onLr: (lr, epoch) =>
            view.line(`validation stalled: lr lowered to ${lr} after epoch ${epoch}`),
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
            (result.testError === null
              ? ""
              : `, test error ${(100 * result.testError).toFixed(2)}%`) +
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
    } finally {
      vae?.dispose();
      cls?.dispose();
      opened.close();
    }
  } finally {
    await reward.close();
  }
}
