/**
 * A grid of dataset samples with their labels, for looking at what the model is fed
 * (`deno task data preview`). The images are composed as a raster and the labels set as text
 * in the report font (report/figure.ts renders both through resvg).
 *
 * @module
 */
import type { Split } from "../datasets/types.ts";
import { drawGreyTile, type Figure, type FigureText, rgbCanvas } from "./figure.ts";

/** Layout of {@link sampleGrid}. */
export interface GridOptions {
  /** Columns; default ceil(√n). */
  cols?: number;
  /** Integer magnification of each image; default so that a cell is at least 56 pixels. */
  scale?: number;
  /** Epoch passed to `fill`; default 0. */
  epoch?: number;
  /** Text under each image, from its label index; default the index itself. */
  labelText?: (label: number) => string;
}

/** Pixels between cells and around the grid. */
export const SAMPLE_GAP = 4;
/** Height of the label band under every image. */
export const SAMPLE_LABEL_HEIGHT = 16;
const LABEL_SIZE = 12;
// white paper like the other report figures: the images' black backgrounds show their edges
const BACKGROUND = [255, 255, 255] as const;

/**
 * Renders samples `indices` of `split` (images of height×width) into a figure, each image
 * with its label written under it.
 *
 * @example
 * ```ts
 * import { loadDataset } from "../datasets/load.ts";
 * import { sampleGrid } from "./sample_grid.ts";
 * import { writeFigurePng } from "./figure.ts";
 * const ds = await loadDataset("mnist", { variant: "cluttered" });
 * await writeFigurePng("grid.png", sampleGrid(ds.train, [0, 1, 2, 3], ds.height, ds.width));
 * ```
 */
export function sampleGrid(
  split: Split,
  indices: readonly number[],
  height: number,
  width: number,
  options: GridOptions = {},
): Figure {
  const n = indices.length;
  if (n === 0) throw new Error("sampleGrid: no samples to show");
  const cols = options.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const scale = options.scale ?? Math.max(1, Math.ceil(56 / Math.max(height, width)));
  const labelText = options.labelText ?? String;
  const tileW = width * scale, tileH = height * scale;
  const cellW = tileW + SAMPLE_GAP, cellH = tileH + SAMPLE_LABEL_HEIGHT + SAMPLE_GAP;
  const canvas = rgbCanvas(cols * cellW + SAMPLE_GAP, rows * cellH + SAMPLE_GAP, BACKGROUND);
  const images = new Float32Array(n * height * width); // (n, height, width)
  split.fill(indices, options.epoch ?? 0, images);
  const texts: FigureText[] = [];
  for (let j = 0; j < n; j++) {
    const x0 = SAMPLE_GAP + (j % cols) * cellW, y0 = SAMPLE_GAP + Math.floor(j / cols) * cellH;
    const image = images.subarray(j * height * width, (j + 1) * height * width);
    drawGreyTile(canvas, image, width, height, x0, y0, tileW, tileH);
    texts.push({
      x: x0 + tileW / 2,
      y: y0 + tileH + SAMPLE_LABEL_HEIGHT - 3, // baseline: digits 9 pixels tall end here
      text: labelText(split.labels[indices[j]]),
      anchor: "middle",
      size: LABEL_SIZE,
    });
  }
  return { raster: canvas, texts };
}
