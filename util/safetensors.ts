/**
 * The safetensors format (float32 tensors only), written and read by this small module.
 *
 * The safetensors layout: 8-byte little-endian header length N, N bytes of JSON header
 * (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}`, padded with spaces to a multiple of 8), then the raw
 * little-endian tensor bytes, contiguous, in header order.
 *
 * @module
 */

import { readRegularFile } from "./read_regular.ts";

/** Named float32 tensors, each with its shape (row-major). */
export type TensorMap = Map<string, { shape: number[]; data: Float32Array }>;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Tensors and string metadata of one safetensors file. */
export interface Safetensors {
  /** The tensors by name, in file order. */
  tensors: TensorMap;
  /** The `__metadata__` strings. */
  metadata: Record<string, string>;
}

/**
 * Serialises float32 tensors and string metadata to safetensors bytes.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const tensors = new Map([["w", { shape: [2, 1], data: new Float32Array([1, 2]) }]]);
 * const bytes = encodeSafetensors(tensors, { note: "hi" });
 * decodeSafetensors(bytes, "memory").tensors.get("w")!.data; // Float32Array [1, 2]
 * ```
 */
export function encodeSafetensors(
  tensors: TensorMap,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`safetensors metadata "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    if (name === "__metadata__") throw new Error(`tensor name "__metadata__" is reserved`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(
        `tensor "${name}": shape [${shape}] holds ${count} values, data has ${data.length}`,
      );
    }
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Padding to 8 bytes keeps the tensor data aligned, as the reference implementation does.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const { data } of tensors.values()) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
    }
    at += data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, validating the header length against the file size, every tensor's
 * dtype (only F32 is supported), shape, and data offsets (in bounds, sized as the shape says,
 * contiguous, covering the data section). Any problem throws one line naming `file`.
 *
 * @example
 * ```ts
 * import { decodeSafetensors } from "./safetensors.ts";
 * const bytes = await Deno.readFile("checkpoints/mnist-classification/model.safetensors");
 * const { tensors, metadata } = decodeSafetensors(bytes, "model.safetensors");
 * console.log(metadata.format, tensors.get("fc1.weight")!.shape); // "glimpse" [128, 64]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, file: string): Safetensors {
  const fail = (msg: string): never => {
    throw new Error(`Cannot read "${file}": ${msg}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true);
  const headerLength = hi * 2 ** 32 + lo;
  if (headerLength > bytes.length - 8) {
    fail(`header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    ));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail("__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__ "${k}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof t !== "object" || t === null) fail(`tensor "${name}" is not an object`);
    if (t!.dtype !== "F32") {
      fail(`tensor "${name}" has dtype ${JSON.stringify(t!.dtype)}; only F32 is supported`);
    }
    const shape = t!.shape;
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) fail(`tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of sizes`);
    const off = t!.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o)) ||
      off[0] < 0 || off[1] < off[0]
    ) fail(`tensor "${name}" has data_offsets ${JSON.stringify(off)}`);
    const [begin, end] = off as number[];
    if (end > dataLength) {
      fail(
        `tensor "${name}" data_offsets [${begin}, ${end}] exceed the ${dataLength}-byte data ` +
          "section (truncated file?)",
      );
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * count) {
      fail(`tensor "${name}" has ${end - begin} bytes for shape [${shape}] (${4 * count} needed)`);
    }
    entries.push({ name, shape: shape as number[], begin, end });
  }
  // Tensors must tile the data section exactly: no overlap, no gap, nothing left over.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let expect = 0;
  for (const e of sorted) {
    if (e.begin !== expect) {
      fail(`tensor "${e.name}" starts at byte ${e.begin}, expected ${expect} (overlap or gap)`);
    }
    expect = e.end;
  }
  if (expect !== dataLength) fail(`${dataLength - expect} bytes follow the last tensor`);
  const tensors: TensorMap = new Map();
  for (const e of entries) {
    const raw = bytes.slice(dataStart + e.begin, dataStart + e.end);
    let data: Float32Array;
    if (LITTLE_ENDIAN) data = new Float32Array(raw.buffer, 0, (e.end - e.begin) / 4);
    else {
      const dv = new DataView(raw.buffer);
      data = new Float32Array((e.end - e.begin) / 4);
      for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, true);
    }
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * Reads and decodes one safetensors file; a missing, unreadable or non-regular file (a FIFO
 * would block forever) throws one line naming it.
 */
export async function readSafetensors(file: string): Promise<Safetensors> {
  return decodeSafetensors(await readRegularFile(file), file);
}
