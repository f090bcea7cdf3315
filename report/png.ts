/**
 * PNG output for figures (sample grids, reconstructions, glimpse overlays): grey or RGB pixels
 * in [0, 1] (or bytes) encoded with fast-png and written atomically.
 *
 * @module
 */
import { encode } from "npm:fast-png@8.0.0";
import { writeFileAtomic } from "../util/write_atomic.ts";

/** An image to write: (height, width, channels) values, floats in [0, 1] or bytes. */
export interface RasterImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** 1 (grey) or 3 (RGB). */
  readonly channels: 1 | 3;
  /** (height, width, channels) */
  readonly data: Float32Array | Uint8Array;
}

/**
 * Encodes a grey or RGB image as an 8-bit PNG; floats are clipped to [0, 1] and rounded.
 *
 * @example
 * ```ts
 * import { encodeRasterPng } from "./png.ts";
 * const bytes = encodeRasterPng({ width: 2, height: 1, channels: 1, data: new Float32Array([0, 1]) });
 * ```
 */
export function encodeRasterPng(img: RasterImage): Uint8Array {
  const { width, height, channels, data } = img;
  if (!(width > 0 && height > 0) || data.length !== width * height * channels) {
    throw new Error(
      `PNG: ${data.length} values do not make a ${width}×${height}×${channels} image`,
    );
  }
  const bytes = data instanceof Uint8Array
    ? data
    : Uint8Array.from(data, (v) => Math.round(Math.min(1, Math.max(0, v || 0)) * 255));
  return encode({ width, height, channels, depth: 8, data: bytes });
}

/** Encodes `img` and writes it to `path` atomically. */
export async function writePng(path: string, img: RasterImage): Promise<void> {
  await writeFileAtomic(path, encodeRasterPng(img));
}
