/**
 * `train --no-vae`, `--vae-start EPOCH`, `--vae-rows K`, `--vae-images F`, `--no-cls` and
 * `--cls-start EPOCH`: the probes' flags. What they mean for a new or resumed run is decided by
 * the library (run/prepare_run.ts).
 *
 * @module
 */

/** The probes' options as commander hands them over (`--no-vae` makes `vae` false). */
export interface VaeFlags {
  vae?: boolean;
  vaeStart?: string;
  /** --vae-rows: rows per image the VAE probe steps on (probe/step.ts). */
  vaeRows?: string;
  /** --vae-images: share of each batch's images the VAE probe steps on (probe/step.ts). */
  vaeImages?: string;
  cls?: boolean;
  clsStart?: string;
}
