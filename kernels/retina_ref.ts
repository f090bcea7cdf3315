/**
 * CPU reference for kernels/retina.wgsl: the multi-scale glimpse sensor (forward only; no
 * gradient flows into the image or the location).
 *
 * Patch i (i = 0..k−1) has side g·s^i pixels and its top-left corner at column
 * floor((lx+1)/2·W) − side/2 and row floor((ly+1)/2·H) − side/2 (integer division of side/2
 * rounds down); pixels outside the image read 0; the patch is block-averaged down to g×g.
 *
 * @module
 */

/** Retina geometry. */
export interface RetinaShape {
  /** Image height and width in pixels. */
  height: number;
  /** Input width in pixels. */
  width: number;
  /** Side of every output patch (g). */
  patch: number;
  /** Number of scales (k). */
  scales: number;
  /** Scale factor between successive patches (s). */
  scale: number;
}

/** Values per glimpse: k·g². */
export function retinaSize(r: RetinaShape): number {
  return r.scales * r.patch * r.patch;
}

/** Top-left pixel (column, row) of patch `i` for location (lx, ly). */
export function patchOrigin(r: RetinaShape, lx: number, ly: number, i: number): [number, number] {
  const side = r.patch * r.scale ** i;
  const half = Math.floor(side / 2);
  return [
    Math.floor((lx + 1) / 2 * r.width) - half,
    Math.floor((ly + 1) / 2 * r.height) - half,
  ];
}

/**
 * out(B, k, g, g) = glimpses of images(B, H, W) at loc(B, 2).
 *
 * @example
 * ```ts
 * import { retinaRef } from "./retina_ref.ts";
 * const img = new Float32Array(16).fill(1);
 * const out = new Float32Array(4);
 * retinaRef({ height: 4, width: 4, patch: 2, scales: 1, scale: 2 }, 1, img,
 *   new Float32Array([0, 0]), out);
 * // out is [1, 1, 1, 1]
 * ```
 */
export function retinaRef(
  r: RetinaShape,
  batch: number,
  images: Float32Array, // (B, H, W)
  loc: Float32Array, // (B, 2): (lx column, ly row) in [-1, 1]
  out: Float32Array, // (B, k·g·g)
): void {
  const { height: H, width: W, patch: g, scales } = r;
  const per = retinaSize(r);
  for (let b = 0; b < batch; b++) {
    const img = b * H * W;
    for (let i = 0; i < scales; i++) {
      const block = r.scale ** i; // source pixels per output pixel, each way
      const [x0, y0] = patchOrigin(r, loc[2 * b], loc[2 * b + 1], i);
      for (let py = 0; py < g; py++) {
        for (let px = 0; px < g; px++) {
          let sum = 0;
          for (let dy = 0; dy < block; dy++) {
            const y = y0 + py * block + dy;
            if (y < 0 || y >= H) continue;
            for (let dx = 0; dx < block; dx++) {
              const x = x0 + px * block + dx;
              if (x >= 0 && x < W) sum += images[img + y * W + x];
            }
          }
          out[b * per + i * g * g + py * g + px] = sum / (block * block);
        }
      }
    }
  }
}
