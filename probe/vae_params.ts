/**
 * The VAE probe's configuration and parameters: names, shapes, initialisation and a flat layout
 * (shared DESIGN.md "The VAE probe").
 *
 * Every name starts with `vae.` so the probe's tensors can share a checkpoint with the RAM's
 * (see {@link splitVaeParams}). Weights are (out, in) row-major like PyTorch's nn.Linear.
 *
 * | module    | maps             | used as                                            |
 * | --------- | ---------------- | -------------------------------------------------- |
 * | vae.enc   | h_t (input) → hidden | e = ReLU(enc h)                                |
 * | vae.stats | hidden → 2·latent    | μ | log σ² = stats e (one head, kernels/vae.ts)  |
 * | vae.dec1  | latent → hidden      | d = ReLU(dec1 z)                               |
 * | vae.dec2  | hidden → pixels      | logits = dec2 d; reconstruction σ(logits)      |
 *
 * The `stats` head is PyTorch's two Linear(hidden → latent) heads (μ and log σ²) stacked: rows
 * [0, L) of its weight and bias are μ's, rows [L, 2L) log σ²'s. Both have fan-in `hidden`, so
 * the stacked head's initialisation has the same distribution as the two separate ones.
 *
 * @module
 */
import type { ParamMap } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import {
  checkAgainstSpecs,
  type FlatLayout,
  initFromSpecs,
  layoutOfSpecs,
  linearSpecs,
  PARAM_ALIGN,
  type ParamSpec,
  zerosFromSpecs,
} from "../ram/params.ts";
import { Rng } from "../util/rng.ts";

/** Sizes and optimiser of the VAE probe. */
export interface VaeConfig {
  /** Size of the recurrent state it reads (the RAM's `hidden`). */
  input: number; // 256
  /** Hidden width of the encoder and of the decoder. */
  hidden: number; // 256
  /** Latent size L (the stats head has 2L outputs). */
  latent: number; // 16
  /** Pixels of the clean target (28×28 = 784), also the decoder's output. */
  pixels: number; // 784
  /** Adam learning rate of the probe's own optimiser. */
  lr: number; // 1e-3
}

/** The defaults of {@link VaeConfig} (DESIGN.md). */
export const DEFAULT_VAE: Readonly<VaeConfig> = Object.freeze({
  input: 256,
  hidden: 256,
  latent: 16,
  pixels: 784,
  lr: 1e-3,
});

/** Prefix of every VAE parameter name. */
export const VAE_PREFIX = "vae.";

/** Stream key of {@link initVaeParams}: Rng.derive(seed, VAE_INIT_STREAM), apart from the RAM's. */
export const VAE_INIT_STREAM = 0x76616569; // "vaei"

/**
 * Fills in defaults and validates a VAE config; unknown keys and bad values throw one line
 * naming the key.
 *
 * @example
 * ```ts
 * import { resolveVaeConfig } from "./vae_params.ts";
 * const cfg = resolveVaeConfig({ input: 128 });
 * // cfg.latent === 16
 * ```
 */
export function resolveVaeConfig(given: Record<string, unknown> = {}): VaeConfig {
  const out: VaeConfig = { ...DEFAULT_VAE };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_VAE)) {
      throw new Error(
        `unknown vae config key "${key}" (known: ${Object.keys(DEFAULT_VAE).join(", ")})`,
      );
    }
    const ok = key === "lr"
      ? typeof value === "number" && value >= 0 && Number.isFinite(value)
      : typeof value === "number" && Number.isInteger(value) && value > 0;
    if (!ok) {
      const need = key === "lr" ? "a non-negative number" : "a positive integer";
      throw new Error(`vae config "${key}" = ${JSON.stringify(value)}: must be ${need}`);
    }
    (out as unknown as Record<string, number>)[key] = value as number;
  }
  return out;
}

