/**
 * PNG and JPEG files decoded to grey luminance in [0, 1]. PNG through fast-png, in every colour
 * type and bit depth (grey 1/2/4/8/16, grey+alpha, RGB, RGBA, palette with or without tRNS
 * alpha, colour-key transparency), interlaced or not, except interlaced 1/2/4-bit images,
 * which fast-png 8.0.0 cannot de-interlace (refused with a clear error); JPEG through jpeg-js. Transparent pixels are composited
 * over white, the paper a digit is drawn on. Headers are read first so that an image claiming
 * enormous dimensions is refused before anything is allocated.
 *
 * @module
 */
import { decode as decodePng } from "npm:fast-png@8.0.0";
import jpeg from "npm:jpeg-js@0.4.4";

/** A grey image: (height, width) values in [0, 1], 0 black, 1 white. */
export interface GreyImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** (height, width) */
  readonly data: Float32Array;
}

/** Largest image (in pixels) decoded unless the caller allows more: 40 megapixels. */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Format and size read from a file's header. */
export interface ImageHeader {
  readonly format: "png" | "jpeg";
  readonly width: number;
  readonly height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Reads the format and dimensions from the header of PNG or JPEG bytes without decoding.
 * Errors name `file`: unknown format, truncated header, zero size.
 */
export function readImageHeader(bytes: Uint8Array, file: string): ImageHeader {
  if (bytes.length === 0) throw new Error(`${file}: empty file`);
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    if (bytes.length < 24) throw new Error(`${file}: truncated PNG header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const type = String.fromCharCode(...bytes.subarray(12, 16));
    if (type !== "IHDR") throw new Error(`${file}: PNG does not start with an IHDR chunk`);
    return checkSize(
      { format: "png", width: view.getUint32(16), height: view.getUint32(20) },
      file,
    );
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return checkSize(jpegHeader(bytes, file), file);
  throw new Error(`${file}: not a PNG or JPEG file`);
}

function checkSize(h: ImageHeader, file: string): ImageHeader {
  if (h.width === 0 || h.height === 0) {
    throw new Error(`${file}: zero-size image (${h.width}×${h.height})`);
  }
  return h;
}

/** Walks the JPEG markers up to the frame header (SOFn) that holds the dimensions. */
function jpegHeader(bytes: Uint8Array, file: string): ImageHeader {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new Error(`${file}: damaged JPEG (no marker at byte ${at})`);
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image or start of scan before SOF
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isSof) {
      if (at + 9 > bytes.length) break;
      const height = (bytes[at + 5] << 8) | bytes[at + 6];
      const width = (bytes[at + 7] << 8) | bytes[at + 8];
      return { format: "jpeg", width, height };
    }
    at += 2 + length;
  }
  throw new Error(`${file}: truncated JPEG (no frame header with the image size)`);
}

/**
 * Decodes PNG or JPEG bytes to grey luminance (Rec. 601: 0.299 R + 0.587 G + 0.114 B),
 * refusing images over `maxPixels` before decoding.
 *
 * @example
 * ```ts
 * import { decodeGrey } from "./image.ts";
 * const img = decodeGrey(await Deno.readFile("examples/seven.png"), "seven.png");
 * console.log(img.width, img.height, img.data[0]);
 * ```
 */
export function decodeGrey(
  bytes: Uint8Array,
  file: string,
  maxPixels: number = MAX_IMAGE_PIXELS,
): GreyImage {
  const header = readImageHeader(bytes, file);
  if (header.width * header.height > maxPixels) {
    throw new Error(
      `${file}: ${header.width}×${header.height} image is larger than the ${maxPixels}-pixel limit`,
    );
  }
  if (header.format === "png" && bytes.length > 28 && bytes[28] === 1 && bytes[24] < 8) {
    // fast-png 8.0.0 de-interlaces with whole bytes per pixel: these would decode wrongly
    throw new Error(
      `${file}: interlaced (Adam7) PNG of ${bytes[24]}-bit depth is not supported; ` +
        `save it without interlacing or at 8 bits`,
    );
  }
  try {
    return header.format === "png" ? pngToGrey(bytes) : jpegToGrey(bytes, maxPixels);
  } catch (e) {
    throw new Error(
      `${file}: cannot decode ${header.format.toUpperCase()}: ${(e as Error).message}`,
    );
  }
}

/**
 * Reads and decodes an image file; every error names the file.
 *
 * @example
 * ```ts
 * import { readGreyImage } from "./image.ts";
 * const { width, height, data } = await readGreyImage("examples/two-on-paper.jpg");
 * console.log(width, height, data[0]); // grey values in [0, 1]
 * ```
 */
export async function readGreyImage(path: string, maxPixels?: number): Promise<GreyImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read image ${path}: ${(e as Error).message}`);
  }
  return decodeGrey(bytes, path, maxPixels);
}

const lum = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

function pngToGrey(bytes: Uint8Array): GreyImage {
  const png = decodePng(bytes);
  const { width, height, depth, channels } = png;
  const out = new Float32Array(width * height);
  const max = (1 << depth) - 1;
  const raw = png.data;
  // sub-byte depths (grey or palette only) stay packed in rows padded to whole bytes
  const rowBytes = Math.ceil((width * depth * channels) / 8);
  const expected = depth >= 8 ? width * height * channels : rowBytes * height;
  if (raw.length < expected) throw new Error(`truncated pixel data (${raw.length} of ${expected})`);
  const sample = depth >= 8
    ? (y: number, x: number, c: number) => raw[(y * width + x) * channels + c]
    : (y: number, x: number) => {
      const bit = x * depth;
      return (raw[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & max;
    };
  if (png.palette) {
    const pal = png.palette;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const entry = pal[sample(y, x, 0)];
        if (!entry) {
          throw new Error(`palette index ${sample(y, x, 0)} outside ${pal.length} colours`);
        }
        const a = entry.length > 3 ? entry[3] / 255 : 1;
        out[y * width + x] = a * lum(entry[0], entry[1], entry[2]) / 255 + (1 - a);
      }
    }
    return { width, height, data: out };
  }
  const key = png.transparency; // tRNS colour key for grey (1 value) or RGB (3 values)
  const hasKey = key !== undefined && key.length === (channels >= 3 ? 3 : 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v: number, a = 1;
      if (channels <= 2) {
        const g = sample(y, x, 0);
        v = g / max;
        if (channels === 2) a = sample(y, x, 1) / max;
        else if (hasKey && g === key[0]) a = 0;
      } else {
        const r = sample(y, x, 0), g = sample(y, x, 1), b = sample(y, x, 2);
        v = lum(r, g, b) / max;
        if (channels === 4) a = sample(y, x, 3) / max;
        else if (hasKey && r === key[0] && g === key[1] && b === key[2]) a = 0;
      }
      out[y * width + x] = Math.min(1, a * v + (1 - a));
    }
  }
  return { width, height, data: out };
}

function jpegToGrey(bytes: Uint8Array, maxPixels: number): GreyImage {
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: maxPixels / 1e6,
    maxMemoryUsageInMB: 1024,
  });
  const { width, height, data } = img;
  if (data.length < width * height * 4) throw new Error("truncated pixel data");
  const out = new Float32Array(width * height);
  for (let p = 0; p < width * height; p++) {
    out[p] = lum(data[4 * p], data[4 * p + 1], data[4 * p + 2]) / 255;
  }
  return { width, height, data: out };
}
