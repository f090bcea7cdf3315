/**
 * Fitting an arbitrary grey image to the model's input. MNIST-style fitting repeats how MNIST
 * was made (LeCun et al.): white ink on black, the digit's bounding box scaled (keeping its
 * aspect ratio, anti-aliased) to fit a 20×20 box, then placed so that its centre of mass is at
 * the centre of the 28×28 field (MNIST by whole pixels, here to the exact fraction).
 *
 * What a photo or a typeset digit adds to that: the paper is found and thresholded (datasets/ink.ts,
 * so JPEG noise and grey paper do not count as ink), and strokes that come out thinner than
 * MNIST's after scaling (a light font, a thin pen on a large page) are thickened, because a
 * model trained on MNIST has only seen strokes about 1.8 to 3.6 px wide (10th to 90th
 * percentile, measured by {@link strokeWidth} on the test digits).
 *
 * @module
 */
import { resampleArea } from "./split.ts";
import { inkOf } from "./ink.ts";

/** How {@link fitToInput} maps an image to the input size. */
export interface FitOptions {
  /**
   * true (default): invert a light background, stretch the contrast, scale the ink into a box
   * of 20/28 of the field and centre it by mass, as MNIST was made. false: resample the whole
   * image to the output size.
   */
  mnistStyle?: boolean;
}

/**
 * Strokes narrower than this after scaling (px at 28×28) are thickened: MNIST's narrowest tenth
 * is about 1.8 px, and below 1.5 a model reads a digit as a faint outline.
 */
export const MIN_STROKE_PX = 1.5;
/** What a thickened stroke is brought up to: MNIST's median, 2.55 px, measured the same way. */
export const TARGET_STROKE_PX = 2.5;

/** A (height, width) image in a flat array. */
interface Raster {
  data: Float32Array;
  width: number;
  height: number;
}

/** A fitted digit and how it was made. */
export interface FittedDigit {
  /** (outH, outW) in [0, 1], white ink on black. */
  image: Float32Array;
  /** Whether the paper was light (the image was inverted). */
  inverted: boolean;
  /** Estimated stroke width after scaling, in output pixels, before any thickening. */
  strokePx: number;
  /** Width added by thickening, in output pixels (0: not thickened). */
  thickenedPx: number;
}

/**
 * Fits `grey` (h, w) in [0, 1] into (outH, outW). Throws when MNIST-style fitting finds no ink
 * (a blank or uniform image).
 *
 * @example
 * ```ts
 * import { fitToInput } from "./fit.ts";
 * const photo = new Float32Array(100 * 80).fill(1); // white paper…
 * for (let y = 20; y < 80; y++) photo[y * 80 + 40] = 0; // …with a dark vertical stroke
 * const x = fitToInput(photo, 80, 100, 28, 28); // a white "1" on black, 20 pixels tall
 * ```
 */
export function fitToInput(
  grey: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
  options: FitOptions = {},
): Float32Array {
  if (grey.length !== w * h) throw new Error(`fitToInput: ${grey.length} values for ${w}×${h}`);
  if (options.mnistStyle === false) {
    return resampleArea(grey, w, h, new Float32Array(outW * outH), outW, outH);
  }
  return fitDigit(grey, w, h, outW, outH).image;
}

/**
 * MNIST-style fitting of `grey` (h, w) into (outH, outW), with what was done on the way.
 * Throws `no ink found …` for a blank or uniform image.
 *
 * @example
 * ```ts
 * import { fitDigit } from "./fit.ts";
 * const page = new Float32Array(400 * 400).fill(1);
 * for (let y = 50; y < 350; y++) page[y * 400 + 200] = 0; // a hairline "1" on a big page
 * const { image, thickenedPx } = fitDigit(page, 400, 400, 28, 28); // thickenedPx > 0
 * ```
 */
