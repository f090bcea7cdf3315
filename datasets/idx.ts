/**
 * The idx format of the official MNIST (and Fashion-MNIST) files, gzipped or not: a 4-byte
 * magic (0, 0, type, number of dimensions), one big-endian uint32 per dimension, then the
 * data. MNIST uses type 0x08 (unsigned byte): images are idx3 (count, rows, columns) and labels
 * idx1 (count).
 *
 * @module
 */
import { join } from "node:path";
import { type ByteImages, byteSplit } from "./split.ts";
import type { Dataset } from "./types.ts";

/** A parsed idx array of unsigned bytes. */
export interface IdxArray {
  /** Sizes of the dimensions, outermost first. */
  readonly dims: readonly number[];
  /** (dims[0], dims[1], …) */
  readonly data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Parses idx bytes (already decompressed). Checks the magic, that the data is unsigned bytes,
 * and that the file holds exactly the bytes its dimensions announce.
 *
 * @example
 * ```ts
 * import { encodeIdx, parseIdx } from "./idx.ts";
 * const bytes = encodeIdx([2, 3], new Uint8Array([1, 2, 3, 4, 5, 6]));
 * parseIdx(bytes, "x.idx").dims; // [2, 3]
 * ```
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new Error(`${file}: truncated idx file (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[3] < 1 || bytes[3] > 8) {
    const hex = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw new Error(`${file}: not an idx file (magic 0x${hex})`);
  }
  if (bytes[2] !== UBYTE) {
    throw new Error(
      `${file}: idx data type 0x${bytes[2].toString(16)} is not unsigned bytes (0x08)`,
    );
  }
  const nd = bytes[3];
  const header = 4 + 4 * nd;
  if (bytes.length < header) {
    throw new Error(`${file}: truncated idx header (${bytes.length} of ${header} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let total = 1;
  for (let d = 0; d < nd; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    total *= n;
  }
  if (bytes.length - header < total) {
    throw new Error(
      `${file}: truncated idx data: ${bytes.length - header} of ${total} bytes for dims ${
        dims.join("×")
      }`,
    );
  }
  if (bytes.length - header > total) {
    throw new Error(
      `${file}: ${bytes.length - header - total} bytes after the ${dims.join("×")} data`,
    );
  }
  return { dims, data: bytes.subarray(header, header + total) };
}

/** Encodes unsigned bytes of shape `dims` as an idx file (for tests and tools). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const total = dims.reduce((a, b) => a * b, 1);
  if (data.length !== total) throw new Error(`encodeIdx: ${data.length} bytes for ${dims}`);
  const out = new Uint8Array(4 + 4 * dims.length + total);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((n, d) => view.setUint32(4 + 4 * d, n, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip bytes; a damaged or truncated stream gives an error naming `file`. */
export async function gunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${file}: damaged or truncated gzip data (${(e as Error).message})`);
  }
}

/**
 * Reads one idx file, gzipped (by its magic, whatever its name) or not. With `dims`, the magic
 * must say that many dimensions (3 for images, 1 for labels): a file of the wrong kind is
 * refused by its magic rather than misread.
 */
export async function readIdxFile(path: string, dims?: number): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read idx file ${path}: ${(e as Error).message}`);
  }
  if (isGzip(bytes)) bytes = await gunzip(bytes, path);
  if (dims !== undefined && bytes.length >= 4 && bytes[3] !== dims) {
    const hex = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw new Error(
      `${path}: not an idx file (magic 0x${hex}; ${dims === 3 ? "images" : "labels"} need ` +
        `0x0000080${dims})`,
    );
  }
  return parseIdx(bytes, path);
}

/**
 * Reads an images file (idx3: count, rows, columns) and its labels file (idx1: count) and
 * checks that they agree; with `classes`, every label must be below it.
 */
export async function readIdxPair(
  imagesPath: string,
  labelsPath: string,
  classes?: number,
): Promise<ByteImages> {
  const images = await readIdxFile(imagesPath, 3);
  const labels = await readIdxFile(labelsPath, 1);
  if (classes !== undefined) {
    const i = labels.data.findIndex((l) => l >= classes);
    if (i >= 0) {
      throw new Error(
        `${labelsPath}: label ${labels.data[i]} (label ${i}) is outside 0..${classes - 1}`,
      );
    }
  }
  if (images.dims.length !== 3) {
    throw new Error(
      `${imagesPath}: images must have 3 dimensions (count, rows, columns), got ${
        images.dims.join("×")
      }`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsPath}: labels must have 1 dimension, got ${labels.dims.join("×")}`);
  }
  const [count, height, width] = images.dims;
  if (height === 0 || width === 0) throw new Error(`${imagesPath}: images of ${height}×${width}`);
  if (labels.dims[0] !== count) {
    throw new Error(
      `${labelsPath}: ${labels.dims[0]} labels but ${imagesPath} holds ${count} images`,
    );
  }
  return { count, height, width, pixels: images.data, labels: Int32Array.from(labels.data) };
}

/** The four file stems of an MNIST-style idx folder. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Finds `stem` in `dir` as stem, stem.gz, or with "." for the last "-" (train-images.idx3-ubyte,
 * a common re-packaging).
 */
export function findIdxFile(dir: string, stem: string): string {
  const dotted = stem.replace(/-(idx\d-ubyte)$/, ".$1");
  const names = [stem, `${stem}.gz`, dotted, `${dotted}.gz`];
  for (const name of names) {
    try {
      if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch {
      // not this spelling
    }
  }
  throw new Error(`idx folder ${dir} has no ${stem} (looked for ${names.join(", ")})`);
}

/**
 * An MNIST-style idx folder (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) as a {@link Dataset}.
 *
 * @example
 * ```ts
 * import { idxDataset } from "./idx.ts";
 * const ds = await idxDataset("/data/mnist"); // the official 60,000/10,000 files
 * ```
 */
export async function idxDataset(
  dir: string,
  options: { name?: string; classNames?: readonly string[] } = {},
): Promise<Dataset> {
  // Labels beyond the class count would silently make a model of that many classes.
  const classes = options.classNames?.length ?? 10;
  const train = await readIdxPair(
    findIdxFile(dir, IDX_FILES.trainImages),
    findIdxFile(dir, IDX_FILES.trainLabels),
    classes,
  );
  const test = await readIdxPair(
    findIdxFile(dir, IDX_FILES.testImages),
    findIdxFile(dir, IDX_FILES.testLabels),
    classes,
  );
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(
      `idx folder ${dir}: train images are ${train.height}×${train.width} but test images ${test.height}×${test.width}`,
    );
  }
  const classNames = options.classNames ?? Array.from({ length: classes }, (_, i) => String(i));
  return {
    name: options.name ?? `idx:${dir}`,
    height: train.height,
    width: train.width,
    classes: classNames.length,
    classNames,
    train: byteSplit(train),
    test: byteSplit(test),
  };
}
