/**
 * The VAE probe (shared DESIGN.md "The VAE probe"): what the trainer, `probe`, `eval` and
 * `explain` call, whichever backend runs it.
 *
 * The probe reads the RAM's recurrent state h_t after every glimpse (detached: it never
 * changes the RAM) and learns to reconstruct the clean 28×28 digit from it. One encoder and
 * one decoder are shared by all glimpses, so a training batch is all T·B rows of a rollout's
 * hidden states (T, B, H), row r = t·B + b, each compared with clean digit b = r % B.
 *
 * Loss per row: BCE summed over pixels + KL = −½ Σ(1 + log σ² − μ² − σ²); the step minimises
 * their mean over the T·B rows (nats per image) with its own Adam (lr 1e-3 by default).
 * Reconstructions decode μ (no sampling).
 *
 * Randomness: the reparameterisation noise ε (T·B, L) is drawn by the caller, e.g.
 * `Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch).fillNormal(eps)`, so both backends see the
 * same numbers and a run is reproducible.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend, TrainState } from "./backend.ts";
import { type VaeConfig, vaeConfigFor } from "./vae_params.ts";

export {
  checkVaeParams,
  DEFAULT_VAE,
  initVaeParams,
  resolveVaeConfig,
  splitVaeParams,
  VAE_PREFIX,
  type VaeConfig,
  vaeConfigFor,
  vaeParamSpecs,
} from "./vae_params.ts";

/** Random stream of the probe's ε: Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch). */
export const VAE_NOISE_STREAM = 0x7661656e; // "vaen"

/** What one probe training step reports: means over its T·B rows, in nats per image. */
export interface VaeStepResult {
  /** bce + kl. */
  loss: number;
  /** Binary cross-entropy summed over pixels. */
  bce: number;
  /** KL divergence of q(z | h) from N(0, I). */
  kl: number;
}

/** The probe on one backend. */
export interface Vae {
  readonly name: "cpu" | "webgpu";
  readonly config: VaeConfig;
  /**
   * One Adam step on R = hidden.length / input rows: `hidden` (R, input), e.g. a rollout's
   * (T, B, H); `clean` (B, pixels) in [0, 1], row r compared with clean row r % B (R must be a
   * multiple of B); `eps` (R, latent) standard normal. Returns the loss before the update.
   */
  trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): Promise<VaeStepResult>;
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

/**
 * Opens the probe on `backend` ("cpu" or "webgpu"; the latter needs `gpu`), parameters
 * initialised from `seed`. Each implementation is imported only when chosen.
 *
 * @example
 * ```ts
 * import { createVae, resolveVaeConfig } from "./vae.ts";
 * const vae = await createVae("cpu", undefined, resolveVaeConfig({ input: 8, hidden: 8,
 *   latent: 2, pixels: 4 }), 1);
 * const r = await vae.trainStep(new Float32Array(8), new Float32Array(4), new Float32Array(2));
 * // r.loss === r.bce + r.kl
 * vae.dispose();
 * ```
 */
export async function createVae(
  backend: "cpu" | "webgpu",
  gpu: Gpu | undefined,
  cfg: VaeConfig,
  seed: number,
): Promise<Vae> {
  if (backend === "cpu") {
    const { CpuVae } = await import("./vae_cpu.ts");
    return new CpuVae(cfg, seed);
  }
  if (!gpu) throw new Error("createVae: the webgpu probe needs a WebGPU device");
  const { GpuVae } = await import("./vae_gpu.ts");
  return await GpuVae.create(gpu, cfg, seed);
}

/**
 * Opens the probe beside a RAM: same backend (and device), `input` = the RAM's hidden size,
 * other sizes from `over` or the defaults.
 *
 * @example
 * ```ts ignore
 * import { createVaeFor } from "./vae.ts";
 * const vae = await createVaeFor(ram, {}, config.train.seed);
 * ```
 */
export function createVaeFor(
  ram: RamBackend,
  over: Partial<VaeConfig>,
  seed: number,
): Promise<Vae> {
  const cfg = vaeConfigFor(ram.config, over);
  const gpu = ram.name === "webgpu" ? (ram as unknown as { gpu: Gpu }).gpu : undefined;
  return createVae(ram.name, gpu, cfg, seed);
}
