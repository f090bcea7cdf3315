/**
 * `train --no-vae`, `--vae-start EPOCH`, `--vae-rows K`, `--no-cls` and `--cls-start EPOCH`: the probes' parts
 * of a new run's config, the check that a resumed run keeps them, and opening them beside the
 * RAM. Both probes are on by default and follow the same rules, so one helper serves both.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { RunConfig } from "../run/run_config.ts";
import { createVaeFor, type Vae } from "../probe/vae.ts";
import { resolveVaeRunConfig, type VaeRunConfig } from "../probe/vae_config.ts";
import { type ClassProbe, createClassProbeFor } from "../probe/cls.ts";
import { type ClsRunConfig, resolveClsRunConfig } from "../probe/cls_params.ts";
import { intOption, OptionError } from "./options.ts";

/** The probes' options as commander hands them over (`--no-vae` makes `vae` false). */
export interface VaeFlags {
  vae?: boolean;
  vaeStart?: string;
  /** --vae-rows: rows per image the VAE probe steps on (probe/step.ts). */
  vaeRows?: string;
  cls?: boolean;
  clsStart?: string;
}

/** The flags of one probe: its `--no-X` switch and `--X-start` text, and its config key. */
interface OneProbe {
  key: "vae" | "cls";
  what: string;
  on: boolean | undefined;
  start: string | undefined;
}

function probes(f: VaeFlags): OneProbe[] {
  return [
    { key: "vae", what: "the VAE probe", on: f.vae, start: f.vaeStart },
    { key: "cls", what: "the class probe", on: f.cls, start: f.clsStart },
  ];
}

/** The start epoch of one probe for a new run; null when it is off. */
function startOf(p: OneProbe): { start: number | undefined } | null {
  const start = intOption(`--${p.key}-start`, p.start, 1);
  if (p.on === false) {
    if (start !== undefined) {
      throw new OptionError(`--${p.key}-start ${start}: ${p.what} is off (--no-${p.key})`);
    }
    return null;
  }
  return { start };
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
  const s = startOf(probes(f)[0]);
  const rowsPerImage = intOption("--vae-rows", f.vaeRows, 1);
  if (!s && rowsPerImage !== undefined) {
    throw new OptionError(`--vae-rows ${rowsPerImage}: the VAE probe is off (--no-vae)`);
  }
  return s && resolveVaeRunConfig({ ...s, rowsPerImage });
}

/**
 * The `cls` config of a new run: null with --no-cls, else the defaults with `start` from
 * --cls-start (1-based epoch).
 *
 * @example
 * ```ts
 * import { clsFromFlags } from "./vae_flags.ts";
 * clsFromFlags({ clsStart: "2" })!.start; // 2
 * clsFromFlags({ cls: false }); // null
 * ```
 */
export function clsFromFlags(f: VaeFlags): ClsRunConfig | null {
  const s = startOf(probes(f)[1]);
  return s && resolveClsRunConfig(s);
}

/**
 * On --resume, --no-vae, --vae-start, --vae-rows, --no-cls and --cls-start must agree with the
 * saved run.
 */
export function checkResumeVaeFlags(f: VaeFlags, config: RunConfig, out: string): void {
  const rows = intOption("--vae-rows", f.vaeRows, 1);
  if (rows !== undefined && rows !== config.vae?.rowsPerImage) {
    throw new OptionError(
      `--vae-rows ${rows}: ${out} was trained with ` +
        (config.vae ? `--vae-rows ${config.vae.rowsPerImage}` : "--no-vae") +
        ", and a resumed run keeps its config (only --epochs may change)",
    );
  }
  for (const p of probes(f)) {
    const saved = config[p.key] ?? null;
    if (p.on === false && saved) {
      throw new OptionError(
        `--no-${p.key}: ${out} trains ${p.what}, and a resumed run keeps its config ` +
          "(only --epochs may change)",
      );
    }
    const start = intOption(`--${p.key}-start`, p.start, 1);
    if (start !== undefined && start !== saved?.start) {
      throw new OptionError(
        `--${p.key}-start ${start}: ${out} was trained with ` +
          (saved ? `--${p.key}-start ${saved.start}` : `--no-${p.key}`) +
          ", and a resumed run keeps its config (only --epochs may change)",
      );
    }
  }
}

/** The probe for `config` on the RAM's backend and device, seeded from the run; null without. */
export async function openProbe(ram: RamBackend, config: RunConfig): Promise<Vae | null> {
  if (!config.vae) return null;
  const { hidden, latent, pixels, lr } = config.vae;
  return await createVaeFor(ram, { hidden, latent, pixels, lr }, config.train.seed);
}

/** The class probe for `config` on the RAM's backend and device, seeded from the run; null without. */
export async function openClassProbe(
  ram: RamBackend,
  config: RunConfig,
): Promise<ClassProbe | null> {
  if (!config.cls) return null;
  return await createClassProbeFor(ram, config.cls, config.train.seed);
}
