/**
 * The reward plugin contract. A plugin is an ES module whose default export is a reward
 * definition: a name, a description, typed options with defaults, and a function from one batch
 * of episodes to rewards (T, B), index (t−1)·B + b for glimpse t = 1..T and sample b.
 *
 * `defineReward` gives plugin authors the types (the options object passed to `reward` is typed
 * from the defaults) and checks the definition when the module loads, so a mistake is reported
 * against the plugin rather than at the first training step.
 *
 * @example
 * ```ts
 * import { defineReward } from "./define.ts";
 * export default defineReward({
 *   name: "last-correct",
 *   description: "bonus at the last glimpse when the prediction is right",
 *   options: { bonus: { default: 1, description: "reward for a correct prediction" } },
 *   reward({ T, B, labels, predictions }, { bonus }) {
 *     const r = new Float32Array(T * B); // (T, B)
 *     for (let b = 0; b < B; b++) {
 *       if (predictions[(T - 1) * B + b] === labels[b]) r[(T - 1) * B + b] = bonus;
 *     }
 *     return r;
 *   },
 * });
 * ```
 *
 * @module
 */
import type { Episodes } from "./types.ts";

/** The value of a reward option: options are numbers, booleans or strings. */
export type OptionValue = number | boolean | string;

/** An option with its default and a line of help (listed by `deno task rewards`). */
export interface OptionSpec<V extends OptionValue = OptionValue> {
  /** The default; its type (number, boolean or string) is the option's type. */
  default: V;
  /** One line saying what the option does. */
  description?: string;
}

/** How a definition declares its options: `{ beta: 0.5 }` or `{ beta: { default: 0.5, … } }`. */
export type OptionInputs = Record<string, OptionValue | OptionSpec>;

/** The option type a default declares: `0.1` declares a number, not the literal 0.1. */
export type Widen<V> = V extends number ? number
  : V extends boolean ? boolean
  : V extends string ? string
  : never;

/** The resolved option values a reward function receives, typed from the declared defaults. */
export type OptionValues<S extends OptionInputs> = {
  readonly [K in keyof S]: Widen<S[K] extends OptionSpec<infer V> ? V : S[K]>;
};

/**
 * What a reward function may return: rewards (T, B), index (t−1)·B + b. Anything but a
 * Float32Array is converted to one; the host checks the length (T·B) and that every value is
 * finite.
 */
export type RewardOutput = Float32Array | Float64Array | readonly number[];

/** A reward definition: the default export of a reward plugin. */
export interface RewardDefinition<S extends OptionInputs = OptionInputs> {
  /** Short name, recorded in checkpoints and metrics (e.g. "entropy"). */
  readonly name: string;
  /** One line saying what the reward pays for. */
  readonly description: string;
  /** Options with their defaults; `--reward-opt key=value` overrides them. */
  readonly options: S;
  /** Rewards (T, B) for one batch of episodes; may be async. Must not keep the arrays. */
  reward(episodes: Episodes, options: OptionValues<S>): RewardOutput | Promise<RewardOutput>;
}

/** What `defineReward` takes: like a definition, with `options` optional. */
export interface RewardDefinitionInput<S extends OptionInputs> {
  /** Name shown by `deno task rewards` and saved in the run config. */
  name: string;
  /** One line of what it rewards. */
  description: string;
  /** Options with their defaults (plain values or `{ default, description }`). */
  options?: S;
  /** Rewards (T, B) of one batch of episodes, given the resolved options. */
  reward(episodes: Episodes, options: OptionValues<S>): RewardOutput | Promise<RewardOutput>;
}

/**
 * An error about one reward, with the reward named: `reward "x.ts": what was wrong`.
 * The trainer can tell reward failures from its own by `instanceof RewardError`.
 */
export class RewardError extends Error {
  override name = "RewardError";
  /** The reward as the user named it (built-in name, path or URL). */
  readonly plugin: string;
  constructor(plugin: string, problem: string) {
    super(`reward "${plugin}": ${problem}`);
    this.plugin = plugin;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A terminal would act on these (ANSI escapes, bells, cursor moves): plugin text is one line. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** True when `s` has characters a terminal would act on (ANSI escapes, line breaks, bells). */
export function hasControlCharacters(s: string): boolean {
  return CONTROL.test(s);
}

function optionValueProblem(key: string, v: unknown): string | null {
  if (typeof v === "string" && CONTROL.test(v)) {
    return `option "${key}" default has control characters`;
  }
  if (typeof v === "number") {
    return Number.isFinite(v) ? null : `option "${key}" default must be finite (got ${v})`;
  }
  if (typeof v === "boolean" || typeof v === "string") return null;
  return `option "${key}" default must be a number, boolean or string (got ${typeof v})`;
}

/**
 * Why `value` is not a reward definition, or null when it is one. Structural, so a definition
 * made without `defineReward` (or with another copy of this module) is accepted too.
 */
export function rewardDefinitionProblem(value: unknown): string | null {
  if (typeof value === "function") {
    return "expected an object, got a function (export default defineReward({ name, " +
      "description, options, reward }))";
  }
  if (!isRecord(value)) return `expected an object, got ${value === null ? "null" : typeof value}`;
  if (typeof value.name !== "string" || value.name.trim() === "") {
    return `"name" must be a non-empty string`;
  }
  if (CONTROL.test(value.name)) {
    return `"name" has control characters (ANSI escapes and line breaks are not allowed)`;
  }
  if (typeof value.description !== "string") return `"description" must be a string`;
  if (CONTROL.test(value.description)) {
    return `"description" has control characters (ANSI escapes and line breaks are not allowed)`;
  }
  if (typeof value.reward !== "function") return `"reward" must be a function`;
  if (value.options !== undefined) {
    if (!isRecord(value.options)) return `"options" must be an object of defaults`;
    for (const [key, spec] of Object.entries(value.options)) {
      if (!/^[A-Za-z_][\w-]*$/.test(key)) return `option name "${key}" is not an identifier`;
      if (isRecord(spec)) {
        const p = optionValueProblem(key, spec.default);
        if (p) return p;
        if (spec.description !== undefined && typeof spec.description !== "string") {
          return `option "${key}" description must be a string`;
        }
        if (typeof spec.description === "string" && CONTROL.test(spec.description)) {
          return `option "${key}" description has control characters`;
        }
        const extra = Object.keys(spec).filter((k) => k !== "default" && k !== "description");
        if (extra.length) return `option "${key}" has unknown field "${extra[0]}"`;
      } else {
        const p = optionValueProblem(key, spec);
        if (p) return p;
      }
    }
  }
  return null;
}

/**
 * Declares a reward plugin (use it as the module's default export). Checks the definition and
 * returns it frozen, with `options` defaulting to `{}`; the options object passed to `reward` is
 * typed from the defaults.
 *
 * @example
 * ```ts
 * import { defineReward } from "./define.ts";
 * export default defineReward({
 *   name: "constant",
 *   description: "pays `value` at every glimpse",
 *   options: { value: 0.1 },
 *   reward: ({ T, B }, { value }) => new Float32Array(T * B).fill(value),
 * });
 * ```
 */
export function defineReward<S extends OptionInputs = Record<never, never>>(
  definition: RewardDefinitionInput<S>,
): RewardDefinition<S> {
  const full = { ...definition, options: definition.options ?? ({} as S) };
  const problem = rewardDefinitionProblem(full);
  if (problem) {
    const name = typeof definition?.name === "string" ? definition.name : "?";
    throw new RewardError(name, `defineReward: ${problem}`);
  }
  Object.freeze(full.options);
  return Object.freeze(full);
}
