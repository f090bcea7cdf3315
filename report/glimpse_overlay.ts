/**
 * The glimpse overlay: the model's input enlarged, with every glimpse's k retina patches drawn
 * as rectangles in the glimpse's colour, the glimpse centres joined in order by a thin line and
 * numbered 1..T. A margin around the image shows patches that reach past its edge (the retina
 * reads zeros there).
 *
 * Patch geometry is kernels/retina_ref.ts's: patch i of a glimpse at (lx, ly) starts at
 * {@link patchOrigin} and has side g·s^i image pixels.
 *
 * @module
 */
import { patchOrigin, type RetinaShape } from "../kernels/retina_ref.ts";
import {
  drawGreyTile,
  type Figure,
  type FigurePath,
  type FigureText,
  fillRect,
  rgbCanvas,
  strokeRect,
} from "./figure.ts";

/** One retina patch in image pixels. */
export interface PatchRect {
  /** Glimpse t, 1-based. */
  glimpse: number;
  /** Scale i, 0 = the smallest patch. */
  patch: number;
  /** Top-left column and row, and side, in image pixels (may reach outside the image). */
  x: number;
  y: number;
  side: number;
}

/**
 * The patches of every glimpse: `locations` (T, 2) as (lx column, ly row) in [−1, 1].
 *
 * @example
 * ```ts
 * import { glimpseRects } from "./glimpse_overlay.ts";
 * const r = glimpseRects(new Float32Array([0, 0]), { height: 28, width: 28, patch: 8, scales: 1, scale: 2 });
 * // r[0] is { glimpse: 1, patch: 0, x: 10, y: 10, side: 8 }
 * ```
 */
export function glimpseRects(locations: ArrayLike<number>, retina: RetinaShape): PatchRect[] {
  if (locations.length % 2 !== 0) {
    throw new Error(`glimpse overlay: ${locations.length} location values are not (T, 2) pairs`);
  }
  const out: PatchRect[] = [];
  for (let t = 0; t < locations.length / 2; t++) {
    const lx = locations[2 * t], ly = locations[2 * t + 1];
    if (!Number.isFinite(lx) || !Number.isFinite(ly)) {
      throw new Error(`glimpse overlay: location of glimpse ${t + 1} is (${lx}, ${ly})`);
    }
    for (let i = 0; i < retina.scales; i++) {
      const [x, y] = patchOrigin(retina, lx, ly, i);
      out.push({ glimpse: t + 1, patch: i, x, y, side: retina.patch * retina.scale ** i });
    }
  }
  return out;
}

/**
 * The pixel a location points at, (column, row) in image pixels: the centre the retina's
 * patches are laid around (floor((l+1)/2·W)).
 */
export function locationPixel(lx: number, ly: number, width: number, height: number): [
  number,
  number,
] {
  return [Math.floor((lx + 1) / 2 * width), Math.floor((ly + 1) / 2 * height)];
}

/** Colours of glimpses 1, 2, … (Tableau 10, cycled), as RGB bytes and CSS. */
export const GLIMPSE_COLOURS: readonly (readonly [number, number, number])[] = [
  [78, 121, 167],
  [242, 142, 43],
  [225, 87, 89],
  [118, 183, 178],
  [89, 161, 79],
  [237, 201, 72],
  [176, 122, 161],
  [255, 157, 167],
  [156, 117, 95],
  [186, 176, 172],
];

/** The RGB colour of glimpse t (1-based). */
export function glimpseColour(t: number): readonly [number, number, number] {
  return GLIMPSE_COLOURS[(t - 1) % GLIMPSE_COLOURS.length];
}

const css = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

/** Options of {@link glimpseOverlay}. */
export interface OverlayOptions {
  /** Figure pixels per image pixel; default the smallest integer making the image ≥ 336 px. */
  zoom?: number;
  /** Outline thickness in figure pixels; default 2. */
  thickness?: number;
  /** Image pixels of margin around the image; default half the largest patch. */
  margin?: number;
  /** A line of text under the image, e.g. "predicted 7 (p = 0.98)". */
  caption?: string;
}

/** Where {@link glimpseOverlay} put the image and each patch outline. */
export interface OverlayLayout {
  zoom: number;
  /** Margin in image pixels. */
  margin: number;
  /** Top-left of the image in figure pixels. */
  imageX: number;
  imageY: number;
  /** Patch outlines in figure pixels (before clipping to the figure). */
  rects: (PatchRect & { fx: number; fy: number; fside: number })[];
}

const MARGIN_COLOUR = [72, 72, 84] as const;

/** A label's box: centre and half extents, in figure pixels. */
interface Box {
  x: number;
  y: number;
  hw: number;
  hh: number;
}

/** Width of a bold 15-pixel DejaVu label: digits about 10 pixels, commas 5, plus the halo. */
function labelWidth(text: string): number {
  let w = 6;
  for (const ch of text) w += ch === "," ? 5 : 10;
  return w;
}

const LABEL_HEIGHT = 18;

