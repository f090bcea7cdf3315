/**
 * The numbers of `deno task reproduce` across seeds: means with their spread (sample standard
 * deviation and standard error over seeds), the verdict on each of the seed's claims, and the
 * markdown of the report. Pure functions on numbers, so the verdict logic is tested on synthetic
 * values (tests/reproduce_test.ts); commands/reproduce.ts gathers the numbers.
 *
 * A verdict compares a difference of means with its combined standard error across seeds:
 * `holds` when the difference has the claimed sign and exceeds {@link VERDICT_Z} standard errors,
 * `does not` when it exceeds them with the opposite sign, `not established` otherwise (or with
 * fewer than two seeds on a side, where no spread can be measured).
 *
 * @module
 */

/** How many combined standard errors a difference must exceed for a verdict either way. */
export const VERDICT_Z = 2;

/** The three answers a claim can get. */
export type Verdict = "holds" | "does not" | "not established";

/** Mean, sample standard deviation and standard error of the mean of `xs`. */
export interface Spread {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN for n < 2. */
  sd: number;
  /** sd / √n; NaN for n < 2. */
  se: number;
}

/** The {@link Spread} of `xs` (NaN mean for no values). */
export function spread(xs: readonly number[]): Spread {
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  const sd = n >= 2 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  return { n, mean, sd, se: n >= 2 ? sd / Math.sqrt(n) : NaN };
}

/** A verdict with the figure it rests on. */
export interface ClaimTest {
  verdict: Verdict;
  /** The difference of means (or the mean, for a one-sample test), in the claim's direction. */
  difference: number;
  /** Its standard error (combined for two samples). */
  se: number;
  /** Why, in one line. */
  reason: string;
}

function decide(difference: number, se: number, sign: 1 | -1, enough: boolean): ClaimTest {
  const fmt = (x: number) => x.toFixed(4);
  if (!enough || !Number.isFinite(difference)) {
    return {
      verdict: "not established",
      difference,
      se,
      reason: "fewer than two seeds on a side: no spread to judge by",
    };
  }
  const z = se > 0 ? Math.abs(difference) / se : difference === 0 ? 0 : Infinity;
  const along = Math.sign(difference) === sign;
  const verdict: Verdict = z > VERDICT_Z ? (along ? "holds" : "does not") : "not established";
  return {
    verdict,
    difference,
    se,
    reason: `difference ${fmt(difference)} ± ${fmt(se)} (s.e.), ${
      Number.isFinite(z) ? z.toFixed(1) : "∞"
    } s.e. ${along ? "in" : "against"} the claimed direction (${VERDICT_Z} needed)`,
  };
}

/**
 * Claim "mean(a) − mean(b) has sign `sign`", one value per seed on each side: the difference of
 * means against √(se_a² + se_b²).
 *
 * @example
 * ```ts
 * import { compareClaim } from "./reproduce.ts";
 * compareClaim([1.1, 1.2, 1.15], [0.9, 0.95, 0.92], 1).verdict; // "holds"
 * ```
 */
export function compareClaim(a: readonly number[], b: readonly number[], sign: 1 | -1): ClaimTest {
  const sa = spread(a), sb = spread(b);
  return decide(sa.mean - sb.mean, Math.hypot(sa.se, sb.se), sign, sa.n >= 2 && sb.n >= 2);
}

/** Claim "mean(xs) has sign `sign`" (e.g. a per-run drop that should be positive). */
export function signClaim(xs: readonly number[], sign: 1 | -1): ClaimTest {
  const s = spread(xs);
  return decide(s.mean, s.se, sign, s.n >= 2);
}

/** `mean ± sd` of values across seeds, `d` decimals. */
export function pm(xs: readonly number[], d = 3): string {
  const s = spread(xs);
  if (s.n === 0) return "–";
  return s.n >= 2 ? `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)}` : s.mean.toFixed(d);
}

/** A markdown table from a header and rows of cells (first column left-aligned). */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(head),
    line(head.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

/** CSV text from a header and rows (cells quoted when they hold a comma or quote). */
export function csvText(head: readonly string[], rows: readonly (readonly (string | number)[])[]) {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [head, ...rows].map((r) => r.map(cell).join(",")).join("\n") + "\n";
}
