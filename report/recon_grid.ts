/**
 * The reconstruction grid: one row per image, showing the model's input, then (for translated or
 * cluttered input) the clean digit the probe was trained to reconstruct, then the VAE probe's
 * reconstruction from the recurrent state after glimpse 1..T. It shows what the model "knows"
 * about the image after each glimpse.
 *
 * Layout (all in figure pixels): a header band with the column titles, then per row a band of
 * square tiles of side `tile` separated by `gap`, each with a caption band under it.
 *
 * @module
 */
import { drawGreyTile, type Figure, type FigureText, rgbCanvas } from "./figure.ts";

/** One row of the grid. */
export interface ReconRow {
  /** The model's input, (inputHeight, inputWidth) in [0, 1]. */
  input: Float32Array;
  /** The clean digit (reconHeight, reconWidth), shown for translated/cluttered input. */
  clean?: Float32Array;
  /** Reconstructions after glimpse 1..T: (T, reconHeight·reconWidth) in [0, 1]. */
  recon: Float32Array;
  /** Caption under the input tile, e.g. "label 7". */
  inputCaption?: string;
  /** Caption under each glimpse's tile (T), e.g. "7 · 93%". */
  captions?: readonly string[];
}

/** Sizes of {@link reconGrid}. */
export interface ReconGridOptions {
  inputHeight: number;
  inputWidth: number;
  /** Size of the reconstructions and of `clean`; default 28×28. */
  reconHeight?: number;
  reconWidth?: number;
  /** Glimpses T. */
  glimpses: number;
  /** Side of every tile in figure pixels; default 112 (4× a 28-pixel digit). */
  tile?: number;
  /** Titles of the columns; default "input", "clean", "glimpse 1".."glimpse T". */
  titles?: readonly string[];
}

/** Where one tile is. */
export interface ReconTile {
  row: number;
  /** Column index, 0 = input. */
  col: number;
  kind: "input" | "clean" | "glimpse";
  /** Glimpse t (1-based) of a "glimpse" tile; 0 otherwise. */
  glimpse: number;
  /** Top-left corner and side in figure pixels. */
  x: number;
  y: number;
  side: number;
}

/** The grid's geometry, computed before anything is drawn. */
export interface ReconGridLayout {
  width: number;
  height: number;
  tile: number;
  gap: number;
  /** Height of the column-title band at the top. */
  header: number;
  /** Height of the caption band under every row of tiles. */
  caption: number;
  columns: number;
  tiles: ReconTile[];
}

/** Pixels between tiles and around the grid. */
export const RECON_GAP = 8;
const HEADER = 22;
const CAPTION = 20;
const BACKGROUND = [255, 255, 255] as const;

/**
 * Where every tile of a grid of `rows` rows goes.
 *
 * @example
 * ```ts
 * import { reconGridLayout } from "./recon_grid.ts";
 * const l = reconGridLayout(1, 6, false, 112);
 * // l.columns === 7; l.tiles[1] is glimpse 1 at x = 8 + 112 + 8
 * ```
 */
export function reconGridLayout(
  rows: number,
  glimpses: number,
  withClean: boolean,
  tile = 112,
): ReconGridLayout {
  if (!(Number.isInteger(rows) && rows >= 1)) throw new Error(`recon grid: ${rows} rows`);
  if (!(Number.isInteger(glimpses) && glimpses >= 1)) {
    throw new Error(`recon grid: ${glimpses} glimpses`);
  }
  if (!(Number.isInteger(tile) && tile >= 8)) throw new Error(`recon grid: tile ${tile} < 8`);
  const gap = RECON_GAP;
  const columns = 1 + (withClean ? 1 : 0) + glimpses;
  const rowHeight = tile + CAPTION + gap;
  const tiles: ReconTile[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const kind = c === 0 ? "input" : withClean && c === 1 ? "clean" : "glimpse";
      tiles.push({
        row: r,
        col: c,
        kind,
        glimpse: kind === "glimpse" ? c - (withClean ? 1 : 0) : 0,
        x: gap + c * (tile + gap),
        y: HEADER + gap + r * rowHeight,
        side: tile,
      });
    }
  }
  return {
    width: gap + columns * (tile + gap),
    height: HEADER + gap + rows * rowHeight,
    tile,
    gap,
    header: HEADER,
    caption: CAPTION,
    columns,
    tiles,
  };
}

