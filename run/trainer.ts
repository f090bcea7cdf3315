/**
 * The training loop: epochs of seeded shuffled batches through a {@link RamBackend}, a
 * checkpoint and a metrics.jsonl line after every epoch, optional validation with a plateau
 * schedule, a clean stop (checkpoint included) when asked, and exact resume.
 *
 * Determinism: every random draw comes from a stream derived from the seed and the position,
 * never from a generator carried across steps: the shuffle of epoch e from (seed, SHUFFLE, e),
 * the first locations and policy noise of batch k of epoch e from (seed, NOISE, e, k). A run
 * stopped after any step and resumed from its checkpoint therefore takes exactly the steps the
 * uninterrupted run would have taken (given the backend is deterministic).
 *
 * The probes (probe/step.ts) train alongside: the VAE probe (config `vae`) from epoch
 * `vae.start`, the class probe (config `cls`) from epoch `cls.start`. After every RAM step, one
 * step of each on the states of that step's own forward pass (handed out by the backend, so no
 * second forward pass); their states are saved in the same checkpoint and restored on resume.
 *
 * On the cpu backend the probe step runs one step behind the RAM: probe step k reads only RAM
 * step k's states and its own parameters, so it runs while RAM step k+1 does, with the same
 * numbers as the sequential path (TrainerOptions.probeWorker false, and the webgpu backend,
 * whose probes share its device). Where the RAM splits its steps over the cores (lanes), the
 * probe's parts run on the main thread in the lanes' gaps, the main thread's lane taking fewer
 * rows (probe/beside.ts); otherwise in a Worker on a core of its own (probe/pipeline.ts). The
 * trainer waits for it before the epoch's metrics and before every checkpoint, and a probe step
 * that fails is reported as the sequential path would report it, naming its own step. The one
 * difference: when a probe's loss becomes non-finite, the RAM it checks for divergence has by
 * then taken one more step.
 *
 * @module
 */
import type { Batch, RamBackend, StepNoise, StepResult } from "../ram/backend.ts";
import { scheduleFactor, type TrainConfig } from "../ram/config.ts";
import type { RunConfig } from "./run_config.ts";
import { Rng } from "../util/rng.ts";
import { evaluate } from "./evaluate.ts";
import {
  type Checkpoint,
  checkpointState,
  findNonFinite,
  NonFiniteStateError,
  runFile,
  saveCheckpoint,
} from "./checkpoint.ts";
import type { CommitHook } from "./checkpoint_commit.ts";
import { readRegularTextFile } from "../util/read_regular.ts";
import type { RewardFn } from "../rewards/types.ts";
import type { Split } from "../datasets/types.ts";
import { subset } from "../datasets/split.ts";
import { type Vae, VAE_NOISE_STREAM } from "../probe/vae.ts";
import type { ClassProbe } from "../probe/cls_api.ts";
import { addProbeStep, emptyProbeSums, ProbeStep, type ProbeSums } from "../probe/step.ts";
import { type ProbeOutcome, ProbePipeline } from "../probe/pipeline.ts";
import { ProbeBeside } from "../probe/beside.ts";

/** Random stream of the per-epoch shuffle. */
export const SHUFFLE_STREAM = 0x73687566; // "shuf"
/** Random stream of the per-batch first locations and policy noise. */
export const NOISE_STREAM = 0x6e6f6973; // "nois"
/** The metrics file in a run folder: one JSON object per completed epoch. */
export const METRICS_FILE = "metrics.jsonl";
/**
 * A RAM weight beyond this magnitude has diverged: initial weights are below 1 in magnitude and
 * trained ones stay within a few units, so a probe that fails on such a RAM's states is not to
 * blame.
 */
export const OVERSIZED_WEIGHT = 1e4;
/** Factor applied to the learning rate when validation accuracy plateaus. */
export const PLATEAU_FACTOR = 0.5;

/** The splits a run trains and evaluates on. */
export interface TrainData {
  /** Training split. */
  train: Split;
  /** Held-out slice: accuracy after every epoch, and the plateau schedule's signal. */
  validation?: Split;
  /** Test split: error after the last epoch. */
  test?: Split;
}

