/**
 * Training the VAE probe and/or the class probe on a frozen RAM (`deno task probe`): epochs over the training split,
 * each batch rolled out by the RAM (stochastic policy from uniform first locations, as in
 * training) and one probe step on its T·B states (probe/step.ts). The RAM is only read;
 * its parameters are not touched.
 *
 * Randomness: probe epoch q (counted on from the probe's saved steps) shuffles with
 * Rng.derive(seed, PROBE_STREAM, q), draws batch k's first locations and policy noise from
 * Rng.derive(seed, PROBE_STREAM, q, k) and ε from Rng.derive(seed, PROBE_EPS_STREAM, q, k), apart
 * from the trainer's streams.
 *
 * @module
 */
import type { Batch, RamBackend, StepNoise } from "../ram/backend.ts";
import type { Split } from "../datasets/types.ts";
import { Rng } from "../util/rng.ts";
import type { Vae } from "./vae.ts";
import type { ClassProbe } from "./cls_api.ts";
import { addProbeStep, emptyProbeSums, ProbeStep } from "./step.ts";

/** Random stream of the probe's shuffles, first locations and policy noise. */
export const PROBE_STREAM = 0x70726f62; // "prob"
/** Random stream of the probe's ε when trained by `probe`. */
export const PROBE_EPS_STREAM = 0x70657073; // "peps"

/** Options of {@link trainProbe}. */
export interface TrainProbeOptions {
  /** The frozen RAM whose recurrent states the probe reads. */
  ram: RamBackend;
  /** The VAE probe to train, or null (then `cls` must be given). */
  vae: Vae | null;
  /** The class probe to train on the same states, if any. */
  cls?: ClassProbe | null;
  /** Rows per image the VAE probe steps on (probe/step.ts; a run's `vae.rowsPerImage`); default T. */
  vaeRowsPerImage?: number;
  /** Training split; its fill must write the clean targets. */
  split: Split;
  /** Epochs to train now. */
  epochs: number;
  /** Images per batch. */
  batch: number;
  /** Seed of the shuffles and the probe's noise. */
  seed: number;
  /** Called after every step with (batches done, batches per epoch, epoch 1..epochs). */
  onStep?: (done: number, batches: number, epoch: number) => void;
  /** Called after every epoch. */
  onEpoch?: (m: ProbeEpoch) => void;
}

/** What one probe epoch measured (means over its images, nats per image and glimpse). */
export interface ProbeEpoch {
  /** 1..epochs of this call. */
  epoch: number;
  /** The probe's Adam steps in total after this epoch (the class probe's when there is no VAE). */
  vaeStep: number;
  /** VAE probe loss (BCE + KL, nats per image and glimpse) over the epoch; null if not trained. */
  vae_loss: number | null;
  /** Its reconstruction part (binary cross-entropy). */
  vae_bce: number | null;
  /** Its KL part. */
  vae_kl: number | null;
  /** Class probe's NLL (nats per state) over all glimpses' states; null if not trained. */
  cls_nll: number | null;
  /** Class probe's accuracy over all glimpses' states; null if not trained. */
  cls_accuracy: number | null;
  /** Images seen this epoch. */
  images: number;
  /** Wall-clock seconds of the epoch. */
  seconds: number;
}

/**
 * Trains `vae` on the states of the frozen `ram` for `epochs` epochs of `split`.
 *
 * @example
 * ```ts
 * import { trainProbe } from "./train.ts";
 * import { createVae } from "./vae.ts";
 * import { vaeModelConfig, DEFAULT_VAE_RUN } from "./vae_config.ts";
 * import { CpuRam } from "../ram/cpu.ts";
 * import { resolveRamConfig } from "../ram/config.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * const model = resolveRamConfig({ glimpses: 2 });
 * const ram = new CpuRam(model, 1);
 * const vae = await createVae("cpu", undefined, vaeModelConfig(model, DEFAULT_VAE_RUN), 1);
 * const split = (await loadDataset("mnist-10k")).train;
 * const small = { ...split, size: 32, fill: split.fill.bind(split) };
 * const epochs = await trainProbe({ ram, vae, split: small, epochs: 1, batch: 16, seed: 1 });
 * console.log(epochs.at(-1)!.vae_loss);
 * ```
 */
export async function trainProbe(options: TrainProbeOptions): Promise<ProbeEpoch[]> {
  const { ram, vae, split, epochs, batch: B, seed } = options;
  const { height: H, width: W, glimpses: T } = ram.config;
  const N = split.size;
  if (N === 0) throw new Error("probe: the training split holds no images");
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new Error(`probe: epochs ${epochs} must be a non-negative integer`);
  }
  const batches = Math.ceil(N / B);
  const cls = options.cls ?? null;
  const rowsPerImage = options.vaeRowsPerImage ?? T;
  const probe = new ProbeStep(ram, vae, seed, B, PROBE_EPS_STREAM, cls, rowsPerImage);
  const images = new Float32Array(B * H * W); // (B, H, W)
  const labels = new Int32Array(B);
  const start = new Float32Array(B * 2); // (B, 2)
  const policy = new Float32Array((T - 1) * B * 2); // (T−1, B, 2)
  const indices = new Int32Array(B);
  // Probe epochs continue from the steps already taken, so a second call draws fresh batches.
  let vaeStep = (await (vae ?? cls)!.getState()).step;
  const first = Math.floor(vaeStep / batches) + 1;
  const out: ProbeEpoch[] = [];
  for (let q = first; q < first + epochs; q++) {
    const t0 = performance.now();
    const sums = emptyProbeSums();
    const order = Rng.derive(seed, PROBE_STREAM, q).permutation(N);
    for (let k = 0; k < batches; k++) {
      const n = Math.min(B, N - k * B);
      for (let j = 0; j < n; j++) indices[j] = order[k * B + j];
      const idx = indices.subarray(0, n);
      const b: Batch = {
        size: n,
        images: images.subarray(0, n * H * W),
        labels: labels.subarray(0, n),
      };
      split.fill(idx, q, b.images, vae ? probe.clean(n) : undefined);
      for (let j = 0; j < n; j++) labels[j] = split.labels[idx[j]];
      const noise: StepNoise = {
        start: start.subarray(0, n * 2),
        policy: policy.subarray(0, (T - 1) * n * 2),
      };
      const rng = Rng.derive(seed, PROBE_STREAM, q, k);
      rng.fillUniform(noise.start, -1, 1);
      rng.fillNormal(noise.policy);
      addProbeStep(sums, await probe.step(b, noise, q, k), n);
      vaeStep++;
      options.onStep?.(k + 1, batches, q - first + 1);
    }
    const m: ProbeEpoch = {
      epoch: q - first + 1,
      vaeStep,
      vae_loss: vae ? sums.vaeLoss / sums.vaeImages : null,
      vae_bce: vae ? sums.vaeBce / sums.vaeImages : null,
      vae_kl: vae ? sums.vaeKl / sums.vaeImages : null,
      cls_nll: cls ? sums.clsNll / sums.clsImages : null,
      cls_accuracy: cls ? sums.clsAccuracy / sums.clsImages : null,
      images: Math.max(sums.vaeImages, sums.clsImages),
      seconds: (performance.now() - t0) / 1000,
    };
    out.push(m);
    options.onEpoch?.(m);
  }
  return out;
}
