/**
 * `train --no-vae` and `--vae-start EPOCH`: the VAE probe's flags. What they mean for a new or
 * resumed run is decided by the library (run/prepare_run.ts).
 *
 * @module
 */

/** The probe's options as commander hands them over (`--no-vae` makes `vae` false). */
export interface VaeFlags {
  vae?: boolean;
  vaeStart?: string;
}