/** One line of metrics.jsonl. Loss parts and accuracy are means over the epoch's images. */
export interface EpochMetrics {
  /** 1-based epoch. */
  epoch: number;
  /** Adam steps taken so far. */
  step: number;
  /** Classification loss (negative log-likelihood of the label). */
  nll: number;
  /** Baseline regression loss. */
  baseline: number;
  /** REINFORCE loss of the location policy. */
  reinforce: number;
  /** Their weighted sum, what Adam minimises. */
  loss: number;
  /** Mean total reward Σ_t r_t per episode. */
  mean_reward: number;
  /** Accuracy at the last glimpse on the training batches (stochastic policy, as trained). */
  train_accuracy: number;
  /** Accuracy of the mean policy on the validation slice; null without one. */
  validation_accuracy: number | null;
  /** Error of the mean policy on the test split; computed after the last epoch, else null. */
  test_error: number | null;
  /** Training images this epoch. */
  images: number;
  /** Training images per second of training steps (evaluation time excluded). */
  images_per_second: number;
  /** Wall-clock seconds of the epoch, evaluation included. */
  seconds: number;
  /** Learning rate used in this epoch. */
  lr: number;
  /** Name of the reward. */
  reward: string;
  /** Probe loss (BCE + KL, nats per image and glimpse) over the epoch; null when it did not train. */
  vae_loss: number | null;
  /** Reconstruction part (binary cross-entropy) of the probe loss; null when it did not train. */
  vae_bce: number | null;
  /** KL part of the probe loss; null when it did not train. */
  vae_kl: number | null;
  /** Class probe: NLL (nats per state) and accuracy over all glimpses; null when it did not train. */
  cls_nll: number | null;
  /** Class probe accuracy over all glimpses; null when it did not train. */
  cls_accuracy: number | null;
}

/** Reported after every training step. */
export interface StepProgress {
  /** 1-based epoch. */
  epoch: number;
  /** Epochs of the whole run. */
  epochs: number;
  /** Batches done in this epoch, of `batches`. */
  batch: number;
  /** Batches in this epoch. */
  batches: number;
  /** Adam steps taken in total. */
  step: number;
  /** Running means over this epoch so far. */
  loss: number;
  /** Running training accuracy of the last glimpse over this epoch so far. */
  accuracy: number;
  /** Images per second since this call to train() began. */
  imagesPerSecond: number;
}

/** Inputs of {@link train}. */
export interface TrainerOptions {
  /** The RAM to train (its parameters are updated in place). */
  backend: RamBackend;
  /** The splits: train, and optionally validation and test. */
  data: TrainData;
  /** The run's resolved config; `train` holds epochs, batch, lr, λ and seed. */
  config: RunConfig;
  /** Reward of every glimpse of a batch of episodes. */
  reward: RewardFn;
  /**
   * The VAE probe on the backend's device, sized as config.vae says: required when config.vae
   * is set, refused otherwise.
   */
  vae?: Vae;
  /** The class probe on the backend's device: required when config.cls is set, refused otherwise. */
  cls?: ClassProbe;
  /** Run folder: config.json, model.safetensors, optimizer.safetensors, metrics.jsonl. */
  out: string;
  /** A checkpoint loaded with `optimizer: true` to continue from. */
  resume?: Checkpoint;
  /** When aborted, the current step finishes, a checkpoint is written and train() returns. */
  stop?: AbortSignal;
  /** Called after every step. */
  onStep?: (p: StepProgress) => void;
  /** Called after every epoch with its metrics. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Called before a validation or test evaluation starts. */
  onEvaluate?: (what: "validation" | "test", images: number) => void;
  /** Called when the plateau schedule lowers the learning rate. */
  onLr?: (lr: number, epoch: number) => void;
  /**
   * Also evaluate the test split after every `testEvery`-th epoch (the last epoch always is),
   * for a learning curve in metrics.jsonl's `test_error`; nothing reads it back, so it never
   * steers training. 0 or undefined: the last epoch only.
   */
  testEvery?: number;
  /** Crash simulation for tests: called at each point of every checkpoint commit. */
  commitHook?: CommitHook;
  /**
   * Run cpu probes one step behind the RAM, beside its lanes (probe/beside.ts) or in a Worker
   * (probe/pipeline.ts); the same numbers, on the other cores. Default true; false, webgpu
   * probes, or no Worker: after each RAM step on the main thread.
   */
  probeWorker?: boolean;
}