/**
 * The probe's config for a RAM: `input` is the RAM's hidden size, the rest defaults or `over`.
 *
 * @example
 * ```ts
 * import { vaeConfigFor } from "./vae_params.ts";
 * import { DEFAULT_RAM } from "../ram/config.ts";
 * const cfg = vaeConfigFor(DEFAULT_RAM);
 * // cfg.input === 256, cfg.pixels === 784
 * ```
 */
export function vaeConfigFor(ram: RamConfig, over: Partial<VaeConfig> = {}): VaeConfig {
  return resolveVaeConfig({ ...over, input: ram.hidden });
}

/**
 * The probe's parameter tensors in a fixed order (the order of initialisation and layout).
 *
 * @example
 * ```ts
 * import { vaeParamSpecs, DEFAULT_VAE } from "./vae_params.ts";
 * const specs = vaeParamSpecs(DEFAULT_VAE);
 * // specs[2] is { name: "vae.stats.weight", shape: [32, 256], bound: 0.0625 }
 * ```
 */
export function vaeParamSpecs(cfg: VaeConfig): ParamSpec[] {
  const { input, hidden, latent, pixels } = cfg;
  return [
    ...linearSpecs("vae.enc", input, hidden),
    ...linearSpecs("vae.stats", hidden, 2 * latent),
    ...linearSpecs("vae.dec1", latent, hidden),
    ...linearSpecs("vae.dec2", hidden, pixels),
  ];
}

/**
 * Fresh parameters, U(−1/√fan_in, 1/√fan_in) like PyTorch's Linear, drawn in
 * {@link vaeParamSpecs} order from Rng.derive(seed, VAE_INIT_STREAM).
 */
export function initVaeParams(cfg: VaeConfig, seed: number): ParamMap {
  return initFromSpecs(vaeParamSpecs(cfg), Rng.derive(seed, VAE_INIT_STREAM));
}

/** Zero tensors with the probe's names and shapes (gradients, Adam moments). */
export function zeroVaeParams(cfg: VaeConfig): ParamMap {
  return zerosFromSpecs(vaeParamSpecs(cfg));
}

/**
 * Throws unless `p` holds exactly the probe's tensors with the right shapes; `what` names the
 * map in the message (e.g. "checkpoint runs/x: VAE parameters").
 */
export function checkVaeParams(cfg: VaeConfig, p: ParamMap, what: string): void {
  checkAgainstSpecs(vaeParamSpecs(cfg), p, what);
}

/**
 * Splits one map (e.g. a checkpoint's tensors) into the RAM's and the probe's by the `vae.`
 * prefix; `vae` is null when there is no probe tensor at all.
 *
 * @example
 * ```ts
 * import { splitVaeParams } from "./vae_params.ts";
 * const all = new Map([["fc1.bias", { shape: [1], data: new Float32Array(1) }],
 *   ["vae.enc.bias", { shape: [1], data: new Float32Array(1) }]]);
 * const { ram, vae } = splitVaeParams(all);
 * // ram.size === 1, vae!.size === 1
 * ```
 */
export function splitVaeParams(all: ParamMap): { ram: ParamMap; vae: ParamMap | null } {
  const ram: ParamMap = new Map(), vae: ParamMap = new Map();
  for (const [name, t] of all) (name.startsWith(VAE_PREFIX) ? vae : ram).set(name, t);
  return { ram, vae: vae.size > 0 ? vae : null };
}

/**
 * Offsets of every probe parameter in one flat buffer, each a multiple of `align` floats
 * (default PARAM_ALIGN, so every tensor binds as a view on any adapter); same shape of result
 * as ram/params.ts flatLayout, so flattenParams/unflattenParams work on it.
 *
 * @example
 * ```ts
 * import { vaeFlatLayout, DEFAULT_VAE } from "./vae_params.ts";
 * const layout = vaeFlatLayout(DEFAULT_VAE);
 * // layout.byName.get("vae.enc.bias")!.offset === 65536 (enc.weight is 256·256 floats)
 * ```
 */
export function vaeFlatLayout(cfg: VaeConfig, align = PARAM_ALIGN): FlatLayout {
  return layoutOfSpecs(vaeParamSpecs(cfg), align, "vaeFlatLayout");
}
