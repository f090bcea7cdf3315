/**
 * Parsing of command-line option values (commander hands them over as strings) with one-line
 * errors that name the option and the value: `--epochs "-1": expected a non-negative integer`.
 *
 * @module
 */

/** An error about a command-line option; cli.ts prints its message as is. */
export class OptionError extends Error {
  override name = "OptionError";
}

function bad(flag: string, value: string, expected: string): never {
  throw new OptionError(`${flag} ${JSON.stringify(value)}: expected ${expected}`);
}

/**
 * Parses an integer option ≥ `min`; undefined stays undefined.
 *
 * @example
 * ```ts
 * import { intOption } from "./options.ts";
 * intOption("--epochs", "20", 0); // 20
 * intOption("--epochs", undefined, 0); // undefined
 * ```
 */
export function intOption(
  flag: string,
  value: string | undefined,
  min: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    bad(
      flag,
      value,
      min === 0
        ? "a non-negative integer"
        : min === 1
        ? "a positive integer"
        : `an integer ≥ ${min}`,
    );
  }
  return n;
}

/**
 * Parses a finite number option with lo < n (or lo ≤ n when `inclusive`) and n < hi (n ≤ hi
 * when `hiInclusive`).
 */
export function numberOption(
  flag: string,
  value: string | undefined,
  { lo = -Infinity, hi = Infinity, inclusive = false, hiInclusive = false, expected = "a number" }:
    {
      lo?: number;
      hi?: number;
      inclusive?: boolean;
      hiInclusive?: boolean;
      expected?: string;
    } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === "" ? NaN : Number(value);
  if (
    !Number.isFinite(n) || n < lo || (!inclusive && n === lo) || n > hi ||
    (!hiInclusive && n === hi)
  ) {
    bad(flag, value, expected);
  }
  return n;
}

/** Checks that `value` is one of `choices`. */
export function choiceOption<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) bad(flag, value, choices.join(" or "));
  return value as T;
}
