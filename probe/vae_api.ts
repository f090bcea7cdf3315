/**
 * The VAE probe's interface, whichever backend implements it, and the size check every
 * implementation runs on its inputs. probe/vae.ts opens an implementation; probe/vae_cpu.ts and
 * probe/vae_gpu.ts implement it (they import this file, never vae.ts, so no import cycle).
 *
 * @module
 */
import type { TrainState } from "../ram/backend.ts";
import type { VaeConfig } from "./vae_params.ts";

/** What one probe training step reports: means over its T·B rows, in nats per image. */
export interface VaeStepResult {
  /** bce + kl. */
  loss: number;
  /** Binary cross-entropy summed over pixels. */
  bce: number;
  /** KL divergence of q(z | h) from N(0, I). */
  kl: number;
}

/**
 * A cpu probe's training step in three synchronous parts, run in this order once each: the
 * forward pass, the loss and gradients, the Adam step. Together they are exactly the probe's
 * trainStep; apart, a caller can run them in the gaps of other work (probe/beside.ts runs them
 * beside the RAM's lanes). Between the parts nothing else may use the probe.
 */
export interface ProbePhases<R> {
  forward(): void;
  /** The loss before the update (the trainStep's result). */
  backward(): R;
  adam(): void;
}

/** The probe on one backend. */
export interface Vae {
  /** Which backend runs it. */
  readonly name: "cpu" | "webgpu";
  /** The probe's sizes. */
  readonly config: VaeConfig;
  /**
   * One Adam step on R = hidden.length / input rows: `hidden` (R, input), e.g. a rollout's
   * (T, B, H); `clean` (B, pixels) in [0, 1], row r compared with clean row r % B (R must be a
   * multiple of B); `eps` (R, latent) standard normal. Returns the loss before the update.
   */
  trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): Promise<VaeStepResult>;
  /** trainStep in synchronous parts (cpu probes only; sizes are checked at once). */
  phases?(hidden: Float32Array, clean: Float32Array, eps: Float32Array): ProbePhases<VaeStepResult>;
  /** σ(decoder(μ)) for every row of `hidden` (R, input): (R, pixels) in [0, 1]. */
  reconstruct(hidden: Float32Array): Promise<Float32Array>;
  /**
   * Per-row mean squared error of the reconstruction (μ decoded) against `clean` row r % B,
   * averaged over pixels: (R). For a rollout's (T, B, H) states, entry t·B + b is glimpse t+1
   * of sample b; the EIG table averages these per glimpse.
   */
  reconstructionError(hidden: Float32Array, clean: Float32Array): Promise<Float32Array>;
  /** Copies parameters and the probe's Adam state to the host (names start with "vae."). */
  getState(): Promise<TrainState>;
  /** Loads parameters and Adam state (names and shapes must match the config). */
  setState(state: TrainState): void;
  /** Frees device resources. */
  dispose(): void;
}

/** Throws unless the sizes of one call fit `cfg`; returns the rows R and targets B. */
export function vaeRows(
  where: string,
  cfg: VaeConfig,
  hidden: Float32Array,
  clean: Float32Array | null,
  eps: Float32Array | null,
): { rows: number; targets: number } {
  const rows = hidden.length / cfg.input;
  if (!Number.isInteger(rows) || rows < 1) {
    throw new Error(
      `${where}: hidden states hold ${hidden.length} values, not a positive multiple of ` +
        `the probe's input size ${cfg.input}`,
    );
  }
  let targets = rows;
  if (clean) {
    targets = clean.length / cfg.pixels;
    if (!Number.isInteger(targets) || targets < 1 || rows % targets !== 0) {
      throw new Error(
        `${where}: ${clean.length} target values are not B images of ${cfg.pixels} pixels ` +
          `with B dividing the ${rows} rows of hidden states`,
      );
    }
  }
  if (eps && eps.length !== rows * cfg.latent) {
    throw new Error(
      `${where}: noise holds ${eps.length} values, expected ${rows}·${cfg.latent} = ` +
        `${rows * cfg.latent}`,
    );
  }
  return { rows, targets };
}
