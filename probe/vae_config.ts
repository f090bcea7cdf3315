/**
 * The VAE probe's part of a run config (`vae` in config.json): its sizes and learning rate, and
 * from which epoch `train` trains it alongside the RAM. `null` in a run config means the run has
 * no probe (`train --no-vae`, or a run from before the probe existed); `probe` then adds one.
 *
 * The probe's input size is not stored: it is always the RAM's `model.hidden`.
 *
 * @module
 */
import { DEFAULT_VAE, resolveVaeConfig, type VaeConfig } from "./vae_params.ts";
import type { RamConfig } from "../ram/config.ts";

/** The probe settings saved with a run. */
export interface VaeRunConfig {
  /** First epoch (1-based) whose training steps also train the probe; 1: from the start. */
  start: number; // 1
  /** Hidden width of the encoder and of the decoder. */
  hidden: number; // 256
  /** Latent size. */
  latent: number; // 16
  /** Pixels of the clean target (28×28). */
  pixels: number; // 784
  /** Adam learning rate of the probe. */
  lr: number; // 1e-3
  /**
   * Rows per image k the probe steps on: k of the T glimpses of each image, drawn by seed
   * (probe/step.ts); T: every row. 1 costs 1/T of the probe's step for an unbiased estimate of
   * the same loss (README "Measured" gives the cost and the reconstruction error of each).
   * Run configs before version 3 have none and read as T, the rows they trained on.
   */
  rowsPerImage: number; // 1
  /**
   * Share f in (0, 1] of each training batch's images the probe steps on during `train`: the
   * first ⌈f·n⌉ of a batch of n (the batches are a fresh random permutation every epoch, so
   * that is a uniformly drawn subset). 0.5 halves the probe's cost beside the RAM's step, for
   * an unbiased estimate of the same loss on half as many images a step (README "Measured"
   * gives the cost and the reconstruction error of each). `probe`, which trains it alone on a
   * frozen RAM, steps on every image. Run configs before version 4 have none and read as 1.
   */
  imageFraction: number; // 0.5
}

/** The defaults of {@link VaeRunConfig} (DESIGN.md "The VAE probe"). */
export const DEFAULT_VAE_RUN: Readonly<VaeRunConfig> = Object.freeze({
  start: 1,
  hidden: DEFAULT_VAE.hidden,
  latent: DEFAULT_VAE.latent,
  pixels: DEFAULT_VAE.pixels,
  lr: DEFAULT_VAE.lr,
  rowsPerImage: 1,
  imageFraction: 0.5,
});

/**
 * Validates the `vae` key of a run config: null/undefined → null (no probe), an object → the
 * defaults filled in; unknown keys and bad values throw one line naming the key.
 *
 * @example
 * ```ts
 * import { resolveVaeRunConfig } from "./vae_config.ts";
 * const v = resolveVaeRunConfig({ start: 3 });
 * // v!.latent === 16, resolveVaeRunConfig(null) === null
 * ```
 */
export function resolveVaeRunConfig(given: unknown): VaeRunConfig | null {
  if (given === null || given === undefined) return null;
  if (typeof given !== "object" || Array.isArray(given)) {
    throw new Error(`"vae" must be an object or null`);
  }
  const { start, rowsPerImage, imageFraction, ...sizes } = given as Record<string, unknown>;
  const s = start ?? DEFAULT_VAE_RUN.start;
  if (!(typeof s === "number" && Number.isInteger(s) && s >= 1)) {
    throw new Error(`vae config "start" = ${JSON.stringify(s)}: must be an epoch ≥ 1`);
  }
  const k = rowsPerImage ?? DEFAULT_VAE_RUN.rowsPerImage;
  if (!(typeof k === "number" && Number.isInteger(k) && k >= 1)) {
    throw new Error(
      `vae config "rowsPerImage" = ${JSON.stringify(k)}: must be a whole number of glimpses ≥ 1`,
    );
  }
  const f = imageFraction ?? DEFAULT_VAE_RUN.imageFraction;
  if (!(typeof f === "number" && f > 0 && f <= 1)) {
    throw new Error(
      `vae config "imageFraction" = ${JSON.stringify(f)}: must be a share of the batch in (0, 1]`,
    );
  }
  if ("input" in sizes) {
    throw new Error(`unknown vae config key "input" (the probe reads model.hidden)`);
  }
  const cfg = resolveVaeConfig(sizes);
  return {
    start: s,
    hidden: cfg.hidden,
    latent: cfg.latent,
    pixels: cfg.pixels,
    lr: cfg.lr,
    rowsPerImage: k,
    imageFraction: f,
  };
}

/**
 * Images of a batch of n the VAE probe steps on at share `fraction` (VaeRunConfig.imageFraction):
 * ⌈fraction·n⌉ (at least one), the batch's first ones.
 *
 * @example
 * ```ts
 * import { vaeImages } from "./vae_config.ts";
 * // vaeImages(128, 0.5) === 64, vaeImages(127, 0.5) === 64, vaeImages(5, 1) === 5
 * ```
 */
export function vaeImages(n: number, fraction: number): number {
  return Math.min(n, Math.max(1, Math.ceil(fraction * n - 1e-9)));
}

/**
 * The probe's model config for a run: `input` is the RAM's hidden size.
 *
 * @example
 * ```ts
 * import { vaeModelConfig, DEFAULT_VAE_RUN } from "./vae_config.ts";
 * import { DEFAULT_RAM } from "../ram/config.ts";
 * // vaeModelConfig(DEFAULT_RAM, DEFAULT_VAE_RUN).input === 256
 * ```
 */
export function vaeModelConfig(
  model: RamConfig,
  vae: Omit<VaeRunConfig, "rowsPerImage" | "imageFraction">,
): VaeConfig {
  return resolveVaeConfig({
    input: model.hidden,
    hidden: vae.hidden,
    latent: vae.latent,
    pixels: vae.pixels,
    lr: vae.lr,
  });
}
