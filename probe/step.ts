/**
 * One training step of the probes on a batch: the RAM's recurrent states h_1..h_T (T, B, H) of
 * every image, and the VAE probe takes one Adam step on `rowsPerImage`·B of those rows against
 * the clean digits (B, 784). Used by the trainer (alongside the RAM) and by `probe` (on a frozen
 * RAM).
 *
 * Which rows the VAE probe reads (`vae.rowsPerImage` k of a run config, probe/vae_config.ts):
 * k = T is every row (T·B, DESIGN.md's "every glimpse"); k < T draws, for each image b, k
 * distinct glimpses uniformly from Rng.derive(seed, VAE_ROWS_STREAM, stream, epoch, batch)
 * ({@link vaeRowGlimpses}), and the probe steps on those k·B rows, row j·B + b the j-th drawn
 * glimpse of image b. Every glimpse of every image is then drawn with probability k/T, so the
 * step's loss and gradient are unbiased estimates of the all-rows mean, at k/T of its cost (the
 * VAE probe's step is the dominant cost of the probes: bench/probe_cost.ts). The draw is the
 * same on every backend and depends only on the seed and the batch's position, so runs stay
 * deterministic and resume exactly. The class probe always reads all T·B rows (it is cheap).
 *
 * Which images (`vae.imageFraction` f, probe/vae_config.ts): the VAE probe steps on the first
 * n' = ⌈f·n⌉ images of a batch of n (vaeImages), and on its k rows of each of them: k·n' rows
 * against n' targets, row j·n' + b the j-th drawn glimpse of image b, the draw as above for n'
 * images. The trainer's batches are a fresh permutation each epoch, so that is a uniformly drawn
 * subset and the estimate stays unbiased; f = 1 is the draw above exactly.
 *
 * Which states: those of the episodes the RAM trains on. Alongside training (run/trainer.ts) the
 * RAM's training step hands out the states of its own forward pass (TrainStepOptions.hidden), so
 * the probes cost no extra forward pass. That is exact: the probes read h_t detached, and those
 * states are bit for bit what a stochastic rollout with the same first locations and policy
 * noise gives before the step's update (the backends run the same forward code for both; the
 * tests check it on every backend). They are the states before the update, as the RAM's own
 * loss saw them; the probe once read a second rollout after the update instead, one step of the
 * RAM's parameters later. Where no training step runs (`probe` on a frozen RAM, probe/train.ts),
 * {@link ProbeStep.step} rolls the batch out itself with the given noise. The RAM's parameters
 * are only read.
 *
 * The class probe (probe/cls.ts), when given, takes one Adam step on the same states and the
 * batch's labels; either probe may be absent.
 *
 * The probe's ε (k·B, latent) comes from Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch) (or
 * another stream, see probe/train.ts), so a resumed run repeats it exactly.
 *
 * @module
 */
import type { Batch, RamBackend, StepNoise } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import { type Vae, VAE_NOISE_STREAM, type VaeStepResult } from "./vae.ts";
import type { ProbePhases } from "./vae_api.ts";
import type { ClassProbe, ClsStepResult } from "./cls_api.ts";
import { vaeImages } from "./vae_config.ts";

/** Random stream of the VAE probe's rows: Rng.derive(seed, VAE_ROWS_STREAM, stream, epoch, batch). */
export const VAE_ROWS_STREAM = 0x76616572; // "vaer"

/**
 * For each of B images, k distinct glimpses of 0..T−1 drawn uniformly (a partial Fisher–Yates
 * shuffle per image, images in order): (k, B), entry j·B + b the j-th glimpse of image b.
 *
 * @example
 * ```ts
 * import { vaeRowGlimpses } from "./step.ts";
 * import { Rng } from "../util/rng.ts";
 * const g = vaeRowGlimpses(6, 4, 1, new Rng(1)); // one glimpse in 0..5 for each of 4 images
 * ```
 */
export function vaeRowGlimpses(T: number, B: number, k: number, rng: Rng): Int32Array {
  if (!(Number.isInteger(k) && k >= 1 && k <= T)) {
    throw new Error(`VAE probe: ${k} rows per image is not a whole number in 1..${T}`);
  }
  const out = new Int32Array(k * B); // (k, B)
  const p = new Int32Array(T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) p[t] = t;
    for (let j = 0; j < k; j++) {
      const i = j + rng.int(T - j);
      const x = p[i];
      p[i] = p[j];
      p[j] = x;
      out[j * B + b] = x;
    }
  }
  return out;
}

