/**
 * `train --no-vae` and `--vae-start EPOCH`: the VAE probe's part of a new run's config, the
 * check that a resumed run keeps it, and opening the probe beside the RAM.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { RunConfig } from "../run/run_config.ts";
import { createVaeFor, type Vae } from "../probe/vae.ts";
import { resolveVaeRunConfig, type VaeRunConfig } from "../probe/vae_config.ts";
import { intOption, OptionError } from "./options.ts";

/** The probe's options as commander hands them over (`--no-vae` makes `vae` false). */
export interface VaeFlags {
  vae?: boolean;
  vaeStart?: string;
}

/**
 * The `vae` config of a new run: null with --no-vae, else the defaults with `start` from
 * --vae-start (1-based epoch).
 *
 * @example
 * ```ts
 * import { vaeFromFlags } from "./vae_flags.ts";
 * vaeFromFlags({ vaeStart: "3" })!.start; // 3
 * vaeFromFlags({ vae: false }); // null
 * ```
 */
export function vaeFromFlags(f: VaeFlags): VaeRunConfig | null {
  const start = intOption("--vae-start", f.vaeStart, 1);
  if (f.vae === false) {
    if (start !== undefined) {
      throw new OptionError(`--vae-start ${start}: the probe is off (--no-vae)`);
    }
    return null;
  }
  return resolveVaeRunConfig({ start });
}

/** On --resume, --no-vae and --vae-start must agree with the saved run. */
export function checkResumeVaeFlags(f: VaeFlags, config: RunConfig, out: string): void {
  const saved = config.vae ?? null;
  if (f.vae === false && saved) {
    throw new OptionError(
      `--no-vae: ${out} trains a VAE probe, and a resumed run keeps its config ` +
        "(only --epochs may change)",
    );
  }
  const start = intOption("--vae-start", f.vaeStart, 1);
  if (start !== undefined && start !== saved?.start) {
    throw new OptionError(
      `--vae-start ${start}: ${out} was trained with ` +
        (saved ? `--vae-start ${saved.start}` : "--no-vae") +
        ", and a resumed run keeps its config (only --epochs may change)",
    );
  }
}

/** The probe for `config` on the RAM's backend and device, seeded from the run; null without. */
export async function openProbe(ram: RamBackend, config: RunConfig): Promise<Vae | null> {
  if (!config.vae) return null;
  const { hidden, latent, pixels, lr } = config.vae;
  return await createVaeFor(ram, { hidden, latent, pixels, lr }, config.train.seed);
}
