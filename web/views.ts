/// <reference lib="dom" />
/**
 * What the explorer draws: the input with every glimpse's retina patches (all scales), the
 * probe's reconstruction, the belief bars and the cumulative-gain curve. Pure drawing on
 * canvases and lists; the state lives in main.ts.
 *
 * @module
 */
import type { Explanation } from "../report/explain.ts";
import { glimpseColour } from "../report/glimpse_overlay.ts";
import { patchOrigin, type RetinaShape } from "../kernels/retina_ref.ts";
import type { EigMap } from "../run/eig_map.ts";

/** Where the input sits on the view canvas: image pixel (x, y) spans zoom canvas pixels. */
export interface ViewLayout {
  zoom: number;
  /** Image pixels of margin on every side (patches may reach past the edge). */
  margin: number;
}

/** The layout that fits `retina` (plus half its largest patch around it) in `size` pixels. */
export function viewLayout(retina: RetinaShape, size: number): ViewLayout {
  const largest = retina.patch * retina.scale ** (retina.scales - 1);
  const margin = Math.ceil(largest / 2);
  const zoom = Math.max(1, Math.floor(size / (Math.max(retina.width, retina.height) + 2 * margin)));
  return { zoom, margin };
}

/** The image pixel under canvas point (cx, cy), clamped into the image. */
export function pixelAt(l: ViewLayout, r: RetinaShape, cx: number, cy: number): [number, number] {
  const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
  return [
    clamp(Math.floor(cx / l.zoom) - l.margin, r.width),
    clamp(Math.floor(cy / l.zoom) - l.margin, r.height),
  ];
}

const css = (c: readonly number[], a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

/** Puts a grey image (h, w) in [0, 1] onto `ctx` at (x, y), each pixel `zoom` wide. */
export function drawGrey(
  ctx: CanvasRenderingContext2D,
  grey: Float32Array,
  w: number,
  h: number,
  x: number,
  y: number,
  zoom: number,
): void {
  const img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(Math.min(1, Math.max(0, grey[i])) * 255);
    img.data.set([v, v, v, 255], 4 * i);
  }
  const tile = new OffscreenCanvas(w, h);
  tile.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, x, y, w * zoom, h * zoom);
}

/**
 * The input with glimpses 1..step: earlier ones thin and faint, glimpse `step` bold, every
 * scale of the retina outlined, a path through their centres; with `eig`, the map of the
 * glimpse after `step` as a heat layer (○ where the policy looks, × the best candidate).
 */
export function drawView(
  canvas: HTMLCanvasElement,
  e: Explanation,
  r: RetinaShape,
  step: number,
  eig: EigMap | null,
): ViewLayout {
  const l = viewLayout(r, canvas.width);
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#303038";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const o = l.margin * l.zoom;
  drawGrey(ctx, e.input, e.width, e.height, o, o, l.zoom);
  if (eig) {
    const G = eig.grid, cw = (e.width * l.zoom) / G, ch = (e.height * l.zoom) / G;
    let lo = Infinity, hi = -Infinity;
    for (const v of eig.eig) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    for (let i = 0; i < G; i++) {
      for (let j = 0; j < G; j++) {
        const u = hi > lo ? (eig.eig[i * G + j] - lo) / (hi - lo) : 0;
        ctx.fillStyle = `rgba(255,${Math.round(200 * (1 - u))},0,${0.15 + 0.5 * u})`;
        ctx.fillRect(o + j * cw, o + i * ch, cw, ch);
      }
    }
    const at = (
      lx: number,
      ly: number,
    ) => [o + (lx + 1) / 2 * e.width * l.zoom, o + (ly + 1) / 2 * e.height * l.zoom];
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff";
    const [bx, by] = at(eig.best[0], eig.best[1]);
    ctx.beginPath();
    ctx.moveTo(bx - 6, by - 6),
      ctx.lineTo(bx + 6, by + 6),
      ctx.moveTo(bx + 6, by - 6),
      ctx.lineTo(bx - 6, by + 6);
    ctx.stroke();
    const [px, py] = at(eig.chosen[0], eig.chosen[1]);
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const centre = (t: number) => {
    const g = e.glimpses[t];
    return [o + (g.x + 0.5) * l.zoom, o + (g.y + 0.5) * l.zoom];
  };
  ctx.strokeStyle = "rgba(255,255,255,0.5)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let t = 0; t < step; t++) {
    (t === 0 ? ctx.moveTo : ctx.lineTo).apply(ctx, centre(t) as [number, number]);
  }
  ctx.stroke();
  ctx.font = "bold 14px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  // glimpses on one pixel share a label, "2,4,5" (as explain's overlay does)
  const labels = new Map<string, number[]>();
  for (let t = 0; t < step; t++) {
    const g = e.glimpses[t], now = t === step - 1, c = glimpseColour(t + 1);
    ctx.lineWidth = now ? 3 : 1;
    ctx.strokeStyle = css(c, now ? 1 : 0.55);
    for (let i = 0; i < r.scales; i++) {
      const side = r.patch * r.scale ** i;
      const [x0, y0] = patchOrigin(r, g.lx, g.ly, i);
      ctx.strokeRect(o + x0 * l.zoom, o + y0 * l.zoom, side * l.zoom, side * l.zoom);
    }
    const key = `${g.x},${g.y}`;
    labels.set(key, [...(labels.get(key) ?? []), t]);
  }
  for (const ts of labels.values()) {
    const last = ts.at(-1)!, [cx, cy] = centre(last), text = ts.map((t) => t + 1).join(",");
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0,0,0,0.8)";
    ctx.strokeText(text, cx, cy);
    ctx.fillStyle = css(glimpseColour(last + 1));
    ctx.fillText(text, cx, cy);
  }
  return l;
}