/**
 * Where a label centred at `at` goes: there, or the nearest of a few offsets (below, above,
 * right, left, then further) where it overlaps no label placed before; taken boxes are added to
 * `placed`.
 */
function placeLabel(at: readonly [number, number], width: number, placed: Box[]): [number, number] {
  const hw = width / 2, hh = LABEL_HEIGHT / 2;
  const steps = [[0, 0], [0, 1], [0, -1], [1, 0], [-1, 0], [0, 2], [0, -2], [1, 1], [-1, -1]];
  for (const [dx, dy] of steps) {
    const box = { x: at[0] + dx * (hw + 12), y: at[1] + dy * (LABEL_HEIGHT + 2), hw, hh };
    const free = placed.every((b) =>
      Math.abs(b.x - box.x) >= b.hw + box.hw || Math.abs(b.y - box.y) >= b.hh + box.hh
    );
    if (free) {
      placed.push(box);
      return [box.x, box.y];
    }
  }
  placed.push({ x: at[0], y: at[1], hw, hh });
  return [at[0], at[1]];
}
const FRAME_BACKGROUND = [255, 255, 255] as const;
const CAPTION_BAND = 26;

/**
 * Draws the overlay for `image` (height, width) in [0, 1] and `locations` (T, 2).
 *
 * @example
 * ```ts
 * import { glimpseOverlay } from "./glimpse_overlay.ts";
 * import { writeFigurePng } from "./figure.ts";
 * const retina = { height: 28, width: 28, patch: 8, scales: 1, scale: 2 };
 * const { figure } = glimpseOverlay(new Float32Array(28 * 28), new Float32Array([0, 0, 0.5, -0.5]), retina);
 * await writeFigurePng("/tmp/overlay.png", figure);
 * ```
 */
export function glimpseOverlay(
  image: Float32Array,
  locations: ArrayLike<number>,
  retina: RetinaShape,
  options: OverlayOptions = {},
): { figure: Figure; layout: OverlayLayout } {
  const { height: H, width: W } = retina;
  if (image.length !== H * W) {
    throw new Error(`glimpse overlay: image has ${image.length} values, not ${H}×${W}`);
  }
  const rects = glimpseRects(locations, retina);
  const T = locations.length / 2;
  const largest = retina.patch * retina.scale ** (retina.scales - 1);
  const margin = options.margin ?? Math.floor(largest / 2);
  const zoom = options.zoom ?? Math.max(1, Math.ceil(336 / Math.max(H, W)));
  const thickness = options.thickness ?? 2;
  const side = (v: number) => v * zoom;
  const figW = side(W + 2 * margin);
  const figH = side(H + 2 * margin) + (options.caption ? CAPTION_BAND : 0);
  const canvas = rgbCanvas(figW, figH, FRAME_BACKGROUND);
  fillRect(canvas, 0, 0, figW, side(H + 2 * margin), MARGIN_COLOUR);
  const imageX = side(margin), imageY = side(margin);
  drawGreyTile(canvas, image, W, H, imageX, imageY, side(W), side(H));
  const placed = rects.map((r) => ({
    ...r,
    fx: imageX + side(r.x),
    fy: imageY + side(r.y),
    fside: side(r.side),
  }));
  // later glimpses on top; the larger patches of a glimpse under its smaller ones
  for (const r of [...placed].sort((a, b) => a.glimpse - b.glimpse || b.patch - a.patch)) {
    strokeRect(canvas, r.fx, r.fy, r.fside, r.fside, thickness, glimpseColour(r.glimpse));
  }
  const centres: [number, number][] = [];
  for (let t = 0; t < T; t++) {
    const [px, py] = locationPixel(locations[2 * t], locations[2 * t + 1], W, H);
    centres.push([imageX + side(px), imageY + side(py)]);
  }
  const paths: FigurePath[] = [{ points: centres, colour: "white", width: 1.5, dash: "5 4" }];
  const texts: FigureText[] = [];
  // glimpses that look at the same spot share one label ("3,4,5") instead of overprinting
  const groups: { at: [number, number]; glimpses: number[] }[] = [];
  centres.forEach((c, t) => {
    const near = groups.find((g) => Math.hypot(g.at[0] - c[0], g.at[1] - c[1]) < 20);
    if (near) near.glimpses.push(t + 1);
    else groups.push({ at: c, glimpses: [t + 1] });
  });
  const boxes: Box[] = [];
  for (const g of groups) {
    const text = g.glimpses.join(",");
    const [x, y] = placeLabel(g.at, labelWidth(text), boxes);
    texts.push({
      x,
      y: y + 5,
      text,
      anchor: "middle",
      size: 15,
      bold: true,
      colour: "white",
      halo: css(glimpseColour(g.glimpses[0])),
    });
  }
  if (options.caption) {
    texts.push({
      x: figW / 2,
      y: side(H + 2 * margin) + CAPTION_BAND - 8,
      text: options.caption,
      anchor: "middle",
      size: 14,
    });
  }
  return {
    figure: { raster: canvas, texts, paths },
    layout: { zoom, margin, imageX, imageY, rects: placed },
  };
}
