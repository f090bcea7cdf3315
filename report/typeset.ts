/**
 * Typeset digits as image files, the way a user would hand `explain` a printed digit: one
 * glyph, black on white, in a given font file and size, as PNG (rendered by resvg) or as a JPEG
 * of that PNG (with JPEG's noise on the paper). For bench/typeset_digits.ts and the tests of
 * the printed-digit path; resvg reads only the font given, never the system's.
 *
 * @module
 */
import { Resvg } from "@resvg/resvg-wasm";
import { decode as decodePng } from "fast-png";
import jpeg from "jpeg-js";
import { initResvg } from "./svg_png.ts";

/**
 * Renders `text` (a digit) in the font `fontBytes` at `px` pixels per em, black on white, on a
 * page of 1.0 × 1.4 em with the glyph at its centre, as PNG bytes.
 *
 * @example
 * ```ts
 * import { renderGlyph } from "./typeset.ts";
 * const font = await Deno.readFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
 * const png = await renderGlyph(font, "7", 48); // 48×67 pixels
 * ```
 */
export async function renderGlyph(
  fontBytes: Uint8Array,
  text: string,
  px: number,
): Promise<Uint8Array> {
  await initResvg();
  const w = Math.round(px), h = Math.round(px * 1.4);
  // digits stand on the baseline and are about 0.73 em tall: a baseline 0.36 em below the
  // middle centres them; with one font loaded it is the default family, whatever its name
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="${w}" height="${h}" fill="white"/>` +
    `<text x="${w / 2}" y="${h / 2 + px * 0.36}" font-size="${px}" text-anchor="middle" ` +
    `fill="black">${text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</text></svg>`;
  const resvg = new Resvg(svg, {
    font: { fontBuffers: [fontBytes], loadSystemFonts: false },
    fitTo: { mode: "original" },
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/**
 * The PNG `png` re-encoded as a JPEG of `quality` (1–100, default 75, a common camera and
 * web setting), so the paper carries JPEG's ringing and block noise.
 *
 * @example
 * ```ts ignore
 * import { jpegOfPng, renderGlyph } from "./typeset.ts";
 * const jpg = jpegOfPng(await renderGlyph(font, "3", 120));
 * ```
 */
export function jpegOfPng(png: Uint8Array, quality = 75): Uint8Array {
  const d = decodePng(png);
  const n = d.width * d.height, rgba = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      rgba[p * 4 + c] = Number(d.data[p * d.channels + Math.min(c, d.channels - 1)]);
    }
    rgba[p * 4 + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: d.width, height: d.height }, quality).data;
}
