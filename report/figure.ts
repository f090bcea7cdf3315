/**
 * A labelled raster figure: pixels composed exactly in TypeScript (tiles, rectangles) with text
 * and thin vector marks laid over them as SVG, rendered to PNG through resvg with a real font.
 * The raster sits at 1:1 at the SVG's origin with nearest-neighbour sampling, so every pixel the
 * raster code placed lands on the same pixel of the PNG (tests check positions on the raster and
 * on the PNG alike).
 *
 * @module
 */
import { encodeRasterPng, type RasterImage } from "./png.ts";
import { escapeXml, svgToPng } from "./svg_png.ts";
import { writeFileAtomic } from "../util/write_atomic.ts";

/** A text label, in figure pixels. */
export interface FigureText {
  /** Anchor point: x and the text's baseline y. */
  x: number;
  /** Baseline y. */
  y: number;
  /** The text itself. */
  text: string;
  /** Font size in pixels; default 13. */
  size?: number;
  /** CSS colour; default "#222". */
  colour?: string;
  /** Horizontal alignment at x; default "start". */
  anchor?: "start" | "middle" | "end";
  /** Bold face; default regular. */
  bold?: boolean;
  /** Colour of a 4-pixel outline under the text, for legibility over images; default none. */
  halo?: string;
}

/** A polyline over the raster, in figure pixels. */
export interface FigurePath {
  /** (x, y) points. */
  points: readonly (readonly [number, number])[];
  /** CSS colour. */
  colour: string;
  /** Stroke width in pixels; default 1. */
  width?: number;
  /** SVG stroke-dasharray, e.g. "4 3". */
  dash?: string;
  /** Stroke opacity in [0, 1]; default 1. */
  opacity?: number;
}

