/**
 * Translated and cluttered variants (Mnih et al. 2014, "Recurrent Models of Visual
 * Attention"): the digit is placed at a random position wholly inside a larger black canvas
 * and, for clutter, K crops of S×S pixels taken from other random digits of the same split are
 * composited by max at random positions. The paper's settings are 60×60 with 4 distractors of
 * 8×8 and 100×100 with 8.
 *
 * Every sample is a pure function of (seed, split tag, epoch, index), so a run replays
 * exactly, and the clean digit is still written to `clean` as the VAE's target.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { checkFillArgs, CLEAN_SIZE } from "./split.ts";
import type { Split } from "./types.ts";

/** How samples are derived from the base images. */
export type Variant = "plain" | "translated" | "cluttered";

/** The valid variant names. */
export const VARIANTS: readonly Variant[] = ["plain", "translated", "cluttered"];

/** A geometry option of the generated variants; {@link VARIANT_OPTIONS} lists them all. */
export interface VariantOption {
  /** Its name in DatasetOptions, VariantGeometry and the run config's `data`. */
  readonly key: "canvas" | "distractors" | "distractorSize";
  /** Its command-line flag. */
  readonly flag: string;
  /** The smallest value it takes. */
  readonly min: number;
  /** The variants it applies to (plain takes none). */
  readonly variants: readonly Variant[];
  /** Its default, given the canvas side. */
  readonly default: (canvas: number) => number;
  /** One line of help, default included. */
  readonly help: string;
}

/**
 * The one table of the variants' options and their defaults: the loader fills defaults and
 * checks applicability from it, the run config and the command line list their keys and flags
 * from it, so a new option is one row here.
 */
export const VARIANT_OPTIONS: readonly VariantOption[] = [
  {
    key: "canvas",
    flag: "--canvas",
    min: 1,
    variants: ["translated", "cluttered"],
    default: () => 60,
    help: "canvas side for translated/cluttered (default 60)",
  },
  {
    key: "distractors",
    flag: "--distractors",
    min: 0,
    variants: ["cluttered"],
    default: (canvas) => (canvas >= 100 ? 8 : 4),
    help: "cluttered: distractor crops (default 4, 8 from a 100 canvas)",
  },
  {
    key: "distractorSize",
    flag: "--distractor-size",
    min: 1,
    // translated records it too (saved runs hold 8), though only cluttered uses it
    variants: ["translated", "cluttered"],
    default: () => 8,
    help: "cluttered: side of each distractor crop (default 8)",
  },
];

/** The row of {@link VARIANT_OPTIONS} for `key`. */
export function variantOption(key: VariantOption["key"]): VariantOption {
  return VARIANT_OPTIONS.find((o) => o.key === key)!;
}

/** Geometry of a translated or cluttered variant. */
export interface VariantGeometry {
  /** Side of the square canvas (≥ the base image's sides). */
  readonly canvas: number;
  /** Number of distractor crops (0 for translated). */
  readonly distractors: number;
  /** Side of each distractor crop (≤ the base image's sides and the canvas). */
  readonly distractorSize: number;
  /** Seed of the placement and distractor choices. */
  readonly seed: number;
}

/** One distractor: crop (cropX, cropY, size²) of base sample `source`, pasted at (x, y). */
export interface Distractor {
  readonly source: number;
  readonly cropX: number;
  readonly cropY: number;
  readonly x: number;
  readonly y: number;
  readonly size: number;
}

/** Where the digit and the distractors of one sample go: column x, row y of the top-left. */
export interface Layout {
  readonly x: number;
  readonly y: number;
  readonly distractors: readonly Distractor[];
}

/**
 * The layout of sample `index` at `epoch`: the digit's top-left (x, y) drawn uniformly so that
 * the base image (baseH, baseW) lies wholly inside the canvas, then the distractors.
 * `baseSize` is the number of samples in the base split (distractor sources are drawn from it,
 * never the sample itself when there is another one).
 */
