/**
 * The EIG map figure (`explain --eig-map`): one tile per glimpse 2..T, the input enlarged with
 * the expected information gain of every candidate location laid over it as a heatmap, a ring
 * where the policy's mean looked and a cross at the best candidate, and a colour bar.
 *
 * Each tile has its own colour scale, from its lowest to its highest candidate (written under
 * it): any further glimpse lowers the entropy by a similar amount, so on one shared scale the
 * late tiles are flat bright and the early ones flat dark, and the question a tile answers,
 * where the next glimpse tells most, is about the differences within it.
 *
 * @module
 */
import type { EigMap } from "../run/eig_map.ts";
import { locationPixel } from "./glimpse_overlay.ts";
import {
  drawGreyTile,
  type Figure,
  type FigurePath,
  type FigureText,
  fillRect,
  rgbCanvas,
} from "./figure.ts";

/** Viridis at five stops, interpolated linearly. */
const STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The heat colour of v in [0, 1]. */
export function heatColour(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  const a = STOPS[i], b = STOPS[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + f * (b[c] - a[c]))) as [number, number, number];
}

/** How much of the heat shows over the image. */
export const HEAT_ALPHA = 0.6;

const GAP = 10, HEADER = 22, CAPTION = 34, BAR = 14;

function ring(cx: number, cy: number, r: number): [number, number][] {
  return Array.from({ length: 25 }, (_, k) => {
    const a = (2 * Math.PI * k) / 24;
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
}

/**
 * Draws the maps of one input (height, width).
 *
 * @example
 * ```ts ignore
 * import { eigMapFigure } from "./eig_map_figure.ts";
 * await writeFigurePng("seven.eigmap.png", eigMapFigure(input, 28, 28, maps));
 * ```
 */
export function eigMapFigure(
  input: Float32Array,
  height: number,
  width: number,
  maps: readonly EigMap[],
  tile = 168,
  belief?: string,
): Figure {
  if (maps.length === 0) throw new Error("EIG map figure: no maps (the model takes one glimpse)");
  const W = GAP + maps.length * (tile + GAP);
  const Hh = HEADER + tile + CAPTION + BAR + 26;
  const canvas = rgbCanvas(W, Hh, [255, 255, 255]);
  const texts: FigureText[] = [];
  const paths: FigurePath[] = [];
  maps.forEach((m, k) => {
    const x0 = GAP + k * (tile + GAP), y0 = HEADER;
    drawGreyTile(canvas, input, width, height, x0, y0, tile, tile);
    const G = m.grid;
    let lo = Infinity, hi = -Infinity;
    for (const v of m.eig) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const span = hi - lo > 1e-12 ? hi - lo : 1;
    for (let i = 0; i < G; i++) {
      const ya = y0 + Math.round((i * tile) / G), yb = y0 + Math.round(((i + 1) * tile) / G);
      for (let j = 0; j < G; j++) {
        const xa = x0 + Math.round((j * tile) / G), xb = x0 + Math.round(((j + 1) * tile) / G);
        const heat = heatColour((m.eig[i * G + j] - lo) / span);
        for (let y = ya; y < yb; y++) {
          for (let x = xa; x < xb; x++) {
            const p = 3 * (y * W + x);
            for (let c = 0; c < 3; c++) {
              canvas.data[p + c] = Math.round(
                (1 - HEAT_ALPHA) * canvas.data[p + c] + HEAT_ALPHA * heat[c],
              );
            }
          }
        }
      }
    }
    const toFig = (l: [number, number]) => {
      const [px, py] = locationPixel(l[0], l[1], width, height);
      return [x0 + (px * tile) / width, y0 + (py * tile) / height] as const;
    };
    const [cx, cy] = toFig(m.chosen);
    paths.push({ points: ring(cx, cy, 9), colour: "white", width: 2.5 });
    const [bx, by] = toFig(m.best);
    paths.push({ points: [[bx - 7, by - 7], [bx + 7, by + 7]], colour: "#ff3b30", width: 3 });
    paths.push({ points: [[bx - 7, by + 7], [bx + 7, by - 7]], colour: "#ff3b30", width: 3 });
    texts.push({
      x: x0 + tile / 2,
      y: HEADER - 6,
      text: `glimpse ${m.glimpse}`,
      anchor: "middle",
      bold: true,
    });
    texts.push({
      x: x0 + tile / 2,
      y: y0 + tile + 15,
      text: `best ${m.bestEig.toFixed(3)} · policy ${m.chosenEig.toFixed(3)}`,
      anchor: "middle",
      size: 11,
    });
    texts.push({
      x: x0 + tile / 2,
      y: y0 + tile + 29,
      text: `range ${lo.toFixed(3)} to ${hi.toFixed(3)}`,
      anchor: "middle",
      size: 11,
      colour: "#555",
    });
  });
  // colour bar under the tiles
  const barX = GAP, barW = W - 2 * GAP, barY = HEADER + tile + CAPTION + 4;
  for (let x = 0; x < barW; x++) {
    fillRect(canvas, barX + x, barY, 1, BAR, heatColour(x / (barW - 1)));
  }
  texts.push({ x: barX, y: barY + BAR + 13, text: "lowest", size: 11 });
  texts.push({ x: barX + barW, y: barY + BAR + 13, text: "highest", size: 11, anchor: "end" });
  texts.push({
    x: barX + barW / 2,
    y: barY + BAR + 13,
    text: "expected information gain of the next glimpse, nats (○ policy, × best)" +
      (belief ? `; beliefs: ${belief}` : ""),
    size: 11,
    anchor: "middle",
  });
  return { raster: canvas, texts, paths };
}
