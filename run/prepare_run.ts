/**
 * Setting a training run up, as the library owns it: the run config resolved from options (a
 * new run) or from the saved checkpoint (`resume`, where only `epochs` may change), the run
 * folder locked (run_lock.ts: one writer; an interrupted checkpoint commit finished or discarded,
 * stale temporary files removed), the reward loaded, the data loaded and checked against the
 * model, the backend and the probe opened. `glimpse train` is this plus {@link train} and
 * progress; a script does the same in a few lines (mod.ts exports {@link prepareRun}).
 *
 * Errors about options are {@link RunOptionError}s worded with the option's name
 * ("option lr 0.1: runs/x was trained with 0.0003, …"), so that a caller maps them to its own
 * spelling (the CLI to `--lr`).
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import {
  DEFAULT_TRAIN,
  resolveRamConfig,
  resolveTrainConfig,
  retinaDefaultsFor,
  type Schedule,
} from "../ram/config.ts";
import { type Checkpoint, loadCheckpoint, MODEL_FILE, runFile } from "./checkpoint.ts";
import {
  dataConfigOf,
  datasetOptionsOf,
  resolveRunConfig,
  RUN_CONFIG_VERSION,
  type RunConfig,
} from "./run_config.ts";
import { MNIST_VALIDATION_DEFAULT } from "../datasets/mnist_official.ts";
import { limitSplit, type TrainData } from "./trainer.ts";
import { loadDataset, type LoadedDataset } from "../datasets/load.ts";
import { checkDataFitsModel, type DataChoice } from "./run_data.ts";
import { loadReward } from "../rewards/loader.ts";
import type { SandboxedReward } from "../rewards/sandbox.ts";
import { type BackendName, openBackend, type OpenedBackend } from "./backend.ts";
import { lockRunFolder } from "./run_lock.ts";
import { createVaeFor, type Vae } from "../probe/vae.ts";
import { resolveVaeRunConfig } from "../probe/vae_config.ts";
import { type ClassProbe, createClassProbeFor, resolveClsRunConfig } from "../probe/cls.ts";
import { pathExists } from "../util/read_regular.ts";
import { checkRamFitsDevice } from "../ram/gpu_program.ts";

/** A bad option value or combination; `option` is its name in {@link RunOptions}. */
export class RunOptionError extends Error {
  /** `option`: which option was wrong; `message`: one line saying how, with its value. */
  constructor(readonly option: keyof RunOptions, message: string) {
    super(message);
    this.name = "RunOptionError";
  }
}

/** What a training run is asked to be; undefined where not given (defaults, or the saved run's). */
export interface RunOptions {
  /** The run folder. */
  out: string;
  /** Continue the run in `out` (its saved config; only `epochs` may change). */
  resume?: boolean;
  /** The data of a new run (spec and options; the spec defaults to mnist). */
  data: DataChoice;
  /** The dataset as explicitly given (checked against the saved run on resume). */
  dataset?: string;
  /** Retina patch side g in pixels; default from the image size (ram/config.ts). */
  patch?: number;
  /** Retina scales k; default from the image size. */
  scales?: number;
  /** Glimpses T per image; default 6. */
  glimpses?: number;
  /** Epochs to train to (the one option a resumed run may change). */
  epochs?: number;
  /** Images per step; default 128. */
  batch?: number;
  /** Adam learning rate of the RAM; default 3e-4. */
  lr?: number;
  /** Learning rate of the policy (location) group; undefined: lr. */
  policyLr?: number;
  /** Learning rate of the baseline group; undefined: lr. */
  baselineLr?: number;
  /** Learning-rate schedule over the epochs; undefined: "constant". */
  schedule?: Schedule;
  /** Seed of initialisation, batches and sampling; default 1. */
  seed?: number;
  /** Train on the first `limit` training images only. */
  limit?: number;
  /** Validation hold-out: a fraction in [0, 1) or a count; undefined: {@link defaultValidation}. */
  validation?: number;
  /** Halve the learning rates after this many epochs without a better validation accuracy. */
  plateau?: number;
  /** Reward spec (built-in name or module path; default classification) and its k=v options. */
  reward?: string;
  /** The reward's options as `key=value` strings. */
  rewardOptions?: string[];
  /** Milliseconds the reward plugin may take on one batch before the run fails. */
  rewardTimeoutMs?: number;
  /**
   * The folder a relative reward path resolves against (default Deno.cwd(); the CLI passes
   * invocationDir(), where the user ran `deno task`).
   */
  rewardCwd?: string;
  /** false: no VAE probe. */
  vae?: boolean;
  /** 1-based epoch the probe starts training at. */
  vaeStart?: number;
  /** Glimpses per image the VAE probe steps on (probe/vae_config.ts rowsPerImage; default 1). */
  vaeRows?: number;
  /** Share of a batch's images the VAE probe steps on (probe/vae_config.ts imageFraction; 0.5). */
  vaeImages?: number;
  /** false: no class probe. */
  cls?: boolean;
  /** 1-based epoch the class probe starts training at. */
  clsStart?: number;
  /** Where the RAM runs: "cpu", "webgpu" or "auto" (ram/choose_backend.ts decides). */
  backend: BackendName;
}