/** Where the probes run one step behind the RAM (see {@link openProbeSide}). */
export type ProbeSide<Tag> = ProbeBeside<Tag> | ProbePipeline<Tag>;

/**
 * Where `probe` trains one step behind `backend`, as the trainer runs it: beside the RAM's lanes
 * on the calling thread where its steps split over the cores (probe/beside.ts), else, for cpu
 * probes, in a Worker given a core of its own (probe/pipeline.ts; the backend gives up one
 * lane); null where neither applies (the caller steps the probes after each RAM step). The
 * choice is made for full batches of `probe.maxBatch`.
 */
export async function openProbeSide<Tag>(
  backend: RamBackend,
  probe: ProbeStep,
): Promise<ProbeSide<Tag> | null> {
  if (backend.hidesBeside?.(probe.maxBatch)) {
    return new ProbeBeside<Tag>({ probe, ram: backend.config, maxBatch: probe.maxBatch });
  }
  if (backend.name !== "cpu") return null;
  const pipeline = await ProbePipeline.open<Tag>({
    ram: backend.config,
    vae: probe.vae,
    cls: probe.cls,
    seed: probe.seed,
    maxBatch: probe.maxBatch,
    stream: probe.stream,
    vaeRowsPerImage: probe.vaeRowsPerImage,
    vaeImageFraction: probe.vaeImageFraction,
  });
  if (pipeline) backend.shareCore?.(); // the probes' Worker takes a core
  return pipeline;
}

/** What {@link train} did. */
export interface TrainResult {
  /** The run folder written. */
  out: string;
  /** Epochs completed in total (resumed ones included). */
  epochs: number;
  /** Adam steps taken in total. */
  step: number;
  /** True when stopped through `stop` before the last epoch ended. */
  interrupted: boolean;
  /** Batches done of the unfinished epoch when interrupted. */
  batch: number;
  /** Metrics of the epochs completed in this call. */
  metrics: EpochMetrics[];
  /** Test error after the last epoch, when a test split was given and training finished. */
  testError: number | null;
  /** Mean training images/s over this call's steps. */
  imagesPerSecond: number;
}

/** Sums over the steps of an epoch, saved in checkpoints so an interrupted epoch resumes whole. */
interface EpochSums extends ProbeSums {
  nll: number;
  baseline: number;
  reinforce: number;
  loss: number;
  reward: number;
  correct: number;
  images: number;
  trainSeconds: number;
  seconds: number;
}

/** Where a probe step was taken: epoch e, 0-based batch k, 1-based step `at`, n images. */
interface ProbeTag {
  e: number;
  k: number;
  at: number;
  n: number;
}

/** The trainer's own resume state (saved as JSON in optimizer.safetensors). */
interface TrainerState {
  lr: number;
  /** Best validation accuracy so far and epochs since it improved (plateau schedule). */
  best: number | null;
  stale: number;
  /** Sums of the unfinished epoch, when a checkpoint was written mid-epoch. */
  partial: EpochSums | null;
}

function emptySums(): EpochSums {
  return {
    nll: 0,
    baseline: 0,
    reinforce: 0,
    loss: 0,
    reward: 0,
    correct: 0,
    images: 0,
    trainSeconds: 0,
    seconds: 0,
    ...emptyProbeSums(),
  };
}

function addStep(s: EpochSums, r: StepResult, n: number, seconds: number): void {
  s.nll += r.nll * n;
  s.baseline += r.baseline * n;
  s.reinforce += r.reinforce * n;
  s.loss += r.loss * n;
  s.reward += r.reward * n;
  s.correct += r.accuracy * n;
  s.images += n;
  s.trainSeconds += seconds;
}