export function fitDigit(
  grey: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
): FittedDigit {
  if (grey.length !== w * h) throw new Error(`fitDigit: ${grey.length} values for ${w}×${h}`);
  const { ink, inverted } = inkOf(grey, w, h);
  // bounding box of the ink; faint specks (a stray JPEG block, dust) below a quarter of full
  // ink do not stretch it, while the grey anti-aliased edge of a stroke is kept inside it
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (ink[row + x] > 0.25) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) {
    throw new Error(
      `no ink found: the ${w}×${h} image is blank (one level throughout, no digit on it)`,
    );
  }
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const crop = new Float32Array(bw * bh); // (bh, bw)
  for (let y = 0; y < bh; y++) {
    crop.set(ink.subarray((y0 + y) * w + x0, (y0 + y) * w + x1 + 1), y * bw);
  }
  const box = Math.max(1, Math.round((20 / 28) * Math.min(outW, outH)));
  const srcStroke = strokeWidth(crop, bw, bh);
  const strokePx = (srcStroke * box) / Math.max(bw, bh);
  // thickening grows the ink by up to 1 px on every side: scale into a box 2 px smaller so the
  // thickened digit still fits the 20×20 box
  const thicken = strokePx < MIN_STROKE_PX && box > 4;
  const inner = thicken ? box - 2 : box;
  const s = inner / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)), th = Math.max(1, Math.round(bh * s));
  let digit: Raster = { data: resampleInk(crop, bw, bh, tw, th), width: tw, height: th };
  let thickenedPx = 0;
  if (thicken) {
    // dilating by one pixel on each side adds 2 px of width; a blend adds a share of that
    const amount = Math.min(1, Math.max(0, (TARGET_STROKE_PX - srcStroke * s) / 2));
    digit = thickenBy(digit.data, tw, th, amount);
    thickenedPx = 2 * amount;
  }
  return {
    image: placeByMass(digit.data, digit.width, digit.height, outW, outH),
    inverted,
    strokePx,
    thickenedPx,
  };
}

/**
 * Mean stroke width of white-on-black ink (h, w), in its own pixels: twice the ink's area over
 * its outline's length (a stroke of width d and length L has area dL and outline 2L), the
 * outline counted as pixel edges between ink (> 0.5) and background and scaled by π/4, the
 * mean ratio of a curve's length to its staircase length.
 *
 * @example
 * ```ts
 * import { strokeWidth } from "./fit.ts";
 * const bar = new Float32Array(20 * 20);
 * for (let y = 2; y < 18; y++) for (let x = 8; x < 11; x++) bar[y * 20 + x] = 1;
 * strokeWidth(bar, 20, 20); // about 3 (a 3-pixel-wide bar), less the π/4 of a straight edge
 * ```
 */
export function strokeWidth(ink: Float32Array, w: number, h: number): number {
  let area = 0, edges = 0;
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && ink[y * w + x] > 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y)) continue;
      area++;
      edges += (on(x - 1, y) ? 0 : 1) + (on(x + 1, y) ? 0 : 1) + (on(x, y - 1) ? 0 : 1) +
        (on(x, y + 1) ? 0 : 1);
    }
  }
  return edges === 0 ? 0 : (2 * area) / (edges * (Math.PI / 4));
}

/**
 * Resamples (h, w) to (outH, outW), one axis at a time: an area average along an axis that
 * shrinks (every source pixel counted by its overlap, so thin strokes turn grey instead of
 * vanishing) and linear interpolation along one that grows (a box filter would repeat whole
 * pixels unevenly).
 */
function resampleInk(
  src: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
): Float32Array {
  const wx = axisWeights(w, outW), wy = axisWeights(h, outH);
  const rows = new Float32Array(h * outW); // (h, outW)
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < outW; o++) {
      const { start, weights } = wx[o];
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * src[y * w + start + k];
      rows[y * outW + o] = sum;
    }
  }
  const out = new Float32Array(outH * outW); // (outH, outW)
  for (let o = 0; o < outH; o++) {
    const { start, weights } = wy[o];
    for (let k = 0; k < weights.length; k++) {
      const wk = weights[k], row = (start + k) * outW;
      for (let x = 0; x < outW; x++) out[o * outW + x] += wk * rows[row + x];
    }
  }
  for (let p = 0; p < out.length; p++) out[p] = Math.min(1, Math.max(0, out[p]));
  return out;
}

