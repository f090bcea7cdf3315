/**
 * A tiny built-in 3×5 bitmap font of the digits 0–9 (plus "-" and " "), for labels drawn into
 * PNG figures without a font renderer.
 *
 * @module
 */

/** Rows of each glyph, 3 bits each (bit 2 = left column). */
const GLYPHS: Record<string, readonly number[]> = {
  "0": [0b111, 0b101, 0b101, 0b101, 0b111],
  "1": [0b010, 0b110, 0b010, 0b010, 0b111],
  "2": [0b111, 0b001, 0b111, 0b100, 0b111],
  "3": [0b111, 0b001, 0b111, 0b001, 0b111],
  "4": [0b101, 0b101, 0b111, 0b001, 0b001],
  "5": [0b111, 0b100, 0b111, 0b001, 0b111],
  "6": [0b111, 0b100, 0b111, 0b101, 0b111],
  "7": [0b111, 0b001, 0b001, 0b001, 0b001],
  "8": [0b111, 0b101, 0b111, 0b101, 0b111],
  "9": [0b111, 0b101, 0b111, 0b001, 0b111],
  "-": [0b000, 0b000, 0b111, 0b000, 0b000],
  " ": [0, 0, 0, 0, 0],
};

/** Glyph size in font pixels; each glyph is followed by one pixel of spacing. */
export const GLYPH_WIDTH = 3;
export const GLYPH_HEIGHT = 5;

/** Width in image pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_WIDTH + 1) - 1) * scale;
}

/**
 * Draws `text` (digits, "-" and spaces) into an RGB byte image (height, width, 3) with its
 * top-left at (x, y), each font pixel a scale×scale block; pixels outside the image are skipped.
 *
 * @example
 * ```ts
 * import { drawText } from "./digit_font.ts";
 * const rgb = new Uint8Array(20 * 10 * 3);
 * drawText(rgb, 20, 10, 1, 1, "42", 1, [255, 255, 0]);
 * ```
 */
export function drawText(
  rgb: Uint8Array,
  width: number,
  height: number,
  x: number,
  y: number,
  text: string,
  scale: number,
  colour: readonly [number, number, number],
): void {
  for (let i = 0; i < text.length; i++) {
    const glyph = GLYPHS[text[i]];
    if (!glyph) throw new Error(`drawText: no glyph for ${JSON.stringify(text[i])} in "${text}"`);
    const gx = x + i * (GLYPH_WIDTH + 1) * scale;
    for (let r = 0; r < GLYPH_HEIGHT; r++) {
      for (let c = 0; c < GLYPH_WIDTH; c++) {
        if (!(glyph[r] & (1 << (GLYPH_WIDTH - 1 - c)))) continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const px = gx + c * scale + dx, py = y + r * scale + dy;
            if (px < 0 || py < 0 || px >= width || py >= height) continue;
            rgb.set(colour, 3 * (py * width + px));
          }
        }
      }
    }
  }
}
