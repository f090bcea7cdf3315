/**
 * The RAM's configuration: one typed object with commented defaults (shared DESIGN.md);
 * unknown keys are rejected and values are checked, with errors that name the key.
 *
 * @module
 */

/** Network and policy sizes. Defaults follow the widely used PyTorch RAM at 28×28. */
export interface RamConfig {
  /** Input height and width in pixels (one channel). */
  height: number; // 28
  /** Input width in pixels. */
  width: number; // 28
  /** Retina: side g of every patch, number of scales k, scale factor s. */
  patch: number; // 8
  /** Retina scales k. */
  scales: number; // 1
  /** Retina scale factor s between scales. */
  scale: number; // 2
  /** Glimpses per episode (T). */
  glimpses: number; // 6
  /** Glimpse net: hg = ReLU(fc1·ρ) and hl = ReLU(fc2·l) sizes, and g = ReLU(fc3·hg + fc4·hl). */
  glimpseHidden: number; // 128
  /** Size of hl = ReLU(fc2·l). */
  locationHidden: number; // 128
  /** Size of g = ReLU(fc3·hg + fc4·hl). */
  glimpseOut: number; // 256
  /** Recurrent core: "rnn" (h = ReLU(i2h·g + h2h·h)) or "lstm"; its state size. */
  core: "rnn" | "lstm";
  /** Recurrent state size. */
  hidden: number; // 256
  /** Location policy: hidden size of loc1 and the fixed standard deviation σ. */
  policyHidden: number; // 128
  /** Fixed standard deviation σ of the location policy. */
  sigma: number; // 0.05
  /** Number of classes. */
  classes: number; // 10
}

/** Optimisation and loss settings. */
export interface TrainConfig {
  /** Epochs over the training split. */
  epochs: number; // 20
  /** Samples per batch. */
  batch: number; // 128
  /** Adam learning rate of the glimpse net, core and classifier (and of the groups below when null). */
  lr: number; // 3e-4
  /**
   * Adam learning rate of the location policy (loc1, loc2); null: `lr`. The policy's parameters
   * receive only the REINFORCE gradient and Adam normalises each parameter's step, so λ cancels
   * for them: this learning rate, not λ, sets how fast the policy moves.
   */
  policyLr: number | null; // null
  /** Adam learning rate of the baseline (base); null: `lr`. */
  baselineLr: number | null; // null
  /**
   * Weight λ of the REINFORCE term in the loss. It scales the policy's gradient, which under
   * Adam changes the step only through ε; it is reported in `reinforce`/`loss` as weighted.
   */
  lambda: number; // 0.01
  /** Seed of every random draw (init, shuffle, first locations, policy noise). */
  seed: number; // 1
  /**
   * Learning-rate schedule over the epochs: "constant" (the plateau schedule, when on, is the
   * only change), or "cosine": epoch e of E trains at lr × ½(1 + cos(π(e − 1)/E)), every group
   * alike, and a plateau halving multiplies on top.
   */
  schedule: Schedule; // "constant"
}

/** The learning-rate schedules of {@link TrainConfig.schedule}. */
export type Schedule = "constant" | "cosine";
/** Every {@link Schedule}, in help order. */
export const SCHEDULES: readonly Schedule[] = ["constant", "cosine"];

/**
 * The factor that the schedule applies to every learning rate in epoch `epoch` (1-based) of
 * `epochs`.
 *
 * @example
 * ```ts
 * import { scheduleFactor } from "./config.ts";
 * scheduleFactor("cosine", 1, 10); // 1
 * scheduleFactor("cosine", 6, 10); // 0.5
 * ```
 */
export function scheduleFactor(schedule: Schedule, epoch: number, epochs: number): number {
  if (schedule === "constant" || epochs <= 0) return 1;
  return 0.5 * (1 + Math.cos(Math.PI * (epoch - 1) / epochs));
}

/** The defaults of {@link RamConfig}. */
export const DEFAULT_RAM: Readonly<RamConfig> = Object.freeze({
  height: 28,
  width: 28,
  patch: 8,
  scales: 1,
  scale: 2,
  glimpses: 6,
  glimpseHidden: 128,
  locationHidden: 128,
  glimpseOut: 256,
  core: "rnn",
  hidden: 256,
  policyHidden: 128,
  sigma: 0.05,
  classes: 10,
});

/** The defaults of {@link TrainConfig}. */
export const DEFAULT_TRAIN: Readonly<TrainConfig> = Object.freeze({
  epochs: 20,
  batch: 128,
  lr: 3e-4,
  policyLr: null,
  baselineLr: null,
  lambda: 0.01,
  seed: 1,
  schedule: "constant",
});

