/**
 * The class probe's configuration, parameters and run config (shared DESIGN.md "Information
 * gain": a classifier on the detached h_t of every glimpse, whose p_t is the model's belief
 * after t glimpses, unlike the RAM's head, which is trained on log p_T only).
 *
 * How the glimpse index t enters (`glimpse`), chosen by measurement (README "The class probe"):
 * - `shared`: one classifier for every glimpse, input h_t (H).
 * - `embed`: input [h_t, onehot(t)] (H + T): a shared classifier plus a learned per-glimpse
 *   offset of its first layer (a glimpse embedding).
 * - `separate`: input h_t placed in block t of a T·H vector (zeros elsewhere): a linear first
 *   layer is then one independent layer per glimpse.
 * The host builds these inputs from a rollout's (T, B, H) states ({@link clsFeatures}), so both
 * backends run plain dense layers.
 *
 * Layers: `classprobe.fc1` (features → hidden, ReLU) and `classprobe.out` (hidden → C) when `hidden` > 0;
 * only `classprobe.out` (features → C) when `hidden` is 0. log p = log_softmax(out). Every name starts
 * with `classprobe.` so the probe shares a checkpoint with the RAM and the VAE probe.
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

/** How the glimpse index enters the class probe (see the module doc). */
export type ClsGlimpse = "shared" | "embed" | "separate";

/** The glimpse modes, in the order of the module doc. */
export const CLS_GLIMPSE_MODES: readonly ClsGlimpse[] = ["shared", "embed", "separate"];

/** Sizes and optimiser of the class probe. */
export interface ClsConfig {
  /** Size of the recurrent state it reads (the RAM's `hidden`). */
  input: number; // 256
  /** Glimpses T (the RAM's). */
  glimpses: number; // 6
  /** Classes C (the RAM's). */
  classes: number; // 10
  /** Width of the hidden ReLU layer; 0: a linear classifier. */
  hidden: number; // 0
  /** How t enters. */
  glimpse: ClsGlimpse; // "separate"
  /** Adam learning rate of the probe's own optimiser. */
  lr: number; // 1e-3
}

/** The class probe's part of a run config (`cls` in config.json; null/absent: none). */
export interface ClsRunConfig {
  /** First epoch (1-based) whose training steps also train the probe. */
  start: number; // 1
  /** Hidden units of the probe (0: a linear probe). */
  hidden: number;
  /** How it tells the glimpses apart (see {@link ClsGlimpse}). */
  glimpse: ClsGlimpse;
  /** Its Adam learning rate. */
  lr: number;
}

/** Defaults of {@link ClsRunConfig} (the measured choice, README "The class probe"). */
export const DEFAULT_CLS_RUN: Readonly<ClsRunConfig> = Object.freeze({
  start: 1,
  hidden: 0,
  glimpse: "separate" as ClsGlimpse,
  lr: 1e-3,
});

/** Prefix of every class-probe parameter name. */
export const CLS_PREFIX = "classprobe.";

/** Stream key of {@link initClsParams}: Rng.derive(seed, CLS_INIT_STREAM). */
export const CLS_INIT_STREAM = 0x636c7369; // "clsi"

/**
 * Validates the `cls` key of a run config: null/undefined → null (no class probe), an object →
 * the defaults filled in; unknown keys and bad values throw one line naming the key.
 *
 * @example
 * ```ts
 * import { resolveClsRunConfig } from "./cls_params.ts";
 * resolveClsRunConfig({ hidden: 64 })!.glimpse; // "separate"
 * resolveClsRunConfig(null); // null
 * ```
 */
export function resolveClsRunConfig(given: unknown): ClsRunConfig | null {
  if (given === null || given === undefined) return null;
  if (typeof given !== "object" || Array.isArray(given)) {
    throw new Error(`"cls" must be an object or null`);
  }
  const out: ClsRunConfig = { ...DEFAULT_CLS_RUN };
  for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
    if (value === undefined) continue;
    const bad = (need: string) =>
      new Error(`cls config "${key}" = ${JSON.stringify(value)}: must be ${need}`);
    if (key === "start") {
      if (!(typeof value === "number" && Number.isInteger(value) && value >= 1)) {
        throw bad("an epoch ≥ 1");
      }
      out.start = value;
    } else if (key === "hidden") {
      if (!(typeof value === "number" && Number.isInteger(value) && value >= 0)) {
        throw bad("a non-negative integer");
      }
      out.hidden = value;
    } else if (key === "glimpse") {
      if (!CLS_GLIMPSE_MODES.includes(value as ClsGlimpse)) {
        throw bad(`one of ${CLS_GLIMPSE_MODES.join(", ")}`);
      }
      out.glimpse = value as ClsGlimpse;
    } else if (key === "lr") {
      if (!(typeof value === "number" && value >= 0 && Number.isFinite(value))) {
        throw bad("a non-negative number");
      }
      out.lr = value;
    } else {
      throw new Error(
        `unknown cls config key "${key}" (known: ${Object.keys(DEFAULT_CLS_RUN).join(", ")})`,
      );
    }
  }
  return out;
}

