/**
 * What the host checks around every reward call, sandboxed or in-process: the episodes going in
 * have consistent shapes, and what comes back is T·B finite values. Errors name the reward and,
 * for a non-finite value, the glimpse and sample.
 *
 * @module
 */
import {
  type OptionInputs,
  type OptionValues,
  type RewardDefinition,
  RewardError,
} from "./define.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Episodes, RewardFn } from "./types.ts";

/** Throws a RewardError naming `plugin` unless the episode arrays match T, B and C. */
export function checkEpisodes(plugin: string, ep: Episodes): void {
  const { T, B, C } = ep;
  const want: [string, ArrayLike<number>, number][] = [
    ["probs", ep.probs, T * B * C], // (T, B, C)
    ["labels", ep.labels, B], // (B)
    ["predictions", ep.predictions, T * B], // (T, B)
    ["locations", ep.locations, T * B * 2], // (T, B, 2)
  ];
  if (![T, B, C].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RewardError(plugin, `episodes: T, B, C must be positive integers (${T}, ${B}, ${C})`);
  }
  for (const [name, a, n] of want) {
    if (a?.length !== n) {
      throw new RewardError(plugin, `episodes: ${name} has ${a?.length} values, expected ${n}`);
    }
  }
}

/**
 * The largest |reward| the host accepts. Rewards in this project are O(1) (classification pays
 * 1, the entropy terms are a few nats); a value far beyond that is a bug, and a 1e30 would
 * overflow the returns and the optimizer state to Infinity. Documented in the README.
 */
export const REWARD_BOUND = 1e6;

/**
 * Checks a reward function's output for a batch of T glimpses and B samples and returns it as
 * a Float32Array (T, B). Throws a RewardError naming `plugin` for anything that is not an array
 * of numbers, a length other than T·B, and the first value that is NaN, ±Infinity or beyond
 * ±REWARD_BOUND (glimpse t = 1..T, sample b = 0..B−1). Values are checked as given (a float64
 * 1e300 is reported as 1e+300, not as the Infinity it would become in float32).
 *
 * @example
 * ```ts
 * import { checkRewardOutput } from "./check.ts";
 * checkRewardOutput("mine.ts", 2, 1, new Float32Array([0, 1])); // ok
 * // checkRewardOutput("mine.ts", 2, 1, [0, NaN]) throws
 * //   reward "mine.ts": NaN at glimpse 2 sample 0
 * ```
 */
export function checkRewardOutput(
  plugin: string,
  T: number,
  B: number,
  output: unknown,
): Float32Array {
  if (
    !(output instanceof Float32Array || output instanceof Float64Array || Array.isArray(output))
  ) {
    const what = output === null
      ? "null"
      : ArrayBuffer.isView(output)
      ? output.constructor.name
      : typeof output;
    throw new RewardError(plugin, `returned ${what}, expected a Float32Array (T, B)`);
  }
  const values = output as ArrayLike<unknown>;
  if (values.length !== T * B) {
    throw new RewardError(
      plugin,
      `wrong shape: returned ${values.length} values, expected T·B = ${T}·${B} = ${T * B}`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!Number.isFinite(v) || Math.abs(v) > REWARD_BOUND) {
      const t = Math.floor(i / B) + 1, b = i % B;
      const beyond = Number.isFinite(v) ? ` (beyond the reward bound ±${REWARD_BOUND})` : "";
      throw new RewardError(plugin, `${v} at glimpse ${t} sample ${b}${beyond}`);
    }
  }
  return output instanceof Float32Array ? output : new Float32Array(values as ArrayLike<number>);
}

/**
 * Text from a plugin made safe for one terminal line: control characters (ANSI escapes, bells,
 * newlines) become spaces or are dropped, and it is cut at `max` characters.
 */
export function plainText(s: string, max = 300): string {
  // deno-lint-ignore no-control-regex
  const t = s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\x00-\x1f\x7f-\x9f]+/g, " ");
  const line = t.trim();
  return line.length > max ? line.slice(0, max) + "…" : line;
}

/** "threw Error: message" for anything thrown; permission errors are said plainly. */
export function describeThrown(name: string, message: string): string {
  const m = /Requires (\w+) access to (.+?)(, run again with .*)?$/.exec(message);
  if (m) {
    return `denied ${m[1]} access to ${m[2]} (reward plugins run without file, network, ` +
      `environment or subprocess access)`;
  }
  return `threw ${name}: ${message}`;
}

/**
 * Binds a definition to resolved options as a RewardFn that runs in this process (no sandbox:
 * for trusted code, tests and benchmarks). Same checks as the sandbox: episodes in, output out,
 * and a throw becomes a RewardError naming `plugin`.
 *
 * @example
 * ```ts
 * import { bindReward } from "./check.ts";
 * import classification from "./classification.ts";
 * import { syntheticEpisodes } from "./synthetic.ts";
 * const fn = bindReward(classification, {}, "classification");
 * const r = await fn(syntheticEpisodes({ T: 6, B: 4, C: 10, seed: 1 })); // (6, 4)
 * ```
 */
export function bindReward<S extends OptionInputs>(
  definition: RewardDefinition<S>,
  options: ResolvedOptions,
  plugin = definition.name,
): RewardFn {
  return (ep) => {
    checkEpisodes(plugin, ep);
    let out;
    try {
      out = definition.reward(ep, options as OptionValues<S>);
    } catch (e) {
      throw thrown(plugin, e);
    }
    if (out instanceof Promise) {
      return out.then(
        (v) => checkRewardOutput(plugin, ep.T, ep.B, v),
        (e) => {
          throw thrown(plugin, e);
        },
      );
    }
    return checkRewardOutput(plugin, ep.T, ep.B, out);
  };
}

function thrown(plugin: string, e: unknown): RewardError {
  const err = e instanceof Error ? e : new Error(String(e));
  return new RewardError(plugin, describeThrown(err.name, err.message));
}