/** A run ready to {@link train}: release everything with close(). */
export interface PreparedRun {
  /** The run folder (locked until close()). */
  out: string;
  /** The resolved config, as saved next to the checkpoint. */
  config: RunConfig;
  /** The checkpoint to continue (loaded with its optimizer) when resuming. */
  resume?: Checkpoint;
  /** The dataset as loaded (name, sizes, class names). */
  dataset: LoadedDataset;
  /** Its training, validation and test splits as the trainer takes them (limit applied). */
  data: TrainData;
  /** The reward plugin, running sandboxed; its `fn` goes to the trainer. */
  reward: SandboxedReward;
  /** The RAM on its backend, with what chose it. */
  opened: OpenedBackend;
  /** The VAE probe (trains alongside from config.vae.start); null without. */
  vae: Vae | null;
  /** The class probe (trains alongside from config.cls.start); null without. */
  cls: ClassProbe | null;
  /** Lines about the folder (a stale lock taken over, a commit finished, files removed). */
  notes: string[];
  /**
   * Closes the probe, backend and reward and releases the lock; a new run that wrote no
   * checkpoint leaves no folder behind (when the folder is otherwise empty).
   */
  close(): Promise<void>;
}

/** The class probe for `config` on the RAM's backend and device, seeded from the run; null without. */
export async function openClassProbe(
  ram: RamBackend,
  config: RunConfig,
): Promise<ClassProbe | null> {
  if (!config.cls) return null;
  return await createClassProbeFor(ram, config.cls, config.train.seed);
}

/** The probe for `config` on the RAM's backend and device, seeded from the run; null without. */
export async function openProbe(ram: RamBackend, config: RunConfig): Promise<Vae | null> {
  if (!config.vae) return null;
  const { hidden, latent, pixels, lr } = config.vae;
  return await createVaeFor(ram, { hidden, latent, pixels, lr }, config.train.seed);
}

/**
 * The validation hold-out of a new run when none is given: 5,000 of the official MNIST's 60,000
 * training images (the peers' split), none elsewhere (mnist-10k keeps its 7,996).
 */
export function defaultValidation(spec: string): number {
  return spec === "mnist" ? MNIST_VALIDATION_DEFAULT : 0;
}

function resumeMismatch(o: RunOptions, config: RunConfig): [keyof RunOptions, unknown, unknown][] {
  const d = o.data.options;
  return [
    ["dataset", o.dataset, config.dataset],
    ["data", d.variant, config.data.variant],
    ["data", d.canvas, config.data.canvas ?? undefined],
    ["data", d.distractors, config.data.distractors ?? undefined],
    ["data", d.distractorSize, config.data.distractorSize ?? undefined],
    ["data", d.fit, config.data.fit ?? undefined],
    ["patch", o.patch, config.model.patch],
    ["scales", o.scales, config.model.scales],
    ["glimpses", o.glimpses, config.model.glimpses],
    ["batch", o.batch, config.train.batch],
    ["lr", o.lr, config.train.lr],
    ["policyLr", o.policyLr, config.train.policyLr ?? undefined],
    ["baselineLr", o.baselineLr, config.train.baselineLr ?? undefined],
    ["schedule", o.schedule, config.train.schedule],
    ["seed", o.seed, config.train.seed],
    ["limit", o.limit, config.limit ?? undefined],
    ["validation", o.validation, config.validation || undefined],
    ["plateau", o.plateau, config.plateau || undefined],
    ["reward", o.reward, config.reward.spec],
  ];
}

const DATA_KEYS = ["variant", "canvas", "distractors", "distractorSize", "fit"] as const;

