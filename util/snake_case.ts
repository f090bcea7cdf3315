/**
 * One case for the JSON glimpse writes: TypeScript fields are camelCase, every JSON and CSV
 * file or `--json` line is snake_case (`info_gain`, `images_per_second`), as the CSV columns and
 * `explain --json` always were.
 *
 * @module
 */

/** `infoGainSe` → `info_gain_se`; a name already in snake_case is returned as it is. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A copy of `value` with every object key in snake_case, arrays and nested objects included
 * (typed arrays become plain arrays, as JSON.stringify would write them as objects).
 *
 * @example
 * ```ts
 * import { snakeCaseKeys } from "./snake_case.ts";
 * snakeCaseKeys({ priorEntropy: 2.3, rows: [{ infoGain: 0.1 }] });
 * // { prior_entropy: 2.3, rows: [{ info_gain: 0.1 }] }
 * ```
 */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>);
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [snakeCase(k), snakeCaseKeys(v)]),
    );
  }
  return value;
}
