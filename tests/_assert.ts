/**
 * Test helpers: tolerance comparison that prints the first mismatches and the max difference,
 * seeded random data, and central finite differences.
 *
 * @module
 */
import { AssertionError } from "node:assert/strict";

/** Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, label = "values" }: { atol?: number; rtol?: number; label?: string } =
    {},
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${label}: length ${actual.length} != expected ${expected.length}`,
    });
  }
  const bad: string[] = [];
  let maxDiff = 0;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= atol + rtol * Math.abs(e))) {
      count++;
      if (bad.length < 5) bad.push(`[${i}] got ${a}, expected ${e} (diff ${d.toExponential(2)})`);
    }
    if (Number.isNaN(d)) maxDiff = NaN;
    else if (d > maxDiff) maxDiff = d;
  }
  if (count > 0) {
    throw new AssertionError({
      message: `${label}: ${count}/${expected.length} mismatches (atol ${atol}, rtol ${rtol}, ` +
        `max diff ${maxDiff}); first: ${bad.join("; ")}`,
    });
  }
}

/** Deterministic uniform floats in [lo, hi) (mulberry32). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/**
 * Central finite differences of a scalar function f with respect to every element of `x`
 * (x is perturbed in place and restored). Computed in float64 through `f`.
 */
export function finiteDiff(x: Float32Array, f: () => number, eps = 1e-3): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + eps;
    const up = f();
    x[i] = v - eps;
    const down = f();
    x[i] = v;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** Σ w·v: a random projection turns a tensor output into a scalar loss for gradient checks. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