/** On resume, options that would change the saved run are refused (only epochs may change). */
function checkResume(o: RunOptions, ckpt: Checkpoint): RunConfig {
  let config = ckpt.meta.config;
  for (const [name, given, was] of resumeMismatch(o, config)) {
    if (given === undefined || given === was) continue;
    let option: string = name;
    if (name === "data") {
      const key = DATA_KEYS.find((k) => o.data.options[k] === given)!;
      option = key;
    }
    throw new RunOptionError(
      name,
      `option ${option} ${given}: ${o.out} was trained with ` +
        `${was === undefined ? "none" : was}, and a resumed run keeps its config (only epochs ` +
        "may change)",
    );
  }
  const probes = [
    { key: "vae", start: "vaeStart", what: "the VAE probe" },
    { key: "cls", start: "clsStart", what: "the class probe" },
  ] as const;
  for (const p of probes) {
    const saved = config[p.key] ?? null;
    if (o[p.key] === false && saved) {
      throw new RunOptionError(
        p.key,
        `option ${p.key} false: ${o.out} trains ${p.what}, and a resumed run keeps its config ` +
          "(only epochs may change)",
      );
    }
    const start = o[p.start];
    if (start !== undefined && start !== saved?.start) {
      throw new RunOptionError(
        p.start,
        `option ${p.start} ${start}: ${o.out} was trained with ` +
          (saved ? `option ${p.start} ${saved.start}` : `option ${p.key} false`) +
          ", and a resumed run keeps its config (only epochs may change)",
      );
    }
  }
  const vaeKeys = [["vaeRows", config.vae?.rowsPerImage], ["vaeImages", config.vae?.imageFraction]];
  for (const [key, saved] of vaeKeys as ["vaeRows" | "vaeImages", number | undefined][]) {
    if (o[key] !== undefined && o[key] !== saved) {
      throw new RunOptionError(
        key,
        `option ${key} ${o[key]}: ${o.out} was trained with ` +
          (config.vae ? `option ${key} ${saved}` : "option vae false") +
          ", and a resumed run keeps its config (only epochs may change)",
      );
    }
  }
  if (o.epochs !== undefined) config = { ...config, train: { ...config.train, epochs: o.epochs } };
  const { epoch, batch } = ckpt.meta;
  if (epoch >= config.train.epochs && batch === 0) {
    throw new RunOptionError(
      "epochs",
      `option resume: ${o.out} has trained ${epoch} of ${config.train.epochs} epochs already; ` +
        `give option epochs N with N > ${epoch} to train further`,
    );
  }
  if (epoch >= config.train.epochs) {
    throw new RunOptionError(
      "epochs",
      `option epochs ${config.train.epochs}: ${o.out} is partway through epoch ${epoch + 1}; ` +
        `give ${epoch + 1} or more`,
    );
  }
  return config;
}

/**
 * Sets up the training run `options` describes (see the module doc): config, locked run folder,
 * reward, data, backend and probes. The caller trains it with {@link train} on the prepared
 * fields and closes it, whatever happens; `glimpse train` is exactly this plus progress.
 *
 * @example Train a small new run in a folder of its own
 * ```ts
 * import { prepareRun } from "./prepare_run.ts";
 * import { train } from "./trainer.ts";
 * const out = await Deno.makeTempDir();
 * const run = await prepareRun({
 *   out, data: { spec: "mnist-10k", options: {} }, limit: 64, validation: 0,
 *   glimpses: 2, epochs: 1, batch: 32, vae: false, cls: false, backend: "cpu",
 * });
 * try {
 *   const result = await train({
 *     backend: run.opened.backend, data: run.data, config: run.config, reward: run.reward.fn,
 *     out: run.out, resume: run.resume, vae: run.vae ?? undefined, cls: run.cls ?? undefined,
 *   });
 *   console.log(`${run.out}: ${result.step} steps, nll ${result.metrics.at(-1)?.nll}`);
 * } finally {
 *   await run.close();
 * }
 * ```
 */