/**
 * The probe's model config for a RAM: input, glimpses and classes are the RAM's.
 *
 * @example
 * ```ts
 * import { clsConfigFor, DEFAULT_CLS_RUN } from "./cls_params.ts";
 * import { DEFAULT_RAM } from "../ram/config.ts";
 * clsConfigFor(DEFAULT_RAM, DEFAULT_CLS_RUN).input; // 256
 * ```
 */
export function clsConfigFor(
  ram: RamConfig,
  run: Omit<ClsRunConfig, "start"> = DEFAULT_CLS_RUN,
): ClsConfig {
  return {
    input: ram.hidden,
    glimpses: ram.glimpses,
    classes: ram.classes,
    hidden: run.hidden,
    glimpse: run.glimpse,
    lr: run.lr,
  };
}

/** Features per row for `cfg`: H, H + T or T·H (see the module doc). */
export function clsFeatureSize(cfg: ClsConfig): number {
  const { input: H, glimpses: T } = cfg;
  return cfg.glimpse === "shared" ? H : cfg.glimpse === "embed" ? H + T : T * H;
}

/**
 * The probe's input rows from states: `hidden` (T, B, H) gives (T·B, F), row t·B + b; with
 * `glimpse` (1..T) every row of `hidden` (R, H) is taken as glimpse `glimpse`.
 *
 * @example
 * ```ts
 * import { clsFeatures } from "./cls_params.ts";
 * const cfg = { input: 2, glimpses: 2, classes: 2, hidden: 0, glimpse: "embed" as const, lr: 0 };
 * clsFeatures(cfg, Float32Array.from([1, 2, 3, 4])); // rows [1, 2, 1, 0] and [3, 4, 0, 1]
 * ```
 */
export function clsFeatures(cfg: ClsConfig, hidden: Float32Array, glimpse?: number): Float32Array {
  const { input: H, glimpses: T } = cfg;
  const R = hidden.length / H;
  if (!Number.isInteger(R) || R < 1) {
    throw new Error(
      `class probe: hidden states hold ${hidden.length} values, not a positive multiple of ` +
        `the state size ${H}`,
    );
  }
  if (glimpse === undefined && R % T !== 0) {
    throw new Error(
      `class probe: ${R} states are not T·B for T = ${T} glimpses (pass the glimpse of ` +
        "single-glimpse states)",
    );
  }
  if (glimpse !== undefined && !(Number.isInteger(glimpse) && glimpse >= 1 && glimpse <= T)) {
    throw new Error(`class probe: glimpse ${glimpse} is outside 1..${T}`);
  }
  if (cfg.glimpse === "shared") return hidden;
  const F = clsFeatureSize(cfg), B = R / T;
  const out = new Float32Array(R * F); // (R, F)
  for (let r = 0; r < R; r++) {
    const t = glimpse !== undefined ? glimpse - 1 : Math.floor(r / B);
    const h = hidden.subarray(r * H, (r + 1) * H);
    if (cfg.glimpse === "embed") {
      out.set(h, r * F);
      out[r * F + H + t] = 1;
    } else {
      out.set(h, r * F + t * H);
    }
  }
  return out;
}

/** The probe's parameter tensors in a fixed order (initialisation and flat layout). */
export function clsParamSpecs(cfg: ClsConfig): ParamSpec[] {
  const F = clsFeatureSize(cfg);
  return cfg.hidden > 0
    ? [
      ...linearSpecs("classprobe.fc1", F, cfg.hidden),
      ...linearSpecs("classprobe.out", cfg.hidden, cfg.classes),
    ]
    : linearSpecs("classprobe.out", F, cfg.classes);
}

/** Fresh parameters, U(−1/√fan_in, 1/√fan_in), from Rng.derive(seed, CLS_INIT_STREAM). */
export function initClsParams(cfg: ClsConfig, seed: number): ParamMap {
  return initFromSpecs(clsParamSpecs(cfg), Rng.derive(seed, CLS_INIT_STREAM));
}

/** Zero tensors with the probe's names and shapes (gradients, Adam moments). */
export function zeroClsParams(cfg: ClsConfig): ParamMap {
  return zerosFromSpecs(clsParamSpecs(cfg));
}

/** Throws unless `p` holds exactly the probe's tensors; `what` names the map in the message. */
export function checkClsParams(cfg: ClsConfig, p: ParamMap, what: string): void {
  checkAgainstSpecs(clsParamSpecs(cfg), p, what);
}

/** Offsets of every probe parameter in one flat buffer (as ram/params.ts flatLayout). */
export function clsFlatLayout(cfg: ClsConfig, align = PARAM_ALIGN): FlatLayout {
  return layoutOfSpecs(clsParamSpecs(cfg), align, "clsFlatLayout");
}

/**
 * Splits a map by the `classprobe.` prefix: `cls` is null when it holds no class-probe tensor.
 *
 * @example
 * ```ts
 * import { splitClsParams } from "./cls_params.ts";
 * const all = new Map([["classprobe.out.bias", { shape: [1], data: new Float32Array(1) }]]);
 * splitClsParams(all).cls!.size; // 1
 * ```
 */
export function splitClsParams(all: ParamMap): { rest: ParamMap; cls: ParamMap | null } {
  const rest: ParamMap = new Map(), cls: ParamMap = new Map();
  for (const [name, t] of all) (name.startsWith(CLS_PREFIX) ? cls : rest).set(name, t);
  return { rest, cls: cls.size > 0 ? cls : null };
}