export function layoutOf(
  geom: VariantGeometry,
  tag: number,
  baseSize: number,
  baseH: number,
  baseW: number,
  epoch: number,
  index: number,
): Layout {
  const rng = Rng.derive(geom.seed, tag, epoch, index);
  const x = rng.int(geom.canvas - baseW + 1);
  const y = rng.int(geom.canvas - baseH + 1);
  const S = geom.distractorSize;
  const distractors: Distractor[] = [];
  for (let k = 0; k < geom.distractors; k++) {
    let source = rng.int(baseSize);
    // "other" digits: redraw the sample itself (a duplicate stroke would be a give-away)
    while (source === index && baseSize > 1) source = rng.int(baseSize);
    distractors.push({
      source,
      cropX: rng.int(baseW - S + 1),
      cropY: rng.int(baseH - S + 1),
      x: rng.int(geom.canvas - S + 1),
      y: rng.int(geom.canvas - S + 1),
      size: S,
    });
  }
  return { x, y, distractors };
}

/** A split whose samples are laid out on a canvas; `layout` tells where everything went. */
export interface VariantSplit extends Split {
  /** The layout used for sample `index` at `epoch`. */
  layout(index: number, epoch: number): Layout;
}

/**
 * Wraps a base split of (baseH, baseW) images into a translated or cluttered split of
 * (canvas, canvas) images. `tag` separates the random streams of train and test.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./load.ts";
 * import { variantSplit } from "./variants.ts";
 * const base = await loadDataset("mnist-10k");
 * const geom = { canvas: 60, distractors: 4, distractorSize: 8, seed: 1 };
 * const split = variantSplit(base.train, 28, 28, geom, 0);
 * const x = new Float32Array(60 * 60), clean = new Float32Array(28 * 28);
 * split.fill([0], 0, x, clean); // x: cluttered canvas, clean: the digit itself
 * ```
 */
export function variantSplit(
  base: Split,
  baseH: number,
  baseW: number,
  geom: VariantGeometry,
  tag: number,
): VariantSplit {
  checkGeometry(geom, baseH, baseW);
  const C = geom.canvas;
  const hw = baseH * baseW;
  const digit = new Float32Array(hw); // (baseH, baseW)
  const other = new Float32Array(hw);
  const one = new Int32Array(1);
  const layout = (index: number, epoch: number) =>
    layoutOf(geom, tag, base.size, baseH, baseW, epoch, index);
  return {
    size: base.size,
    labels: base.labels,
    layout,
    fill(indices, epoch, images, clean) {
      checkFillArgs(indices, base.size, images, C * C, clean);
      const cc = CLEAN_SIZE * CLEAN_SIZE;
      for (let j = 0; j < indices.length; j++) {
        const index = indices[j];
        const out = images.subarray(j * C * C, (j + 1) * C * C);
        out.fill(0);
        const lay = layout(index, epoch);
        for (const d of lay.distractors) {
          one[0] = d.source;
          base.fill(one, epoch, other);
          for (let r = 0; r < d.size; r++) {
            for (let c = 0; c < d.size; c++) {
              const v = other[(d.cropY + r) * baseW + d.cropX + c];
              const o = (d.y + r) * C + d.x + c;
              if (v > out[o]) out[o] = v;
            }
          }
        }
        one[0] = index;
        base.fill(one, epoch, digit, clean ? clean.subarray(j * cc, (j + 1) * cc) : undefined);
        for (let r = 0; r < baseH; r++) {
          for (let c = 0; c < baseW; c++) {
            const v = digit[r * baseW + c];
            const o = (lay.y + r) * C + lay.x + c;
            if (v > out[o]) out[o] = v;
          }
        }
      }
    },
  };
}

function checkGeometry(g: VariantGeometry, baseH: number, baseW: number): void {
  if (!Number.isInteger(g.canvas) || g.canvas < Math.max(baseH, baseW)) {
    throw new Error(
      `--canvas must be an integer ≥ the image size ${baseW}×${baseH}, got ${g.canvas}`,
    );
  }
  if (!Number.isInteger(g.distractors) || g.distractors < 0) {
    throw new Error(`--distractors must be a non-negative integer, got ${g.distractors}`);
  }
  const S = g.distractorSize;
  if (!Number.isInteger(S) || S < 1 || S > Math.min(baseH, baseW)) {
    throw new Error(
      `--distractor-size must be an integer in 1..${Math.min(baseH, baseW)}, got ${S}`,
    );
  }
}
