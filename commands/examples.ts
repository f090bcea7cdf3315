/**
 * `glimpse examples [--out examples]`: writes the example images that `explain` is shown on,
 * taken from the MNIST test split (never seen in training) by fixed rules, so that running it
 * again writes the same bytes:
 *
 * - `seven.png`, `two.png`, `four.png`: the first test image of that digit, 28×28 grey, white
 *   ink on black as MNIST stores it;
 * - `two-on-paper.jpg`: the same two as a phone photo might show it (dark ink on light paper,
 *   4× larger, RGB JPEG), which `explain` has to convert, invert and fit;
 * - `cluttered-four.png`: the first test image of a four on the 60×60 cluttered canvas
 *   (`--variant cluttered`, 4 distractors, seed 1), for models trained on cluttered MNIST
 *   (`explain --no-fit`).
 *
 * @module
 */
import jpeg from "npm:jpeg-js@0.4.4";
import { loadDataset } from "../datasets/load.ts";
import type { Split } from "../datasets/types.ts";
import { encodeRasterPng } from "../report/png.ts";
import { writeFileAtomic } from "../util/write_atomic.ts";

/** Where the examples go without --out. */
export const DEFAULT_EXAMPLES_OUT = "examples";

const NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

function firstOf(split: Split, label: number): number {
  const i = split.labels.indexOf(label);
  if (i < 0) throw new Error(`examples: no test image of a ${label}`);
  return i;
}

/** A digit (28, 28) in [0, 1] as 8-bit grey PNG bytes. */
function greyPng(img: Float32Array, side: number): Uint8Array {
  return encodeRasterPng({ width: side, height: side, channels: 1, data: img });
}

/** The digit as dark blue-black ink on off-white paper, `scale`× larger, as an RGB JPEG. */
function paperJpeg(img: Float32Array, side: number, scale: number): Uint8Array {
  const W = side * scale;
  const rgba = new Uint8Array(W * W * 4);
  const paper = [238, 232, 220], ink = [25, 30, 70];
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const v = img[Math.floor(y / scale) * side + Math.floor(x / scale)];
      for (let c = 0; c < 3; c++) {
        rgba[4 * (y * W + x) + c] = Math.round(paper[c] + v * (ink[c] - paper[c]));
      }
      rgba[4 * (y * W + x) + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ width: W, height: W, data: rgba }, 92).data);
}

/**
 * Writes the examples into `out` (created if missing), each atomically; returns one line per
 * file saying what it holds. They come from mnist-10k's test split: the committed examples/ and
 * the README's explanations of them were made from it, and stay byte-identical this way.
 *
 * @example
 * ```ts ignore
 * import { writeExamples } from "./examples.ts";
 * for (const line of await writeExamples("examples")) console.log(line);
 * ```
 */
export async function writeExamples(out: string = DEFAULT_EXAMPLES_OUT): Promise<string[]> {
  const plain = await loadDataset("mnist-10k");
  const cluttered = await loadDataset("mnist-10k", { variant: "cluttered", canvas: 60, seed: 1 });
  const files: [string, Uint8Array, string][] = [];
  const img = new Float32Array(28 * 28);
  for (const digit of [7, 2, 4]) {
    const i = firstOf(plain.test, digit);
    plain.test.fill([i], 0, img);
    files.push([`${NAMES[digit]}.png`, greyPng(img, 28), `mnist-10k test image ${i} (a ${digit})`]);
    if (digit === 2) {
      files.push([
        "two-on-paper.jpg",
        paperJpeg(img, 28, 4),
        `mnist-10k test image ${i} (a 2) as dark ink on paper, 112×112 RGB JPEG`,
      ]);
    }
  }
  const canvas = new Float32Array(60 * 60);
  const i4 = firstOf(cluttered.test, 4);
  cluttered.test.fill([i4], 0, canvas);
  files.push([
    "cluttered-four.png",
    greyPng(canvas, 60),
    `${cluttered.name} test image ${i4} (a 4), 60×60`,
  ]);
  await Deno.mkdir(out, { recursive: true });
  const lines: string[] = [];
  for (const [name, bytes, what] of files) {
    await writeFileAtomic(`${out}/${name}`, bytes);
    lines.push(`${out}/${name}: ${what}`);
  }
  return lines;
}