/**
 * Draws the grid: white background, grey tiles (white ink on black, as the model sees it),
 * titles above the columns and captions under the tiles. Either every row has `clean` or none.
 *
 * @example
 * ```ts
 * import { reconGrid } from "./recon_grid.ts";
 * import { writeFigurePng } from "./figure.ts";
 * const T = 3, input = new Float32Array(28 * 28), recon = new Float32Array(T * 28 * 28);
 * const fig = reconGrid([{ input, recon, captions: ["1 · 40%", "7 · 80%", "7 · 97%"] }], {
 *   inputHeight: 28, inputWidth: 28, glimpses: T,
 * });
 * await writeFigurePng("/tmp/recon.png", fig);
 * ```
 */
export function reconGrid(rows: readonly ReconRow[], options: ReconGridOptions): Figure {
  const { inputHeight: ih, inputWidth: iw, glimpses: T } = options;
  const rh = options.reconHeight ?? 28, rw = options.reconWidth ?? 28;
  if (rows.length === 0) throw new Error("recon grid: no rows to draw");
  const withClean = rows[0].clean !== undefined;
  rows.forEach((row, r) => {
    if (row.input.length !== ih * iw) {
      throw new Error(`recon grid: row ${r} input has ${row.input.length} values, not ${ih}×${iw}`);
    }
    if (row.recon.length !== T * rh * rw) {
      throw new Error(
        `recon grid: row ${r} has ${row.recon.length} reconstruction values, not ` +
          `T·${rh}·${rw} = ${T * rh * rw}`,
      );
    }
    if ((row.clean !== undefined) !== withClean) {
      throw new Error("recon grid: either every row has a clean digit or none does");
    }
    if (row.clean && row.clean.length !== rh * rw) {
      throw new Error(`recon grid: row ${r} clean digit has ${row.clean.length} values`);
    }
    if (row.captions && row.captions.length !== T) {
      throw new Error(`recon grid: row ${r} has ${row.captions.length} captions for ${T} glimpses`);
    }
  });
  const layout = reconGridLayout(rows.length, T, withClean, options.tile ?? 112);
  const titles = options.titles ??
    [
      "input",
      ...(withClean ? ["clean"] : []),
      ...Array.from({ length: T }, (_, t) => `glimpse ${t + 1}`),
    ];
  if (titles.length !== layout.columns) {
    throw new Error(`recon grid: ${titles.length} titles for ${layout.columns} columns`);
  }
  const canvas = rgbCanvas(layout.width, layout.height, BACKGROUND);
  const texts: FigureText[] = [];
  const size = layout.tile >= 96 ? 13 : 10;
  for (let c = 0; c < layout.columns; c++) {
    texts.push({
      x: layout.gap + c * (layout.tile + layout.gap) + layout.tile / 2,
      y: layout.header - 4,
      text: titles[c],
      anchor: "middle",
      size,
      bold: true,
    });
  }
  for (const t of layout.tiles) {
    const row = rows[t.row];
    let caption: string | undefined;
    if (t.kind === "input") {
      drawGreyTile(canvas, row.input, iw, ih, t.x, t.y, t.side, t.side);
      caption = row.inputCaption;
    } else if (t.kind === "clean") {
      drawGreyTile(canvas, row.clean!, rw, rh, t.x, t.y, t.side, t.side);
    } else {
      const px = rh * rw;
      drawGreyTile(
        canvas,
        row.recon.subarray((t.glimpse - 1) * px, t.glimpse * px),
        rw,
        rh,
        t.x,
        t.y,
        t.side,
        t.side,
      );
      caption = row.captions?.[t.glimpse - 1];
    }
    if (caption) {
      texts.push({
        x: t.x + t.side / 2,
        y: t.y + t.side + layout.caption - 5,
        text: caption,
        anchor: "middle",
        size,
      });
    }
  }
  return { raster: canvas, texts };
}