/** The source pixels and weights of every output pixel along one axis of n → m pixels. */
function axisWeights(n: number, m: number): { start: number; weights: number[] }[] {
  const scale = n / m; // source pixels per output pixel
  const out: { start: number; weights: number[] }[] = [];
  for (let o = 0; o < m; o++) {
    if (scale >= 1) {
      const a = o * scale, b = a + scale;
      const start = Math.floor(a), end = Math.min(n, Math.ceil(b));
      const weights: number[] = [];
      for (let i = start; i < end; i++) weights.push((Math.min(i + 1, b) - Math.max(i, a)) / scale);
      out.push({ start, weights });
    } else {
      // the output pixel's centre in source coordinates, between two source centres
      const c = Math.min(n - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i = Math.min(n - 2, Math.floor(c)), f = c - i;
      out.push(n === 1 ? { start: 0, weights: [1] } : { start: i, weights: [1 - f, f] });
    }
  }
  return out;
}

/**
 * Grey dilation by a 3×3 disc (diagonals at 1/√2), blended in by `amount` in [0, 1]: every
 * stroke grows by about 2·amount px, anti-aliased, and the ink's box by at most 1 px a side;
 * the result has one more pixel on every side.
 */
function thickenBy(img: Float32Array, w: number, h: number, amount: number): Raster {
  const pw = w + 2, ph = h + 2; // one pixel of margin on every side for the growth
  const at = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h ? img[y * w + x] : 0;
  const out = new Float32Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const sx = x - 1, sy = y - 1;
      const centre = at(sx, sy);
      const cross = Math.max(at(sx - 1, sy), at(sx + 1, sy), at(sx, sy - 1), at(sx, sy + 1));
      const diagonal = Math.SQRT1_2 *
        Math.max(at(sx - 1, sy - 1), at(sx + 1, sy - 1), at(sx - 1, sy + 1), at(sx + 1, sy + 1));
      const dilated = Math.max(centre, cross, diagonal);
      out[y * pw + x] = centre + amount * (dilated - centre);
    }
  }
  return { data: out, width: pw, height: ph };
}

/**
 * Places `digit` (h, w) in a black (outH, outW) field so that its centre of mass lands on the
 * field's centre exactly. MNIST shifted by whole pixels; the fraction is added here (a linear
 * interpolation, which spreads the 20-pixel ink over parts of 21 pixels), because with whole
 * pixels two renderings of one glyph whose centres round to either side of a pixel edge fit a
 * pixel apart (measured: DejaVu Serif "9" at 48 and 400 px, MSE 0.028 instead of 0.002).
 */
function placeByMass(
  digit: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
): Float32Array {
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = digit[y * w + x];
      if (v <= 0) continue;
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const out = new Float32Array(outW * outH);
  if (m === 0) return out;
  const shiftX = outW / 2 - mx / m, shiftY = outH / 2 - my / m;
  // whole part by index, fraction by interpolation: v(x) = (1 − f)·d(x) + f·d(x − 1)
  const dx = Math.floor(shiftX), dy = Math.floor(shiftY);
  const fx = shiftX - dx, fy = shiftY - dy;
  const at = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h ? digit[y * w + x] : 0;
  for (let y = 0; y <= h; y++) {
    const oy = y + dy;
    if (oy < 0 || oy >= outH) continue;
    for (let x = 0; x <= w; x++) {
      const ox = x + dx;
      if (ox < 0 || ox >= outW) continue;
      const v = (1 - fy) * ((1 - fx) * at(x, y) + fx * at(x - 1, y)) +
        fy * ((1 - fx) * at(x, y - 1) + fx * at(x - 1, y - 1));
      out[oy * outW + ox] = Math.min(1, v);
    }
  }
  return out;
}