function readTrainerState(ckpt: Checkpoint, lr: number): TrainerState {
  const t = ckpt.optimizer?.trainer ?? {};
  const num = (v: unknown, fallback: number) => typeof v === "number" && isFinite(v) ? v : fallback;
  const p = t.partial as Partial<EpochSums> | null | undefined;
  let partial: EpochSums | null = null;
  if (p && typeof p === "object") {
    partial = emptySums();
    for (const k of Object.keys(partial) as (keyof EpochSums)[]) partial[k] = num(p[k], 0);
  }
  return {
    lr: num(t.lr, lr),
    best: typeof t.best === "number" ? t.best : null,
    stale: num(t.stale, 0),
    partial,
  };
}

/**
 * Keeps the first `limit` images of a split taken class by class in turn (image 0 of every
 * class, then image 1, …). The splits are stored class by class, so a plain prefix would be a
 * single class; this prefix is balanced and the same for every seed.
 *
 * @example
 * ```ts
 * import { limitSplit } from "./trainer.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * const small = limitSplit((await loadDataset("mnist-10k")).train, 300); // 30 images of each class
 * console.log(small.size, small.labels.slice(0, 12));
 * ```
 */
export function limitSplit(split: Split, limit: number): Split {
  if (limit >= split.size) return split;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < split.size; i++) {
    const l = split.labels[i];
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b).map((c) => byClass.get(c)!);
  const chosen = new Int32Array(limit);
  let n = 0;
  for (let round = 0; n < limit; round++) {
    for (const members of classes) {
      if (round < members.length && n < limit) chosen[n++] = members[round];
    }
  }
  return subset(split, chosen);
}

/** Reads metrics.jsonl, keeping the lines of epochs ≤ `upTo` (later ones are redone). */
async function readMetrics(file: string, upTo: number): Promise<string[]> {
  let text: string;
  try {
    text = await readRegularTextFile(file);
  } catch (e) {
    if ((e as Error).message.endsWith(": no such file")) return [];
    throw e;
  }
  const kept: string[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let epoch: unknown;
    try {
      epoch = (JSON.parse(line) as { epoch?: unknown }).epoch;
    } catch {
      throw new Error(`Cannot read "${file}": line ${i + 1} is not JSON`);
    }
    if (typeof epoch === "number" && epoch <= upTo) kept.push(line);
  }
  return kept;
}

/**
 * Trains `backend` for `config.train.epochs` epochs (continuing from `resume` when given),
 * writing the run folder as it goes.
 *
 * @example
 * ```ts
 * import { train } from "./trainer.ts";
 * import { limitSplit } from "./trainer.ts";
 * import { resolveRunConfig } from "./run_config.ts";
 * import { CpuRam } from "../ram/cpu.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * import { bindReward } from "../rewards/check.ts";
 * import classification from "../rewards/classification.ts";
 * const config = resolveRunConfig({
 *   dataset: "mnist-10k", limit: 64, validation: 0, plateau: 0,
 *   reward: { spec: "classification", name: "classification", options: {} },
 *   model: { glimpses: 2 }, train: { epochs: 1, batch: 32 },
 * });
 * const ds = await loadDataset("mnist-10k");
 * const ac = new AbortController(); // abort() finishes the step, writes a checkpoint, returns
 * const result = await train({
 *   backend: new CpuRam(config.model, 1), config, out: await Deno.makeTempDir(),
 *   data: { train: limitSplit(ds.train, 64), test: limitSplit(ds.test, 20) },
 *   reward: bindReward(classification, {}), stop: ac.signal,
 * });
 * console.log(result.testError);
 * ```
 */