/** Raster plus the vector marks drawn over it. */
export interface Figure {
  /** RGB pixels; the figure has its size. */
  raster: RasterImage;
  /** Text drawn over the raster. */
  texts: FigureText[];
  /** Lines and outlines drawn over the raster. */
  paths?: FigurePath[];
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

const num = (v: number) => String(Math.round(v * 100) / 100);

/**
 * The figure as a standalone SVG (the raster embedded as a PNG data URL).
 *
 * @example
 * ```ts
 * import { figureSvg } from "./figure.ts";
 * const svg = figureSvg({
 *   raster: { width: 40, height: 20, channels: 3, data: new Uint8Array(40 * 20 * 3) },
 *   texts: [{ x: 20, y: 14, text: "7", anchor: "middle", colour: "white" }],
 * });
 * ```
 */
export function figureSvg(fig: Figure): string {
  const { width: W, height: H } = fig.raster;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<image x="0" y="0" width="${W}" height="${H}" image-rendering="optimizeSpeed" ` +
    `style="image-rendering:pixelated" href="data:image/png;base64,${
      base64(encodeRasterPng(fig.raster))
    }"/>`,
  ];
  for (const p of fig.paths ?? []) {
    if (p.points.length < 2) continue;
    parts.push(
      `<polyline fill="none" stroke="${escapeXml(p.colour)}" stroke-width="${p.width ?? 1}" ` +
        `stroke-linejoin="round" stroke-linecap="round"` +
        (p.dash ? ` stroke-dasharray="${escapeXml(p.dash)}"` : "") +
        (p.opacity !== undefined ? ` stroke-opacity="${p.opacity}"` : "") +
        ` points="${p.points.map(([x, y]) => `${num(x)},${num(y)}`).join(" ")}"/>`,
    );
  }
  for (const t of fig.texts) {
    const attrs = [
      `x="${num(t.x)}"`,
      `y="${num(t.y)}"`,
      `font-family="DejaVu Sans, sans-serif"`,
      `font-size="${t.size ?? 13}"`,
      `fill="${escapeXml(t.colour ?? "#222")}"`,
      `text-anchor="${t.anchor ?? "start"}"`,
    ];
    if (t.bold) attrs.push(`font-weight="bold"`);
    if (t.halo) {
      attrs.push(
        `stroke="${escapeXml(t.halo)}"`,
        `stroke-width="4"`,
        `stroke-linejoin="round"`,
        `paint-order="stroke"`,
      );
    }
    parts.push(`<text ${attrs.join(" ")}>${escapeXml(t.text)}</text>`);
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/**
 * Renders the figure to PNG bytes (same size as the raster).
 *
 * @example
 * ```ts
 * import { figurePng } from "./figure.ts";
 * const raster = { width: 40, height: 20, channels: 3 as const, data: new Uint8Array(40 * 20 * 3) };
 * const png = await figurePng({ raster, texts: [{ x: 2, y: 15, text: "7", colour: "white" }] });
 * ```
 */
export function figurePng(fig: Figure): Promise<Uint8Array> {
  return svgToPng(figureSvg(fig));
}

/**
 * Renders the figure and writes it to `path` atomically.
 *
 * @example
 * ```ts
 * import { writeFigurePng } from "./figure.ts";
 * const raster = { width: 40, height: 20, channels: 3 as const, data: new Uint8Array(40 * 20 * 3) };
 * const dir = await Deno.makeTempDir();
 * await writeFigurePng(`${dir}/label.png`, { raster, texts: [{ x: 2, y: 15, text: "7" }] });
 * ```
 */
export async function writeFigurePng(path: string, fig: Figure): Promise<void> {
  await writeFileAtomic(path, await figurePng(fig));
}

/** An RGB byte canvas filled with one colour, for composing a figure's raster. */
export function rgbCanvas(
  width: number,
  height: number,
  fill: readonly [number, number, number],
): RasterImage & { data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(fill, 3 * p);
  return { width, height, channels: 3, data };
}

/**
 * Draws grey `image` (h, w) in [0, 1] into `canvas` as a tile of tw×th pixels at (x, y),
 * nearest-neighbour (each figure pixel shows the source pixel it falls in).
 */
export function drawGreyTile(
  canvas: RasterImage & { data: Uint8Array },
  image: ArrayLike<number>,
  w: number,
  h: number,
  x: number,
  y: number,
  tw: number,
  th: number,
): void {
  if (image.length !== w * h) {
    throw new Error(`drawGreyTile: ${image.length} values for a ${w}×${h} image`);
  }
  const W = canvas.width;
  for (let ty = 0; ty < th; ty++) {
    const py = y + ty;
    if (py < 0 || py >= canvas.height) continue;
    const sy = Math.min(h - 1, Math.floor((ty * h) / th));
    for (let tx = 0; tx < tw; tx++) {
      const px = x + tx;
      if (px < 0 || px >= W) continue;
      const sx = Math.min(w - 1, Math.floor((tx * w) / tw));
      const v = image[sy * w + sx];
      const b = Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
      canvas.data.fill(b, 3 * (py * W + px), 3 * (py * W + px) + 3);
    }
  }
}

/** Fills the rectangle [x, x+w) × [y, y+h) of `canvas` (clipped) with `colour`. */
export function fillRect(
  canvas: RasterImage & { data: Uint8Array },
  x: number,
  y: number,
  w: number,
  h: number,
  colour: readonly [number, number, number],
): void {
  const x0 = Math.max(0, x), y0 = Math.max(0, y);
  const x1 = Math.min(canvas.width, x + w), y1 = Math.min(canvas.height, y + h);
  for (let py = y0; py < y1; py++) {
    for (let px = x0; px < x1; px++) canvas.data.set(colour, 3 * (py * canvas.width + px));
  }
}

/** Draws the outline of [x, x+w) × [y, y+h), `thickness` pixels wide inside it (clipped). */
export function strokeRect(
  canvas: RasterImage & { data: Uint8Array },
  x: number,
  y: number,
  w: number,
  h: number,
  thickness: number,
  colour: readonly [number, number, number],
): void {
  const t = Math.min(thickness, Math.ceil(w / 2), Math.ceil(h / 2));
  fillRect(canvas, x, y, w, t, colour);
  fillRect(canvas, x, y + h - t, w, t, colour);
  fillRect(canvas, x, y, t, h, colour);
  fillRect(canvas, x + w - t, y, t, h, colour);
}
