/**
 * Reward options: the table of a definition's options (type, default, help) and the parsing of
 * `--reward-opt key=value` against it. Every error names the reward and the key.
 *
 * @module
 */
import { type OptionInputs, type OptionValue, RewardError } from "./define.ts";

/** One option as the loader and `deno task rewards` see it. */
export interface OptionInfo {
  /** The option's type, taken from its default. */
  type: "number" | "boolean" | "string";
  /** The value when the user gives none. */
  default: OptionValue;
  /** One line of help ("" when the plugin gives none). */
  description: string;
}

/** A definition's options by name (plain data: it crosses the worker boundary). */
export type OptionTable = Record<string, OptionInfo>;

/** Resolved option values by name, defaults filled in. */
export type ResolvedOptions = Record<string, OptionValue>;

/**
 * Normalises declared options (`{ beta: 0.5 }` or `{ beta: { default: 0.5, description } }`)
 * to a table. Assumes the declaration passed `rewardDefinitionProblem`.
 *
 * @example
 * ```ts
 * import { optionTable } from "./options.ts";
 * const t = optionTable({ beta: { default: 0.5, description: "weight" }, tag: "x" });
 * // t.beta is { type: "number", default: 0.5, description: "weight" }
 * ```
 */
export function optionTable(options: OptionInputs | undefined): OptionTable {
  const table: OptionTable = {};
  for (const [key, spec] of Object.entries(options ?? {})) {
    const d = typeof spec === "object" ? spec.default : spec;
    const description = typeof spec === "object" ? spec.description ?? "" : "";
    table[key] = { type: typeof d as OptionInfo["type"], default: d, description };
  }
  return table;
}

function parseValue(plugin: string, key: string, info: OptionInfo, raw: string): OptionValue {
  const fail = (): never => {
    throw new RewardError(plugin, `option "${key}" must be a ${info.type}, got "${raw}"`);
  };
  switch (info.type) {
    case "number": {
      const v = raw.trim() === "" ? NaN : Number(raw);
      return Number.isFinite(v) ? v : fail();
    }
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : fail();
    case "string":
      return raw;
  }
}

function known(table: OptionTable): string {
  const keys = Object.keys(table);
  return keys.length ? `its options: ${keys.join(", ")}` : "it takes no options";
}

/**
 * Resolves options against a table: `given` is either the `--reward-opt` strings ("key=value",
 * parsed by the type of the default; booleans are `true`/`false`) or typed values from code.
 * An unknown key, a key given twice, or a value of the wrong type is a `RewardError` naming
 * `plugin` and the key.
 *
 * @example
 * ```ts
 * import { optionTable, resolveRewardOptions } from "./options.ts";
 * const table = optionTable({ beta: 0.5, verbose: false });
 * const o = resolveRewardOptions("entropy", table, ["beta=0.25"]);
 * // o is { beta: 0.25, verbose: false }
 * ```
 */
export function resolveRewardOptions(
  plugin: string,
  table: OptionTable,
  given: readonly string[] | Readonly<Record<string, unknown>> = [],
): ResolvedOptions {
  const out: ResolvedOptions = {};
  for (const [key, info] of Object.entries(table)) out[key] = info.default;
  const seen = new Set<string>();
  const entries: [string, unknown][] = Array.isArray(given)
    ? (given as readonly string[]).map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) {
        throw new RewardError(plugin, `--reward-opt "${kv}" is not key=value`);
      }
      return [kv.slice(0, eq).trim(), kv.slice(eq + 1)];
    })
    : Object.entries(given);
  for (const [key, value] of entries) {
    const info = Object.hasOwn(table, key) ? table[key] : undefined;
    if (!info) throw new RewardError(plugin, `unknown option "${key}" (${known(table)})`);
    if (seen.has(key)) throw new RewardError(plugin, `option "${key}" given twice`);
    seen.add(key);
    if (Array.isArray(given)) {
      out[key] = parseValue(plugin, key, info, value as string);
    } else {
      const ok = typeof value === info.type && (info.type !== "number" || Number.isFinite(value));
      if (!ok) {
        throw new RewardError(
          plugin,
          `option "${key}" must be a ${info.type}, got ${String(value)}`,
        );
      }
      out[key] = value as OptionValue;
    }
  }
  return out;
}

/** Formats resolved options for logs: `beta=0.25 verbose=false` ("" for none). */
export function formatRewardOptions(options: ResolvedOptions): string {
  return Object.entries(options).map(([k, v]) => `${k}=${v}`).join(" ");
}
