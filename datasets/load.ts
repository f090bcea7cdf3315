/**
 * Loads a dataset from its command-line form: `--dataset mnist|fashion-mnist|idx:DIR|folder:DIR`
 * with `--variant plain|translated|cluttered`, `--canvas N`, `--distractors K`,
 * `--distractor-size S`, `--fit mnist|stretch` (folders) and an optional validation slice
 * carved from train.
 *
 * @module
 */
import { holdOut } from "./split.ts";
import type { Dataset, Split } from "./types.ts";
import {
  type Variant,
  VARIANT_OPTIONS,
  type VariantGeometry,
  type VariantOption,
  variantOption,
  VARIANTS,
  variantSplit,
} from "./variants.ts";

/** The dataset names and forms `loadDataset` accepts. */
export const DATASET_SPECS: readonly string[] = [
  "mnist",
  "mnist-10k",
  "fashion-mnist",
  "idx:DIR",
  "folder:DIR",
];

/** Options of {@link loadDataset}; every field has a default. */
export interface DatasetOptions {
  /** "plain" (default): the images as they are; "translated" or "cluttered": on a canvas. */
  variant?: Variant;
  /** Canvas side for translated/cluttered; default 60. */
  canvas?: number;
  /** Distractor crops for cluttered; default 4 below a 100-pixel canvas, else 8. */
  distractors?: number;
  /** Side of each distractor crop; default 8. */
  distractorSize?: number;
  /** Seed of the generated placements and of the validation slice; default 1. */
  seed?: number;
  /**
   * Part of train held out as `validation` (stratified, seeded): a fraction below 1, else a
   * count of images; default none.
   */
  validation?: number;
  /** folder: how images are fitted to 28×28: "mnist" (default, see fit.ts) or "stretch". */
  fit?: "mnist" | "stretch";
}

/** A loaded dataset plus what was resolved from the options. */
export interface LoadedDataset extends Dataset {
  /** The base dataset's name, e.g. "mnist" or "idx:/data/mnist". */
  readonly base: string;
  /** The variant applied (plain, translated, cluttered). */
  readonly variant: Variant;
  /** Canvas geometry of translated/cluttered variants; undefined for plain. */
  readonly geometry?: VariantGeometry;
  /** The held-out slice of train when `validation` was given (train then excludes it). */
  readonly validation?: Split;
}

/**
 * Loads `spec` ("mnist", …) with the given variant options.
 *
 * Sample j of a split at epoch e is a pure function of (seed, split, e, j); evaluate with a
 * fixed epoch (0) to score the same test images every time.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./load.ts";
 * const ds = await loadDataset("mnist", { variant: "cluttered", canvas: 60 });
 * const x = new Float32Array(ds.height * ds.width); // (1, 60, 60)
 * const clean = new Float32Array(28 * 28); // (1, 28, 28)
 * ds.train.fill([0], 0, x, clean);
 * ```
 */
export async function loadDataset(
  spec: string,
  options: DatasetOptions = {},
): Promise<LoadedDataset> {
  const base = await loadBase(spec, options);
  return applyOptions(base, options);
}

async function loadBase(spec: string, options: DatasetOptions): Promise<Dataset> {
  if (options.fit !== undefined && !spec.startsWith("folder:")) {
    throw new Error(`--fit applies to --dataset folder:DIR only, not "${spec}"`);
  }
  if (options.fit !== undefined && options.fit !== "mnist" && options.fit !== "stretch") {
    throw new Error(`Unknown --fit "${options.fit}": use mnist or stretch`);
  }
  if (spec === "mnist") return (await import("./mnist_official.ts")).mnistOfficial();
  if (spec === "mnist-10k") return (await import("./mnist_10k.ts")).mnist10k();
  if (spec === "fashion-mnist") return (await import("./fashion.ts")).fashionMnist();
  const colon = spec.indexOf(":");
  const kind = colon > 0 ? spec.slice(0, colon) : "";
  const dir = spec.slice(colon + 1);
  if ((kind === "idx" || kind === "folder") && dir === "") {
    throw new Error(`--dataset ${kind}: needs a folder, e.g. ${kind}:data/mnist`);
  }
  if (kind === "idx") return (await import("./idx.ts")).idxDataset(dir);
  if (kind === "folder") {
    const { folderDataset } = await import("./folder.ts");
    return folderDataset(dir, { mnistStyle: options.fit !== "stretch" });
  }
  throw new Error(
    `Unknown dataset "${spec}": use one of ${DATASET_SPECS.join(", ")}`,
  );
}

/** Resolves the variant options against a loaded base dataset (exported for tests). */
export function applyOptions(base: Dataset, options: DatasetOptions): LoadedDataset {
  const variant = options.variant ?? "plain";
  if (!VARIANTS.includes(variant)) {
    throw new Error(`Unknown --variant "${variant}": use one of ${VARIANTS.join(", ")}`);
  }
  const seed = options.seed ?? 1;
  let train = base.train;
  let validation: Split | undefined;
  if (options.validation !== undefined) {
    ({ train, validation } = holdOut(base.train, options.validation, seed));
  }
  for (const o of VARIANT_OPTIONS) {
    const v = options[o.key];
    // translated has no distractors: an explicit 0 (a saved run's config) says just that
    if (
      v === undefined || o.variants.includes(variant) ||
      (o.key === "distractors" && v === 0 && variant === "translated")
    ) continue;
    throw new Error(`${o.flag} needs --variant ${o.variants.join(" or ")} (not ${variant})`);
  }
  if (variant === "plain") return { ...base, base: base.name, variant, train, validation };
  const geometry: VariantGeometry = { ...geometryOf(variant, options), seed };
  const { canvas } = geometry;
  const wrap = (s: Split, tag: number) => variantSplit(s, base.height, base.width, geometry, tag);
  const suffix = variantSuffix(options);
  return {
    name: `${base.name}/${suffix}`,
    base: base.name,
    variant,
    geometry,
    height: canvas,
    width: canvas,
    classes: base.classes,
    classNames: base.classNames,
    train: wrap(train, 0),
    test: wrap(base.test, 1),
    validation: validation && wrap(validation, 2),
  };
}

/** The geometry `options` resolve to for a translated/cluttered variant (defaults filled in). */
function geometryOf(
  variant: Variant,
  options: DatasetOptions,
): Omit<VariantGeometry, "seed"> {
  const canvas = options.canvas ?? variantOption("canvas").default(0);
  const value = (key: VariantOption["key"]) => {
    const o = variantOption(key);
    return o.variants.includes(variant) ? options[key] ?? o.default(canvas) : 0;
  };
  return { canvas, distractors: value("distractors"), distractorSize: value("distractorSize") };
}

/**
 * The name suffix of the variant `options` ask for, defaults resolved as {@link loadDataset}
 * does: "" for plain, "translated-60", "cluttered-60-4x8" (loadDataset names the dataset
 * "<base>/<suffix>").
 *
 * @example
 * ```ts
 * import { variantSuffix } from "./load.ts";
 * variantSuffix({ variant: "cluttered", canvas: 100 }); // "cluttered-100-8x8"
 * ```
 */
export function variantSuffix(options: DatasetOptions): string {
  const variant = options.variant ?? "plain";
  if (variant === "plain") return "";
  const g = geometryOf(variant, options);
  return variant === "translated"
    ? `translated-${g.canvas}`
    : `cluttered-${g.canvas}-${g.distractors}x${g.distractorSize}`;
}