/** The probe's reconstruction after glimpse `step` (or a note when the model has none). */
export function drawRecon(canvas: HTMLCanvasElement, e: Explanation, step: number): void {
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!e.recon) return;
  const s = e.reconSide, px = s * s;
  const zoom = Math.floor(canvas.width / s);
  drawGrey(ctx, e.recon.subarray((step - 1) * px, step * px), s, s, 0, 0, zoom);
}

/** A belief (one probability per class) as one bar per class, the most probable marked. */
export function drawBars(list: HTMLOListElement, probabilities: readonly number[]): void {
  const top = probabilities.indexOf(Math.max(...probabilities));
  const items = probabilities.map((p, c) => {
    const li = document.createElement("li");
    if (c === top) li.className = "top";
    const label = document.createElement("span");
    label.textContent = String(c);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    const value = document.createElement("span");
    value.textContent = p.toFixed(3);
    li.append(label, bar, value);
    li.setAttribute("aria-label", `class ${c}: ${(100 * p).toFixed(1)}%`);
    return li;
  });
  list.replaceChildren(...items);
}

/** One line on the curve: cumulative gain after glimpse 1..T. */
export interface Curve {
  gains: readonly number[];
  colour: string;
  dashed?: boolean;
}

/**
 * Cumulative information gain H_0 − H_t per glimpse (0 at t = 0) for each curve, on a common
 * scale up to H_0 = ln C, with the current glimpse marked.
 */
export function drawCurve(
  canvas: HTMLCanvasElement,
  curves: readonly Curve[],
  prior: number,
  step: number,
): void {
  const ctx = canvas.getContext("2d")!;
  const W = canvas.width, H = canvas.height, left = 30, bottom = 20, top = 8, right = 8;
  ctx.clearRect(0, 0, W, H);
  const T = Math.max(...curves.map((c) => c.gains.length));
  const x = (t: number) => left + (t / T) * (W - left - right);
  const y = (v: number) => H - bottom - (v / prior) * (H - bottom - top);
  ctx.strokeStyle = "#888";
  ctx.fillStyle = "#888";
  ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  ctx.beginPath();
  ctx.moveTo(left, top), ctx.lineTo(left, H - bottom), ctx.lineTo(W - right, H - bottom);
  ctx.stroke();
  ctx.textAlign = "right";
  ctx.fillText(prior.toFixed(2), left - 3, y(prior) + 4);
  ctx.fillText("0", left - 3, y(0));
  ctx.textAlign = "center";
  for (let t = 0; t <= T; t++) ctx.fillText(String(t), x(t), H - 6);
  ctx.strokeStyle = "rgba(136,136,136,0.6)";
  ctx.beginPath();
  ctx.moveTo(x(step), top), ctx.lineTo(x(step), H - bottom);
  ctx.stroke();
  for (const c of curves) {
    ctx.strokeStyle = c.colour;
    ctx.lineWidth = 2;
    ctx.setLineDash(c.dashed ? [5, 4] : []);
    ctx.beginPath();
    ctx.moveTo(x(0), y(0));
    c.gains.forEach((v, t) => ctx.lineTo(x(t + 1), y(Math.max(0, Math.min(prior, v)))));
    ctx.stroke();
  }
  ctx.setLineDash([]);
}
