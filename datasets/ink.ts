/**
 * Telling ink from paper in a grey image, for MNIST-style fitting: which side is the paper
 * (light paper is inverted so ink comes out white on black, as MNIST has it), how bright the
 * paper is, and where its noise ends, so that JPEG ringing, grain and grey paper are not ink
 * while a stroke's anti-aliased grey edge still is.
 *
 * Everything is read off one 1024-bin histogram, so a 2000×2000 scan costs a few passes over
 * its pixels.
 *
 * @module
 */

/** The ink of an image and which way it was read. */
export interface Ink {
  /** (h, w) ink in [0, 1]: 0 paper, 1 full ink; all 0 when the image has no ink. */
  ink: Float32Array;
  /** Whether the paper was light (the image was inverted). */
  inverted: boolean;
}

const BINS = 1024;
/** Less than this between paper and ink (in [0, 1] grey) is no ink at all: a blank page. */
const MIN_CONTRAST = 0.1;
/** Ink below this share of full strength is paper: JPEG ringing near strokes stays below it. */
const MIN_FLOOR = 0.12;

const binOf = (v: number) => Math.min(BINS - 1, Math.max(0, Math.floor(v * BINS)));

/**
 * The ink of `grey` (h, w) in [0, 1] as white on black in [0, 1].
 *
 * - Paper or ink: Otsu's threshold splits the grey levels in two; the side that holds most of
 *   the border is the paper (a digit touching the border leaves most of it to the paper),
 *   and when the border is split evenly, the larger side is (ink covers less of a page).
 * - Levels: the paper's median and the ink's 90th percentile (away from the paper) set 0 and
 *   1, so grey paper and grey ink are stretched to the full range.
 * - Noise: anything within max(12%, 5 σ) of the paper, σ the paper's robust spread (1.4826 ×
 *   its median absolute deviation), is paper; above that the ink ramps up from 0 with no step.
 *
 * @example
 * ```ts
 * import { inkOf } from "./ink.ts";
 * const page = new Float32Array(20 * 20).fill(0.95); // light paper
 * for (let y = 4; y < 16; y++) page[y * 20 + 10] = 0.05; // a dark stroke
 * const { ink, inverted } = inkOf(page, 20, 20); // inverted; ink 1 on the stroke, 0 elsewhere
 * ```
 */
export function inkOf(grey: Float32Array, w: number, h: number): Ink {
  const n = w * h;
  const hist = new Float64Array(BINS);
  for (let p = 0; p < n; p++) hist[binOf(grey[p])]++;
  const t = otsuBin(hist, n);
  const ink = new Float32Array(n);
  if (t < 0) return { ink, inverted: false }; // one grey level throughout
  let borderLight = 0, border = 0;
  const vote = (v: number) => {
    border++;
    if (binOf(v) > t) borderLight++;
  };
  for (let x = 0; x < w; x++) {
    vote(grey[x]);
    if (h > 1) vote(grey[(h - 1) * w + x]);
  }
  for (let y = 1; y < h - 1; y++) {
    vote(grey[y * w]);
    if (w > 1) vote(grey[y * w + w - 1]);
  }
  let lightCount = 0;
  for (let b = t + 1; b < BINS; b++) lightCount += hist[b];
  const lightShare = borderLight / border;
  const inverted = lightShare >= 0.6 || (lightShare > 0.4 && lightCount >= n - lightCount);
  // darkness histogram: bins counted from the paper's side, so ink is always high
  const dark = inverted ? Float64Array.from(hist).reverse() : hist;
  const split = inverted ? BINS - 1 - t : t; // paper: bins ≤ split (light paper read reversed)
  const paperBins = inverted ? split - 1 : split;
  const paperLevel = quantileBin(dark, 0, paperBins, 0.5);
  const inkLevel = quantileBin(dark, paperBins + 1, BINS - 1, 0.9);
  const contrast = (inkLevel - paperLevel) / BINS;
  if (contrast < MIN_CONTRAST) return { ink, inverted };
  // the paper's spread around its level, from the same histogram
  const dev = new Float64Array(BINS);
  for (let b = 0; b <= paperBins; b++) dev[Math.abs(b - paperLevel)] += dark[b];
  const sigma = (1.4826 * quantileBin(dev, 0, BINS - 1, 0.5)) / BINS;
  const floor = Math.min(0.5, Math.max(MIN_FLOOR, (5 * sigma) / contrast));
  const paper = (paperLevel + 0.5) / BINS;
  for (let p = 0; p < n; p++) {
    const d = ((inverted ? 1 - grey[p] : grey[p]) - paper) / contrast;
    ink[p] = d <= floor ? 0 : Math.min(1, (d - floor) / (1 - floor));
  }
  return { ink, inverted };
}

/**
 * Otsu's threshold: the bin b that best splits the histogram into ≤ b and > b (largest
 * between-class variance); −1 when every value is in one bin.
 */
function otsuBin(hist: Float64Array, n: number): number {
  let total = 0;
  for (let b = 0; b < BINS; b++) total += b * hist[b];
  let w0 = 0, sum0 = 0, best = -1, bestVar = 0;
  for (let b = 0; b < BINS - 1; b++) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const w1 = n - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0, m1 = (total - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > bestVar) [bestVar, best] = [between, b];
  }
  return best;
}

/** The bin at quantile `q` of the histogram's bins `from`..`to` (inclusive). */
function quantileBin(hist: Float64Array, from: number, to: number, q: number): number {
  let count = 0;
  for (let b = from; b <= to; b++) count += hist[b];
  if (count === 0) return from;
  let seen = 0;
  for (let b = from; b <= to; b++) {
    seen += hist[b];
    if (seen >= q * count) return b;
  }
  return to;
}
