/**
 * One training step of the probes on a batch: the RAM's recurrent states h_1..h_T (T, B, H) of
 * every image, and the VAE probe takes one Adam step on all T·B rows against the clean digits
 * (B, 784). Used by the trainer (alongside the RAM) and by `probe` (on a frozen
 * RAM).
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
 * The probe's ε (T·B, latent) comes from Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch) (or
 * another stream, see probe/train.ts), so a resumed run repeats it exactly.
 *
 * @module
 */
import type { Batch, RamBackend, StepNoise } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import { type Vae, VAE_NOISE_STREAM, type VaeStepResult } from "./vae.ts";
import type { ClassProbe, ClsStepResult } from "./cls_api.ts";

/** Running sums of probe losses over an epoch (weighted by images). */
export interface ProbeSums {
  vaeLoss: number;
  vaeBce: number;
  vaeKl: number;
  /** Images the probe trained on this epoch. */
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
  /** Train the VAE probe (default: when there is one). */
  vae?: boolean;
  /** Train the class probe (default: when there is one). */
  cls?: boolean;
}

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

  constructor(
    readonly ram: RamBackend,
    readonly vae: Vae | null,
    readonly seed: number,
    readonly maxBatch: number,
    /** Stream of ε: Rng.derive(seed, stream, epoch, batch). */
    readonly stream: number = VAE_NOISE_STREAM,
    /** The class probe trained on the same states, if any. */
    readonly cls: ClassProbe | null = null,
  ) {
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
    this.#eps = new Float32Array(ram.config.glimpses * maxBatch * (vae?.config.latent ?? 0));
    this.#hidden = new Float32Array(ram.config.glimpses * maxBatch * ram.config.hidden);
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
    const B = batch.size, T = this.ram.config.glimpses;
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
      const eps = this.#eps.subarray(0, T * B * this.vae.config.latent);
      Rng.derive(this.seed, this.stream, epoch, k).fillNormal(eps);
      vae = await this.vae.trainStep(hidden, this.clean(B), eps);
      if (!Number.isFinite(vae.loss)) {
        throw new Error(
          `VAE probe: the loss became ${vae.loss} at epoch ${epoch}, batch ${k + 1} ` +
            `(lr ${this.vae.config.lr})`,
        );
      }
    }
    if (this.cls && options.cls !== false) {
      cls = await this.cls.trainStep(hidden, batch.labels);
      if (!Number.isFinite(cls.nll)) {
        throw new Error(
          `class probe: the loss became ${cls.nll} at epoch ${epoch}, batch ${k + 1} ` +
            `(lr ${this.cls.config.lr})`,
        );
      }
    }
    return { vae, cls };
  }
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