/** Running sums of probe losses over an epoch (weighted by images). */
export interface ProbeSums {
  vaeLoss: number;
  vaeBce: number;
  vaeKl: number;
  /** Images of the batches the probe stepped on this epoch (the weights of its step means). */
  vaeImages: number;
  /** Class probe: NLL and accuracy (means over its rows, weighted by images). */
  clsNll: number;
  clsAccuracy: number;
  /** Images the class probe trained on this epoch. */
  clsImages: number;
}

/** What one probe step did: either part null when that probe is absent. */
export interface ProbeStepResult {
  vae: VaeStepResult | null;
  cls: ClsStepResult | null;
}

/** Options of {@link ProbeStep.step}. */
export interface ProbeStepOptions {
  /**
   * The batch's states (T, B, H) from the RAM's training step on the same noise
   * (TrainStepOptions.hidden); without them the step rolls the batch out.
   */
  hidden?: Float32Array;
  /** The clean targets (B, pixels) (default: {@link ProbeStep.clean}(B), filled by the caller). */
  clean?: Float32Array;
  /** Train the VAE probe (default: when there is one). */
  vae?: boolean;
  /** Train the class probe (default: when there is one). */
  cls?: boolean;
}

/**
 * What a probe step reads of its RAM: the sizes, and a rollout when no states are given (the
 * probe worker, probe/pipeline.ts, always gives them and has no RAM).
 */
export type ProbeRam = Pick<RamBackend, "config" | "rollout">;

/** Empty {@link ProbeSums}. */
export function emptyProbeSums(): ProbeSums {
  return { vaeLoss: 0, vaeBce: 0, vaeKl: 0, vaeImages: 0, clsNll: 0, clsAccuracy: 0, clsImages: 0 };
}

/**
 * Probe steps on rollouts of one RAM, with buffers for batches of up to `maxBatch` images.
 *
 * @example
 * ```ts ignore
 * import { ProbeStep } from "./step.ts";
 * const probe = new ProbeStep(ram, vae, seed, 128);
 * split.fill(indices, epoch, batch.images, probe.clean(batch.size));
 * const r = await probe.step(batch, noise, epoch, k); // r.loss, r.bce, r.kl
 * ```
 */
export class ProbeStep {
  readonly #clean: Float32Array; // (maxBatch, pixels)
  readonly #eps: Float32Array; // (T·maxBatch, latent)
  readonly #hidden: Float32Array; // (T·maxBatch, H)
  readonly #rows: Float32Array; // (k·maxBatch, H) the VAE probe's rows when k < T

  constructor(
    readonly ram: ProbeRam,
    readonly vae: Vae | null,
    readonly seed: number,
    readonly maxBatch: number,
    /** Stream of ε: Rng.derive(seed, stream, epoch, batch). */
    readonly stream: number = VAE_NOISE_STREAM,
    /** The class probe trained on the same states, if any. */
    readonly cls: ClassProbe | null = null,
    /** Rows per image k (1..T) the VAE probe steps on; T (default): every row. */
    readonly vaeRowsPerImage: number = ram.config.glimpses,
    /** Share f in (0, 1] of a batch's images the VAE probe steps on; 1 (default): all. */
    readonly vaeImageFraction = 1,
  ) {
    const T = ram.config.glimpses;
    if (!(Number.isInteger(vaeRowsPerImage) && vaeRowsPerImage >= 1 && vaeRowsPerImage <= T)) {
      throw new Error(
        `VAE probe: rowsPerImage ${vaeRowsPerImage} must be a whole number of glimpses in 1..${T}`,
      );
    }
    if (!(vaeImageFraction > 0 && vaeImageFraction <= 1)) {
      throw new Error(`VAE probe: imageFraction ${vaeImageFraction} must be in (0, 1]`);
    }
    if (!vae && !cls) throw new Error("probe step: neither a VAE nor a class probe was given");
    if (cls && cls.config.input !== ram.config.hidden) {
      throw new Error(
        `class probe: it reads ${cls.config.input} values per state, the RAM's hidden size is ` +
          `${ram.config.hidden}`,
      );
    }
    if (vae && vae.config.input !== ram.config.hidden) {
      throw new Error(
        `VAE probe: it reads ${vae.config.input} values per state, the RAM's hidden size is ` +
          `${ram.config.hidden}`,
      );
    }
    this.#clean = new Float32Array(maxBatch * (vae?.config.pixels ?? 0));
    const k = vae ? vaeRowsPerImage : 0;
    this.#eps = new Float32Array(k * maxBatch * (vae?.config.latent ?? 0));
    this.#hidden = new Float32Array(T * maxBatch * ram.config.hidden);
    const all = k === T && vaeImageFraction === 1;
    this.#rows = new Float32Array(all ? 0 : k * maxBatch * ram.config.hidden);
  }