export async function train(options: TrainerOptions): Promise<TrainResult> {
  const { backend, data, config, reward, out, resume, stop, vae, cls } = options;
  const { batch: B, epochs, seed } = config.train;
  const { height: H, width: W, glimpses: T } = backend.config;
  const N = data.train.size;
  if (N === 0) throw new Error("train: the training split holds no images");
  for (const [key, value] of Object.entries(config.model)) {
    const got = (backend.config as unknown as Record<string, unknown>)[key];
    if (got !== value) {
      throw new Error(
        `train: the backend's model config has ${key} = ${got}, the run config ${value}`,
      );
    }
  }
  const batches = Math.ceil(N / B);
  if (!config.vae !== !vae) {
    throw new Error(
      config.vae
        ? "train: the run config has a VAE probe (vae) but no probe was given"
        : "train: a VAE probe was given but the run config has none (vae is null)",
    );
  }
  if (!config.cls !== !cls) {
    throw new Error(
      config.cls
        ? "train: the run config has a class probe (cls) but no probe was given"
        : "train: a class probe was given but the run config has none (cls is null)",
    );
  }
  const vaeRows = config.vae?.rowsPerImage ?? backend.config.glimpses;
  const vaeShare = config.vae?.imageFraction ?? 1;
  const probe = vae || cls
    ? new ProbeStep(backend, vae ?? null, seed, B, VAE_NOISE_STREAM, cls ?? null, vaeRows, vaeShare)
    : null;
  const vaeStart = config.vae?.start ?? Infinity;
  const clsStart = config.cls?.start ?? Infinity;

  let epoch = 0, batchDone = 0, step = 0;
  let state: TrainerState = { lr: config.train.lr, best: null, stale: 0, partial: null };
  if (resume) {
    if (!resume.optimizer) throw new Error("train: resume needs a checkpoint with its optimizer");
    backend.setState(checkpointState(resume));
    if (vae) {
      if (!resume.vae) throw new Error("train: the checkpoint to resume holds no VAE probe");
      vae.setState(resume.vae);
    }
    if (cls) {
      if (!resume.cls) throw new Error("train: the checkpoint to resume holds no class probe");
      cls.setState(resume.cls);
    }
    ({ epoch, batch: batchDone, step } = resume.meta);
    if (batchDone >= batches) {
      throw new Error(
        `train: the checkpoint stopped after batch ${batchDone} of epoch ${epoch + 1}, which ` +
          `has only ${batches} batches now (did the training data change?)`,
      );
    }
    state = readTrainerState(resume, config.train.lr);
  }
  const side = probe && options.probeWorker !== false
    ? await openProbeSide<ProbeTag>(backend, probe).catch((err) => {
      throw new Error(
        `train: the probes' Worker did not start: ${(err as Error).message}; --no-probe-worker ` +
          `(probeWorker: false) steps them on the main thread`,
      );
    })
    : null;
  try {
    const metricsFile = runFile(out, METRICS_FILE);
    const lines = await readMetrics(metricsFile, epoch);
    const metrics: EpochMetrics[] = [];

    // Step buffers, allocated once: a full batch, and views for the epoch's last partial batch.
    const images = new Float32Array(B * H * W); // (B, H, W)
    const labels = new Int32Array(B); // (B)
    const start = new Float32Array(B * 2); // (B, 2)
    const policy = new Float32Array((T - 1) * B * 2); // (T−1, B, 2)
    const indices = new Int32Array(B);
    const full: Batch = { size: B, images, labels };
    const fullNoise: StepNoise = { start, policy };
    const rest = N % B;
    const last: Batch = rest === 0 ? full : {
      size: rest,
      images: images.subarray(0, rest * H * W),
      labels: labels.subarray(0, rest),
    };
    const lastNoise: StepNoise = rest === 0 ? fullNoise : {
      start: start.subarray(0, rest * 2),
      policy: policy.subarray(0, (T - 1) * rest * 2),
    };
    // The plateau schedule scales every group's learning rate by the same factor.
    const scaledTrain = (lr: number): TrainConfig => {
      const f = config.train.lr > 0 ? lr / config.train.lr : 1;
      const { policyLr, baselineLr } = config.train;
      return {
        ...config.train,
        lr,
        policyLr: policyLr === null ? null : policyLr * f,
        baselineLr: baselineLr === null ? null : baselineLr * f,
      };
    };
    let trainCfg: TrainConfig = scaledTrain(state.lr);
    let callImages = 0, callSeconds = 0;
    let testError: number | null = null;

    // The step of the checkpoint in `out`, if any: what a failure leaves the user.
    let savedStep: number | null = resume ? resume.meta.step : null;
    const kept = () =>
      savedStep === null
        ? "no checkpoint was written"
        : `${out} keeps its last good checkpoint (step ${savedStep})`;
    /** The error for non-finite training state found at epoch `e`, batch `k`, step `at` (1-based). */
    const nonFinite = (e: number, k: number, at: number, what: string, lrOf: string) =>
      new Error(
        `train: training went non-finite at epoch ${e}, batch ${k} (step ${at}): ${what}; ` +
          `lower ${lrOf}; ${kept()}`,
      );
    const nonFiniteState = (err: NonFiniteStateError) =>
      new Error(
        `train: training went non-finite by step ${step} (epoch ${epoch + (batchDone ? 1 : 0)}, ` +
          `batch ${batchDone}): ${err.message}; lower ` +
          `${
            err.part.startsWith("VAE")
              ? vaeLr()
              : err.part.startsWith("class probe")
              ? clsLr()
              : ramLr()
          }; ${kept()}`,
      );
    /** The first non-finite RAM tensor, as "RAM parameter "x" holds NaN", or null. */
    const ramNonFinite = async (): Promise<string | null> => {
      const s = await backend.getState();
      for (
        const [part, map] of [["parameter", s.params], ["Adam first moment", s.adamM], [
          "Adam second moment",
          s.adamV,
        ]] as const
      ) {
        const bad = findNonFinite(map);
        if (bad) return `RAM ${part} "${bad.name}" holds ${bad.value}`;
      }
      return null;
    };
    /** "RAM parameter "x" reached 1e9" when a weight is beyond any trained RAM's, else null. */
    const ramOversized = async (): Promise<string | null> => {
      let name = "", max = 0;
      for (const [n, { data }] of (await backend.getState()).params) {
        for (let i = 0; i < data.length; i++) {
          if (Math.abs(data[i]) > max) [name, max] = [n, Math.abs(data[i])];
        }
      }
      return max > OVERSIZED_WEIGHT
        ? `RAM parameter "${name}" reached ${max.toPrecision(3)}`
        : null;
    };
    const ramLr = () =>
      `option lr (${trainCfg.lr})` +
      (trainCfg.policyLr !== null ? ` or --policy-lr (${trainCfg.policyLr})` : "") +
      (trainCfg.baselineLr !== null ? ` or --baseline-lr (${trainCfg.baselineLr})` : "");
    const vaeLr = () => `the VAE probe's lr (config vae.lr, ${config.vae?.lr})`;
    const clsLr = () => `the class probe's lr (config cls.lr, ${config.cls?.lr})`;

    /** Adds a probe step's result to `sums`, or throws its error as the user should see it. */
    const takeProbe = async (sums: EpochSums, o: ProbeOutcome<ProbeTag> | null) => {
      if (!o) return;
      if (o.error === null) return addProbeStep(sums, o.result, o.tag.n);
      const { e, k, at } = o.tag;
      const m = /^(VAE probe|class probe): the loss became (\S+)/.exec(o.error.message);
      if (m === null) throw o.error;
      const [, who, loss] = m;
      // The probes read the RAM's states: a RAM that diverged in this step's update (NaN, or
      // weights far beyond any trained RAM's, whose states overflow the probe) makes a probe's
      // loss non-finite first, and is the part to blame.
      const ram = (await ramNonFinite()) ?? (await ramOversized());
      if (ram) throw nonFinite(e, k + 1, at, `${ram}; the ${who}'s loss became ${loss}`, ramLr());
      throw nonFinite(
        e,
        k + 1,
        at,
        `the ${who}'s loss became ${loss}`,
        who === "VAE probe" ? vaeLr() : clsLr(),
      );
    };

    const checkpoint = async (sums: EpochSums | null, metricsLines: string[]) => {
      const trainer: TrainerState = { ...state, partial: sums };
      await side?.syncTo(); // the host's probes take the Worker's state
      try {
        await saveCheckpoint(
          out,
          await backend.getState(),
          { config, epoch, step, batch: batchDone },
          trainer as unknown as Record<string, unknown>,
          vae ? await vae.getState() : undefined,
          {
            cls: cls ? await cls.getState() : undefined,
            files: { [METRICS_FILE]: metricsLines.map((l) => l + "\n").join("") },
            hook: options.commitHook,
          },
        );
      } catch (err) {
        throw err instanceof NonFiniteStateError ? nonFiniteState(err) : err;
      }
      savedStep = step;
    };

    // A run of zero epochs is its initial parameters; any other run writes its first checkpoint
    // after its first epoch (or on Ctrl-C), so one that fails at once leaves nothing to resume.
    if (!resume && epochs === 0) await checkpoint(null, lines);

    while (epoch < epochs) {
      const e = epoch + 1;
      // The schedule is a function of the epoch, so a resumed run trains at the same rates.
      trainCfg = scaledTrain(state.lr * scheduleFactor(config.train.schedule, e, epochs));
      const sums = state.partial ?? emptySums();
      state.partial = null;
      const epochStart = performance.now() - sums.seconds * 1000;
      const order = Rng.derive(seed, SHUFFLE_STREAM, e).permutation(N);
      const probeVae = vae !== undefined && e >= vaeStart;
      const probeCls = cls !== undefined && e >= clsStart;
      for (let k = batchDone; k < batches; k++) {
        const t0 = performance.now();
        const isLast = k === batches - 1;
        const batch = isLast ? last : full;
        const noise = isLast ? lastNoise : fullNoise;
        const n = batch.size;
        for (let j = 0; j < n; j++) indices[j] = order[k * B + j];
        const idx = n === B ? indices : indices.subarray(0, n);
        // Beside the lanes the probes' own buffers take the states and targets (no copies).
        const own = side instanceof ProbeBeside ? side : probe;
        data.train.fill(idx, e, batch.images, probeVae ? own!.clean(n) : undefined);
        for (let j = 0; j < n; j++) labels[j] = data.train.labels[idx[j]];
        const rng = Rng.derive(seed, NOISE_STREAM, e, k);
        rng.fillUniform(noise.start, -1, 1);
        rng.fillNormal(noise.policy);
        const hidden = probeVae || probeCls ? own!.hidden(n) : undefined;
        const which = { vae: probeVae, cls: probeCls };
        const beside = side instanceof ProbeBeside ? side.work(n, which) : undefined;
        const r = await backend.trainStep(batch, reward, noise, trainCfg, { hidden, beside });
        if (!Number.isFinite(r.loss)) {
          // Had the probe step before this one failed, the sequential path would have stopped there.
          await takeProbe(sums, (await side?.settle()) ?? null);
          const what = (await ramNonFinite()) ?? `the loss is ${r.loss}`;
          throw nonFinite(e, k + 1, step + 1, what, ramLr());
        }
        if (hidden) {
          const tag: ProbeTag = { e, k, at: step + 1, n };
          if (side) {
            // Hands this step on (to the Worker, or to the next RAM step's gaps) and takes the one
            // before; the epoch's last finishes here, so its time counts in the step's.
            const clean = probeVae ? own!.clean(n) : null;
            await takeProbe(sums, await side.post(hidden, clean, labels, n, e, k, which, tag));
            if (isLast) await takeProbe(sums, await side.settle());
          } else {
            let o: ProbeOutcome<ProbeTag>;
            try {
              o = {
                tag,
                result: await probe!.step(batch, noise, e, k, { hidden, ...which }),
                error: null,
              };
            } catch (err) {
              o = { tag, result: null, error: err as Error };
            }
            await takeProbe(sums, o);
          }
        }
        step++;
        batchDone = k + 1;
        const dt = (performance.now() - t0) / 1000;
        addStep(sums, r, n, dt);
        callImages += n;
        callSeconds += dt;
        options.onStep?.({
          epoch: e,
          epochs,
          batch: k + 1,
          batches,
          step,
          loss: sums.loss / sums.images,
          accuracy: sums.correct / sums.images,
          imagesPerSecond: sums.images / sums.trainSeconds,
        });
        if (stop?.aborted && !isLast) {
          await takeProbe(sums, (await side?.settle()) ?? null);
          sums.seconds = (performance.now() - epochStart) / 1000;
          await checkpoint(sums, lines);
          return {
            out,
            epochs: epoch,
            step,
            interrupted: true,
            batch: batchDone,
            metrics,
            testError: null,
            imagesPerSecond: callImages / callSeconds,
          };
        }
      }

      let validationAccuracy: number | null = null;
      if (data.validation) {
        options.onEvaluate?.("validation", data.validation.size);
        const v = await evaluate(backend, data.validation, { batch: B, seed });
        validationAccuracy = 1 - v.error;
      }
      const lrUsed = trainCfg.lr;
      if (validationAccuracy !== null) {
        if (state.best === null || validationAccuracy > state.best) {
          state.best = validationAccuracy;
          state.stale = 0;
        } else if (config.plateau > 0 && ++state.stale >= config.plateau) {
          state.lr *= PLATEAU_FACTOR;
          state.stale = 0;
          options.onLr?.(state.lr, e);
        }
      }
      let epochTestError: number | null = null;
      const testEvery = options.testEvery ?? 0;
      if ((e === epochs || (testEvery > 0 && e % testEvery === 0)) && data.test) {
        options.onEvaluate?.("test", data.test.size);
        epochTestError = (await evaluate(backend, data.test, { batch: B, seed })).error;
        if (e === epochs) testError = epochTestError;
      }
      epoch = e;
      batchDone = 0;
      const m: EpochMetrics = {
        epoch: e,
        step,
        nll: sums.nll / sums.images,
        baseline: sums.baseline / sums.images,
        reinforce: sums.reinforce / sums.images,
        loss: sums.loss / sums.images,
        mean_reward: sums.reward / sums.images,
        train_accuracy: sums.correct / sums.images,
        validation_accuracy: validationAccuracy,
        test_error: epochTestError,
        images: sums.images,
        images_per_second: sums.images / sums.trainSeconds,
        seconds: (performance.now() - epochStart) / 1000,
        lr: lrUsed,
        reward: config.reward.name,
        vae_loss: sums.vaeImages > 0 ? sums.vaeLoss / sums.vaeImages : null,
        vae_bce: sums.vaeImages > 0 ? sums.vaeBce / sums.vaeImages : null,
        vae_kl: sums.vaeImages > 0 ? sums.vaeKl / sums.vaeImages : null,
        cls_nll: sums.clsImages > 0 ? sums.clsNll / sums.clsImages : null,
        cls_accuracy: sums.clsImages > 0 ? sums.clsAccuracy / sums.clsImages : null,
      };
      // The metrics line is part of the checkpoint unit: a line never describes an epoch the
      // checkpoint does not hold, and an epoch the checkpoint holds always has its line.
      await checkpoint(null, [...lines, JSON.stringify(m)]);
      lines.push(JSON.stringify(m));
      metrics.push(m);
      options.onEpoch?.(m);
      if (stop?.aborted && epoch < epochs) {
        return {
          out,
          epochs: epoch,
          step,
          interrupted: true,
          batch: 0,
          metrics,
          testError: null,
          imagesPerSecond: callImages / callSeconds,
        };
      }
    }
    if (epochs === 0 && data.test) {
      options.onEvaluate?.("test", data.test.size);
      testError = (await evaluate(backend, data.test, { batch: B, seed })).error;
    }
    return {
      out,
      epochs: epoch,
      step,
      interrupted: false,
      batch: 0,
      metrics,
      testError,
      imagesPerSecond: callSeconds > 0 ? callImages / callSeconds : 0,
    };
  } finally {
    side?.close();
  }
}