function resolve<T extends object>(
  what: string,
  defaults: Readonly<T>,
  given: Record<string, unknown>,
  check: (key: keyof T, value: unknown) => string | null,
): T {
  const out = { ...defaults } as T;
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!(key in defaults)) {
      throw new Error(
        `unknown ${what} key "${key}" (known: ${Object.keys(defaults).join(", ")})`,
      );
    }
    const problem = check(key as keyof T, value);
    if (problem) throw new Error(`${what} "${key}" = ${JSON.stringify(value)}: ${problem}`);
    (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

function positiveInt(v: unknown): string | null {
  return typeof v === "number" && Number.isInteger(v) && v > 0
    ? null
    : "must be a positive integer";
}

/**
 * Fills in defaults and validates a model config.
 *
 * @example
 * ```ts
 * import { resolveRamConfig } from "./config.ts";
 * const cfg = resolveRamConfig({ glimpses: 4 });
 * // cfg.hidden === 256
 * ```
 */
export function resolveRamConfig(given: Record<string, unknown> = {}): RamConfig {
  const cfg = resolve("model config", DEFAULT_RAM, given, (key, v) => {
    if (key === "core") return v === "rnn" || v === "lstm" ? null : 'must be "rnn" or "lstm"';
    if (key === "sigma") {
      return typeof v === "number" && v > 0 && Number.isFinite(v) ? null : "must be positive";
    }
    return positiveInt(v);
  });
  if (cfg.classes < 2) {
    throw new Error(`model config "classes" = ${cfg.classes}: must be at least 2`);
  }
  return cfg;
}

/**
 * Fills in defaults and validates a training config.
 *
 * @example
 * ```ts
 * import { resolveTrainConfig } from "./config.ts";
 * const train = resolveTrainConfig({ epochs: 5, lr: 1e-3 }); // the rest at their defaults
 * console.log(train.batch, train.seed);
 * ```
 */
export function resolveTrainConfig(given: Record<string, unknown> = {}): TrainConfig {
  return resolve("training config", DEFAULT_TRAIN, given, (key, v) => {
    if (key === "policyLr" || key === "baselineLr") {
      return v === null || (typeof v === "number" && v >= 0 && Number.isFinite(v))
        ? null
        : "must be a non-negative number or null (the RAM's lr)";
    }
    if (key === "lr" || key === "lambda") {
      return typeof v === "number" && v >= 0 && Number.isFinite(v)
        ? null
        : "must be a non-negative number";
    }
    if (key === "seed") {
      return typeof v === "number" && Number.isInteger(v) ? null : "must be an integer";
    }
    if (key === "schedule") {
      return SCHEDULES.includes(v as Schedule) ? null : `must be one of ${SCHEDULES.join(", ")}`;
    }
    if (key === "epochs") {
      return typeof v === "number" && Number.isInteger(v) && v >= 0
        ? null
        : "must be a non-negative integer";
    }
    return positiveInt(v);
  });
}

/** Retina defaults for a canvas size (DESIGN.md): 8×8×1 at 28, 12×12×3 at 60, 12×12×4 at 100. */
export function retinaDefaultsFor(size: number): Pick<RamConfig, "patch" | "scales" | "scale"> {
  if (size >= 100) return { patch: 12, scales: 4, scale: 2 };
  if (size >= 60) return { patch: 12, scales: 3, scale: 2 };
  return { patch: 8, scales: 1, scale: 2 };
}

/** The Adam learning rate of each parameter group of the RAM (see {@link paramGroup}). */
export interface GroupLrs {
  /** Glimpse net, core and classifier. */
  model: number;
  /** Location policy (loc1, loc2). */
  policy: number;
  /** Baseline (base). */
  baseline: number;
}

/**
 * The learning rate of every group for a training config; `scale` multiplies all three (the
 * plateau schedule's factor).
 *
 * @example
 * ```ts
 * import { groupLrs, resolveTrainConfig } from "./config.ts";
 * groupLrs(resolveTrainConfig({ lr: 1e-3, policyLr: 1e-2 })); // { model: 1e-3, policy: 1e-2, baseline: 1e-3 }
 * ```
 */
export function groupLrs(train: TrainConfig, scale = 1): GroupLrs {
  return {
    model: train.lr * scale,
    policy: (train.policyLr ?? train.lr) * scale,
    baseline: (train.baselineLr ?? train.lr) * scale,
  };
}

/** Which learning-rate group a RAM parameter belongs to, by its name ("loc1.weight", …). */
export function paramGroup(name: string): keyof GroupLrs {
  if (name.startsWith("loc1.") || name.startsWith("loc2.")) return "policy";
  if (name.startsWith("base.")) return "baseline";
  return "model";
}