  /** Images of a batch of `n` the VAE probe steps on: its first ⌈imageFraction·n⌉. */
  vaeImages(n: number): number {
    return vaeImages(n, this.vaeImageFraction);
  }

  /**
   * The glimpses the VAE probe reads for batch `k` of `epoch` of the `n` images it steps on
   * ({@link vaeImages}): (rowsPerImage, n) as {@link vaeRowGlimpses}, or null when it reads
   * every glimpse.
   */
  vaeGlimpses(n: number, epoch: number, k: number): Int32Array | null {
    const T = this.ram.config.glimpses;
    if (this.vaeRowsPerImage === T) return null;
    const rng = Rng.derive(this.seed, VAE_ROWS_STREAM, this.stream, epoch, k);
    return vaeRowGlimpses(T, n, this.vaeRowsPerImage, rng);
  }

  /** A buffer for the states (T, n, H) of a batch of `n`: pass it to the RAM's trainStep. */
  hidden(n: number): Float32Array {
    return this.#hidden.subarray(0, this.ram.config.glimpses * n * this.ram.config.hidden);
  }

  /** The clean-target buffer for a batch of `n` images (n, pixels): pass it to split.fill. */
  clean(n: number): Float32Array {
    return this.#clean.subarray(0, n * (this.vae?.config.pixels ?? 0));
  }

  /**
   * Trains the probes on the T·B states of `batch` (options.hidden, else a stochastic rollout
   * with first locations and policy noise from `noise`), the VAE probe against
   * {@link ProbeStep.clean}(batch.size), which the caller has filled. `epoch` and `k` pick ε.
   */
  async step(
    batch: Batch,
    noise: StepNoise,
    epoch: number,
    k: number,
    options: ProbeStepOptions = {},
  ): Promise<ProbeStepResult> {
    const B = batch.size;
    if (B > this.maxBatch) {
      throw new Error(`probe: batch of ${B} exceeds the ${this.maxBatch} it was set up for`);
    }
    const hidden = options.hidden ?? (await this.ram.rollout(batch, {
      stochastic: true,
      start: noise.start,
      policy: noise.policy,
    })).hidden;
    let vae: VaeStepResult | null = null, cls: ClsStepResult | null = null;
    if (this.vae && options.vae !== false) {
      const { rows, clean, eps } = this.#vaeInputs(hidden, B, epoch, k, options.clean);
      vae = this.#checkVae(await this.vae.trainStep(rows, clean, eps), epoch, k);
    }
    if (this.cls && options.cls !== false) {
      cls = this.#checkCls(await this.cls.trainStep(hidden, batch.labels), epoch, k);
    }
    return { vae, cls };
  }

  /**
   * {@link ProbeStep.step} on given states (options.hidden) in synchronous parts (probe/vae_api.ts
   * ProbePhases): the same work in the same order, so the same numbers bit for bit, for a caller
   * that runs the parts beside other work (probe/beside.ts). Needs probes with `phases` (the cpu
   * probes); ε and the rows are drawn here, and the sizes checked.
   */
  phased(
    batch: Batch,
    epoch: number,
    k: number,
    options: ProbeStepOptions & { hidden: Float32Array },
  ): ProbePhases<ProbeStepResult> {
    const B = batch.size;
    if (B > this.maxBatch) {
      throw new Error(`probe: batch of ${B} exceeds the ${this.maxBatch} it was set up for`);
    }
    const { hidden } = options;
    let vae: ProbePhases<VaeStepResult> | null = null;
    let cls: ProbePhases<ClsStepResult> | null = null;
    let fill: (() => void) | null = null;
    if (this.vae && options.vae !== false) {
      if (!this.vae.phases) throw new Error("probe: this VAE probe does not run in parts");
      const inputs = this.#vaeBuffers(hidden, B, options.clean);
      vae = this.vae.phases(inputs.rows, inputs.clean, inputs.eps);
      // ε and the rows are drawn in forward(), beside the RAM's next step, not here.
      fill = () => this.#fillVaeInputs(inputs, hidden, B, epoch, k);
    }
    if (this.cls && options.cls !== false) {
      if (!this.cls.phases) throw new Error("probe: this class probe does not run in parts");
      cls = this.cls.phases(hidden, batch.labels);
    }
    let result: ProbeStepResult | null = null;
    return {
      forward: () => {
        fill?.();
        vae?.forward();
        cls?.forward();
      },
      backward: () => {
        result = {
          vae: vae ? this.#checkVae(vae.backward(), epoch, k) : null,
          cls: cls ? this.#checkCls(cls.backward(), epoch, k) : null,
        };
        return result;
      },
      adam: () => {
        if (!result) throw new Error("probe: phases' adam() before backward()");
        vae?.adam();
        cls?.adam();
      },
    };
  }