export async function prepareRun(options: RunOptions): Promise<PreparedRun> {
  const { out } = options;
  if (options.plateau !== undefined && options.validation === undefined && !options.resume) {
    throw new RunOptionError(
      "plateau",
      `option plateau ${options.plateau}: needs option validation to watch`,
    );
  }
  for (const key of ["vaeRows", "vaeImages"] as const) {
    if (options.vae === false && options[key] !== undefined && !options.resume) {
      throw new RunOptionError(
        key,
        `option ${key} ${options[key]}: the VAE probe is off (option vae false)`,
      );
    }
  }
  if (options.vae === false && options.vaeStart !== undefined && !options.resume) {
    throw new RunOptionError(
      "vaeStart",
      `option vaeStart ${options.vaeStart}: the VAE probe is off (option vae false)`,
    );
  }
  if (options.cls === false && options.clsStart !== undefined && !options.resume) {
    throw new RunOptionError(
      "clsStart",
      `option clsStart ${options.clsStart}: the class probe is off (option cls false)`,
    );
  }
  // Refuse early, before the lock, what needs no lock to tell.
  if (!options.resume && (await pathExists(runFile(out, MODEL_FILE)))) {
    throw new RunOptionError(
      "out",
      `option out ${out}: it holds a checkpoint already; pass option resume to continue it, or another folder`,
    );
  }
  const lock = await lockRunFolder(out, options.resume ? "a resumed training" : "a training");
  const closers: (() => void | Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c();
    closers.length = 0;
    const finished = await pathExists(runFile(out, MODEL_FILE));
    await lock.release();
    // A new run that never wrote a checkpoint leaves nothing behind (the folder only if empty).
    if (!options.resume && !finished) await Deno.remove(out).catch(() => {});
  };
  try {
    let resume: Checkpoint | undefined;
    let saved: RunConfig | undefined;
    if (options.resume) {
      resume = await loadCheckpoint(out, { optimizer: true });
      saved = checkResume(options, resume);
    } else if (await pathExists(runFile(out, MODEL_FILE))) {
      // A commit finished while taking the lock.
      throw new RunOptionError(
        "out",
        `option out ${out}: it holds a checkpoint already; pass option resume to continue it, or another folder`,
      );
    }
    const reward = await loadReward(
      saved ? saved.reward.spec : options.reward ?? "classification",
      {
        opts: saved
          ? (options.rewardOptions ?? saved.reward.options)
          : (options.rewardOptions ?? []),
        timeoutMs: options.rewardTimeoutMs,
        cwd: options.rewardCwd,
      },
    );
    closers.push(() => reward.close());
    if (saved && JSON.stringify(reward.metadata.options) !== JSON.stringify(saved.reward.options)) {
      throw new RunOptionError(
        "rewardOptions",
        `option rewardOptions ${options.rewardOptions?.join(" ")}: ${out} was trained with ` +
          `reward options ${JSON.stringify(saved.reward.options)}; a resumed run keeps its config`,
      );
    }
    const seed = saved ? saved.train.seed : options.seed ?? DEFAULT_TRAIN.seed;
    const fresh = options.data;
    const validation = saved
      ? saved.validation
      : options.validation ?? defaultValidation(fresh.spec);
    const ds = await loadDataset(
      saved ? saved.dataset : fresh.spec,
      saved ? datasetOptionsOf(saved) : {
        ...fresh.options,
        seed,
        validation: validation > 0 ? validation : undefined,
      },
    );
    const retina = retinaDefaultsFor(Math.max(ds.height, ds.width));
    const config: RunConfig = saved ?? resolveRunConfig({
      version: RUN_CONFIG_VERSION,
      dataset: fresh.spec,
      data: dataConfigOf(ds, fresh.options.fit),
      limit: options.limit ?? null,
      validation,
      plateau: options.plateau ?? 0,
      reward: reward.metadata,
      model: resolveRamConfig({
        height: ds.height,
        width: ds.width,
        classes: ds.classes,
        ...retina,
        // an option left out keeps the canvas's retina default (undefined would reset it to 8×8×1)
        patch: options.patch ?? retina.patch,
        scales: options.scales ?? retina.scales,
        glimpses: options.glimpses,
      }),
      train: resolveTrainConfig({
        epochs: options.epochs,
        batch: options.batch,
        lr: options.lr,
        policyLr: options.policyLr,
        baselineLr: options.baselineLr,
        schedule: options.schedule,
        seed,
      }),
      vae: options.vae === false ? null : resolveVaeRunConfig({
        start: options.vaeStart,
        rowsPerImage: options.vaeRows,
        imageFraction: options.vaeImages,
      }),
      cls: options.cls === false ? null : resolveClsRunConfig({ start: options.clsStart }),
    }, "options");
    checkDataFitsModel(ds, config.model, out);
    const data: TrainData = {
      train: config.limit ? limitSplit(ds.train, config.limit) : ds.train,
      validation: ds.validation,
      test: ds.test,
    };
    const opened = await openBackend(options.backend, config.model, config.train.seed);
    closers.push(() => opened.close());
    if (opened.gpu) {
      checkRamFitsDevice(opened.gpu, config.model, config.train.batch, config.vae?.pixels);
    }
    const vae = await openProbe(opened.backend, config);
    if (vae) closers.push(() => vae.dispose());
    const cls = await openClassProbe(opened.backend, config);
    if (cls) closers.push(() => cls.dispose());
    return {
      out,
      config,
      resume,
      dataset: ds,
      data,
      reward,
      opened,
      vae,
      cls,
      notes: lock.notes,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
