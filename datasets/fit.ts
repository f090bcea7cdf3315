/**
 * Fitting an arbitrary grey image to the model's input. MNIST-style fitting repeats how MNIST
 * was made (LeCun et al.): white ink on black, the digit's bounding box scaled (keeping its
 * aspect ratio, anti-aliased) to fit a 20×20 box, then placed so that its centre of mass is at
 * the centre of the 28×28 field.
 *
 * @module
 */
import { resampleArea } from "./split.ts";

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
 * Fits `grey` (h, w) in [0, 1] into (outH, outW).
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
  const out = new Float32Array(outW * outH);
  if (options.mnistStyle === false) return resampleArea(grey, w, h, out, outW, outH);
  const ink = inkOf(grey, w, h);
  // bounding box of the ink
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return out; // blank image: nothing to centre
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    crop.set(ink.subarray((y0 + y) * w + x0, (y0 + y) * w + x1 + 1), y * bw);
  }
  const box = Math.max(1, Math.round((20 / 28) * Math.min(outW, outH)));
  const s = box / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)), th = Math.max(1, Math.round(bh * s));
  const scaled = resampleArea(crop, bw, bh, new Float32Array(tw * th), tw, th);
  // centre of mass of the scaled digit, placed at the centre of the field
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = scaled[y * tw + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const dx = Math.round(outW / 2 - mx / m), dy = Math.round(outH / 2 - my / m);
  for (let y = 0; y < th; y++) {
    const oy = y + dy;
    if (oy < 0 || oy >= outH) continue;
    for (let x = 0; x < tw; x++) {
      const ox = x + dx;
      if (ox >= 0 && ox < outW) out[oy * outW + ox] = Math.min(1, scaled[y * tw + x]);
    }
  }
  return out;
}

/**
 * The ink of an image as white on black in [0, 1]: inverted when the border (the paper) is
 * light, the border's median level taken as the background, contrast stretched to a maximum
 * of 1.
 */
export function inkOf(grey: Float32Array, w: number, h: number): Float32Array {
  const border: number[] = [];
  for (let x = 0; x < w; x++) border.push(grey[x], grey[(h - 1) * w + x]);
  for (let y = 1; y < h - 1; y++) border.push(grey[y * w], grey[y * w + w - 1]);
  border.sort((a, b) => a - b);
  const median = border[border.length >> 1];
  const invert = median > 0.5;
  const bg = invert ? 1 - median : median;
  const ink = new Float32Array(w * h);
  let max = 0;
  for (let p = 0; p < w * h; p++) {
    const v = Math.max(0, (invert ? 1 - grey[p] : grey[p]) - bg);
    ink[p] = v;
    if (v > max) max = v;
  }
  // faint noise is not ink: below 5% of the strongest stroke counts as background
  const floor = 0.05 * max;
  for (let p = 0; p < w * h; p++) ink[p] = ink[p] > floor ? ink[p] / max : 0;
  return ink;
}