  /** The VAE probe's rows (k·B, H) of `hidden`, its targets and its ε for batch k of epoch. */
  #vaeInputs(
    hidden: Float32Array,
    B: number,
    epoch: number,
    k: number,
    clean: Float32Array | undefined,
  ): VaeInputs {
    const inputs = this.#vaeBuffers(hidden, B, clean);
    this.#fillVaeInputs(inputs, hidden, B, epoch, k);
    return inputs;
  }

  /**
   * The buffers {@link #fillVaeInputs} fills for a batch of B: the rows (`hidden` itself when
   * the probe reads every row of every image), the first vaeImages(B) targets, and ε.
   */
  #vaeBuffers(hidden: Float32Array, B: number, clean: Float32Array | undefined): VaeInputs {
    const k = this.vaeRowsPerImage, H = this.ram.config.hidden, n = this.vaeImages(B);
    const all = k === this.ram.config.glimpses && n === B;
    const P = this.vae!.config.pixels;
    return {
      rows: all ? hidden : this.#rows.subarray(0, k * n * H),
      clean: (clean ?? this.clean(B)).subarray(0, n * P),
      eps: this.#eps.subarray(0, k * n * this.vae!.config.latent),
    };
  }

  /**
   * Draws batch k of epoch's rows of `hidden` (T, B, H) (row j·n + b: image b after its j-th
   * drawn glimpse, n = vaeImages(B)) and ε.
   */
  #fillVaeInputs(v: VaeInputs, hidden: Float32Array, B: number, epoch: number, k: number): void {
    const H = this.ram.config.hidden, n = this.vaeImages(B);
    const glimpses = this.vaeGlimpses(n, epoch, k);
    if (glimpses) {
      for (let r = 0; r < glimpses.length; r++) {
        const from = glimpses[r] * B + r % n;
        v.rows.set(hidden.subarray(from * H, (from + 1) * H), r * H);
      }
    } else if (n < B) {
      // Every glimpse of the first n images: row t·n + b is state t·B + b.
      for (let t = 0; t < this.ram.config.glimpses; t++) {
        v.rows.set(hidden.subarray(t * B * H, (t * B + n) * H), t * n * H);
      }
    }
    Rng.derive(this.seed, this.stream, epoch, k).fillNormal(v.eps);
  }

  #checkVae(r: VaeStepResult, epoch: number, k: number): VaeStepResult {
    if (!Number.isFinite(r.loss)) {
      throw new Error(
        `VAE probe: the loss became ${r.loss} at epoch ${epoch}, batch ${k + 1} ` +
          `(lr ${this.vae!.config.lr})`,
      );
    }
    return r;
  }

  #checkCls(r: ClsStepResult, epoch: number, k: number): ClsStepResult {
    if (!Number.isFinite(r.nll)) {
      throw new Error(
        `class probe: the loss became ${r.nll} at epoch ${epoch}, batch ${k + 1} ` +
          `(lr ${this.cls!.config.lr})`,
      );
    }
    return r;
  }
}

/** The VAE probe's inputs for one step (views of ProbeStep's buffers, or of the states). */
interface VaeInputs {
  rows: Float32Array;
  clean: Float32Array;
  eps: Float32Array;
}

/** Adds one probe step's result for `n` images to `sums`. */
export function addProbeStep(sums: ProbeSums, r: ProbeStepResult, n: number): void {
  if (r.vae) {
    sums.vaeLoss += r.vae.loss * n;
    sums.vaeBce += r.vae.bce * n;
    sums.vaeKl += r.vae.kl * n;
    sums.vaeImages += n;
  }
  if (r.cls) {
    sums.clsNll += r.cls.nll * n;
    sums.clsAccuracy += r.cls.accuracy * n;
    sums.clsImages += n;
  }
}
