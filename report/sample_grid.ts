/**
 * A grid of dataset samples with their labels, for looking at what the model is fed
 * (`deno task data preview`).
 *
 * @module
 */
import type { Split } from "../datasets/types.ts";
import { drawText, GLYPH_HEIGHT, textWidth } from "./digit_font.ts";
import type { RasterImage } from "./png.ts";

/** Layout of {@link sampleGrid}. */
export interface GridOptions {
  /** Columns; default ceil(√n). */
  cols?: number;
  /** Integer magnification of each image; default so that a cell is at least 56 pixels. */
  scale?: number;
  /** Epoch passed to `fill`; default 0. */
  epoch?: number;
}

const GAP = 2;
const BACKGROUND = 48; // grey between cells, so black canvases show their edges
const LABEL_COLOUR = [255, 210, 0] as const;

/**
 * Renders samples `indices` of `split` (images of height×width) into an RGB grid, each image
 * with its label index written under it.
 *
 * @example
 * ```ts
 * import { loadDataset } from "../datasets/load.ts";
 * import { sampleGrid } from "./sample_grid.ts";
 * import { writePng } from "./png.ts";
 * const ds = await loadDataset("mnist", { variant: "cluttered" });
 * await writePng("grid.png", sampleGrid(ds.train, [0, 1, 2, 3], ds.height, ds.width));
 * ```
 */
export function sampleGrid(
  split: Split,
  indices: readonly number[],
  height: number,
  width: number,
  options: GridOptions = {},
): RasterImage {
  const n = indices.length;
  if (n === 0) throw new Error("sampleGrid: no samples to show");
  const cols = options.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const scale = options.scale ?? Math.max(1, Math.ceil(56 / Math.max(height, width)));
  const fontScale = 2;
  const labelH = GLYPH_HEIGHT * fontScale + 4;
  const cellW = width * scale + GAP, cellH = height * scale + labelH + GAP;
  const W = cols * cellW + GAP, H = rows * cellH + GAP;
  const rgb = new Uint8Array(W * H * 3).fill(BACKGROUND);
  const images = new Float32Array(n * height * width); // (n, height, width)
  split.fill(indices, options.epoch ?? 0, images);
  for (let j = 0; j < n; j++) {
    const x0 = GAP + (j % cols) * cellW, y0 = GAP + Math.floor(j / cols) * cellH;
    for (let y = 0; y < height * scale; y++) {
      for (let x = 0; x < width * scale; x++) {
        const v =
          images[j * height * width + Math.floor(y / scale) * width + Math.floor(x / scale)];
        const b = Math.round(Math.min(1, Math.max(0, v)) * 255);
        rgb.fill(b, 3 * ((y0 + y) * W + x0 + x), 3 * ((y0 + y) * W + x0 + x) + 3);
      }
    }
    const label = String(split.labels[indices[j]]);
    const lx = x0 + Math.floor((width * scale - textWidth(label, fontScale)) / 2);
    drawText(rgb, W, H, lx, y0 + height * scale + 2, label, fontScale, LABEL_COLOUR);
  }
  return { width: W, height: H, channels: 3, data: rgb };
}
