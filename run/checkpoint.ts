/**
 * Checkpoints in the safetensors format, written and read by this small module.
 *
 * A run folder holds:
 * - `model.safetensors`: the parameters only, named and shaped as PyTorch's nn.Linear has them
 *   (`fc1.weight` (out, in), `fc1.bias` (out), …), so
 *   `model.load_state_dict(safetensors.torch.load_file("runs/x/model.safetensors"))` loads them
 *   into shared/peer/ram_torch.py's RAM as is. Its `__metadata__` says what the model is:
 *   `format` ("glimpse"), `format_version`, `config` (the full run config, JSON), `epoch`,
 *   `step`, `batch`, `dataset`, `reward`, `reward_options` (JSON).
 * - `optimizer.safetensors`: what resuming needs besides the parameters: Adam's moments as
 *   `adam.m.<param>` and `adam.v.<param>`, and in `__metadata__` the same `epoch`, `step` and
 *   `batch` (so a pair left mismatched by a crash between the two renames is detected) and
 *   `trainer` (the trainer's own state, JSON). Keeping them apart keeps the model file loadable
 *   by a strict `load_state_dict` and half the size.
 * - The VAE probe, when the run has one (config `vae`), shares both files: its parameters
 *   `vae.*` in model.safetensors (PyTorch names: the RAM's `load_state_dict` takes the tensors
 *   without the prefix, the probe's module the rest), its moments `adam.m.vae.*` and
 *   `adam.v.vae.*` in optimizer.safetensors, and its own Adam step count `vae_step` in both
 *   files' metadata.
 *
 * The files of one checkpoint (with config.json and metrics.jsonl) are committed as one unit
 * (checkpoint_commit.ts): after a kill they are all from the new step or all from the old one.
 * Nothing non-finite is ever written: {@link saveCheckpoint} refuses NaN or ±Infinity in any
 * tensor, naming it, so a diverged run keeps its last good checkpoint.
 *
 * The safetensors layout: 8-byte little-endian header length N, N bytes of JSON header
 * (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}`, padded with spaces to a multiple of 8), then the raw
 * little-endian tensor bytes, contiguous, in header order.
 *
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { resolveRunConfig, type RunConfig } from "./run_config.ts";
import { readRegularFile } from "../util/read_regular.ts";
import { commitCheckpoint, type CommitHook, currentCheckpointFile } from "./checkpoint_commit.ts";
import { checkVaeParams, splitVaeParams } from "../probe/vae_params.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { checkClsParams, clsConfigFor, splitClsParams } from "../probe/cls_params.ts";

/** The `format` metadata value of glimpse checkpoints. */
export const CHECKPOINT_FORMAT = "glimpse";
/** The checkpoint format version this module writes and reads. */
export const CHECKPOINT_VERSION = 1;
/** File names inside a run folder. */
export const MODEL_FILE = "model.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const CONFIG_FILE = "config.json";

const ADAM_M = "adam.m.";
const ADAM_V = "adam.v.";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Tensors and string metadata of one safetensors file. */
export interface Safetensors {
  tensors: ParamMap;
  metadata: Record<string, string>;
}

/**
 * Serialises float32 tensors and string metadata to safetensors bytes.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./checkpoint.ts";
 * const tensors = new Map([["w", { shape: [2, 1], data: new Float32Array([1, 2]) }]]);
 * const bytes = encodeSafetensors(tensors, { note: "hi" });
 * decodeSafetensors(bytes, "memory").tensors.get("w")!.data; // Float32Array [1, 2]
 * ```
 */
export function encodeSafetensors(
  tensors: ParamMap,
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
  const tensors: ParamMap = new Map();
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

/** What a checkpoint says about the model and where training stood. */
export interface CheckpointMeta {
  /** The full run config. */
  config: RunConfig;
  /** Epochs completed. */
  epoch: number;
  /** Adam steps taken. */
  step: number;
  /** Batches done of epoch `epoch + 1` when the run was interrupted mid-epoch; 0 otherwise. */
  batch: number;
  /** Adam steps of the VAE probe; set on load when the checkpoint has a probe. */
  vaeStep?: number;
  /** Adam steps of the class probe; set on load when the checkpoint has one. */
  clsStep?: number;
}

/** A loaded checkpoint. */
export interface Checkpoint {
  meta: CheckpointMeta;
  /** The RAM's parameters, PyTorch names and shapes (the probe's `vae.*` are in `vae`). */
  params: ParamMap;
  /** The RAM's Adam moments and the trainer's state; present when loaded with `optimizer: true`. */
  optimizer?: { adamM: ParamMap; adamV: ParamMap; trainer: Record<string, unknown> };
  /**
   * The VAE probe's state when the run has one (config `vae`): its parameters, and its Adam
   * moments and step when loaded with `optimizer: true` (zeros and step 0 otherwise, i.e. a
   * fresh optimiser on the saved weights).
   */
  vae: TrainState | null;
  /** The class probe's state (`classprobe.*`, config `cls`) as `vae`; null or absent: none. */
  cls?: TrainState | null;
}

/** Joins a folder and a file name. */
export function runFile(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function positionMetadata(
  meta: CheckpointMeta,
  vae?: TrainState,
  cls?: TrainState,
): Record<string, string> {
  return {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    epoch: String(meta.epoch),
    step: String(meta.step),
    batch: String(meta.batch),
    ...(vae ? { vae_step: String(vae.step) } : {}),
    ...(cls ? { cls_step: String(cls.step) } : {}),
  };
}

/** The first non-finite value among `tensors`, or null when all are finite. */
export function findNonFinite(
  tensors: ParamMap,
): { name: string; index: number; value: number } | null {
  for (const [name, { data }] of tensors) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) return { name, index: i, value: data[i] };
    }
  }
  return null;
}

/** A checkpoint refused because part of the state is NaN or ±Infinity. */
export class NonFiniteStateError extends Error {
  constructor(
    /** Which part: "RAM parameter", "RAM Adam moment", "VAE probe parameter", … */
    readonly part: string,
    readonly tensor: string,
    readonly value: number,
  ) {
    super(`${part} "${tensor}" holds ${value}`);
    this.name = "NonFiniteStateError";
  }
}

/** Options of {@link saveCheckpoint}. */
export interface SaveOptions {
  /**
   * false leaves optimizer.safetensors out (for a run folder that has none, such as a shipped
   * model, where zero moments would make a later resume silently inexact).
   */
  optimizer?: boolean;
  /**
   * The class probe's state (`classprobe.*`), required when `meta.config.cls` is set (and
   * refused otherwise).
   */
  cls?: TrainState;
  /** More files committed in the same unit (name → text), e.g. metrics.jsonl. */
  files?: Record<string, string>;
  /** Crash simulation for tests (checkpoint_commit.ts). */
  hook?: CommitHook;
}

function checkStateFinite(state: TrainState, who: string): void {
  for (
    const [part, map] of [["parameter", state.params], ["Adam first moment", state.adamM], [
      "Adam second moment",
      state.adamV,
    ]] as const
  ) {
    const bad = findNonFinite(map);
    if (bad) throw new NonFiniteStateError(`${who} ${part}`, bad.name, bad.value);
  }
}

/**
 * Writes `dir`/model.safetensors, optimizer.safetensors and config.json (and `files`) as one
 * atomic unit (the folder is created when missing). `trainer` is the trainer's resume state;
 * `vae` the probe's state, required when `meta.config.vae` is set (and refused otherwise); the
 * class probe's comes in `options.cls` likewise. Throws {@link NonFiniteStateError}, writing nothing, when any tensor is NaN or ±Infinity.
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * await saveCheckpoint("runs/x", await backend.getState(), { config, epoch: 1, step: 63, batch: 0 });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  state: TrainState,
  meta: CheckpointMeta,
  trainer: Record<string, unknown> = {},
  vae?: TrainState,
  { optimizer = true, cls, files = {}, hook }: SaveOptions = {},
): Promise<void> {
  if (!meta.config.cls !== !cls) {
    throw new Error(
      `saveCheckpoint ${dir}: ` +
        (cls
          ? "a class probe state was given but the config has no cls"
          : "the config's class probe state is missing"),
    );
  }
  if (!meta.config.vae !== !vae) {
    throw new Error(
      `saveCheckpoint ${dir}: ` +
        (vae
          ? "a VAE state was given but the config has no vae"
          : "the config's VAE state is missing"),
    );
  }
  checkStateFinite(state, "RAM");
  if (vae) checkStateFinite(vae, "VAE probe");
  if (cls) checkStateFinite(cls, "class probe");
  await Deno.mkdir(dir, { recursive: true });
  const params: ParamMap = new Map(state.params);
  const moments: ParamMap = new Map();
  for (const [name, t] of state.adamM) moments.set(ADAM_M + name, t);
  for (const [name, t] of state.adamV) moments.set(ADAM_V + name, t);
  if (vae) {
    for (const [name, t] of vae.params) params.set(name, t);
    for (const [name, t] of vae.adamM) moments.set(ADAM_M + name, t);
    for (const [name, t] of vae.adamV) moments.set(ADAM_V + name, t);
  }
  if (cls) {
    for (const [name, t] of cls.params) params.set(name, t);
    for (const [name, t] of cls.adamM) moments.set(ADAM_M + name, t);
    for (const [name, t] of cls.adamV) moments.set(ADAM_V + name, t);
  }
  const unit = new Map<string, Uint8Array>();
  if (optimizer) {
    unit.set(
      OPTIMIZER_FILE,
      encodeSafetensors(moments, {
        ...positionMetadata(meta, vae, cls),
        trainer: JSON.stringify(trainer),
      }),
    );
  }
  unit.set(
    MODEL_FILE,
    encodeSafetensors(params, {
      ...positionMetadata(meta, vae, cls),
      config: JSON.stringify(meta.config),
      dataset: meta.config.dataset,
      reward: meta.config.reward.name,
      reward_options: JSON.stringify(meta.config.reward.options),
    }),
  );
  const encoder = new TextEncoder();
  unit.set(CONFIG_FILE, encoder.encode(JSON.stringify(meta.config, null, 2) + "\n"));
  for (const [name, text] of Object.entries(files)) unit.set(name, encoder.encode(text));
  await commitCheckpoint(dir, unit, hook);
}

/**
 * Reads checkpoint file `name` of `dir` as the current generation has it; errors name
 * `dir/name`. A regular file only: a FIFO would block the read forever.
 */
async function readSafetensors(dir: string, name: string): Promise<Safetensors> {
  const shown = runFile(dir, name);
  for (let attempt = 0;; attempt++) {
    const file = await currentCheckpointFile(dir, name);
    try {
      return decodeSafetensors(await readRegularFile(file), shown);
    } catch (e) {
      // A writer may have moved the staged copy in between: resolve again, once.
      if (attempt === 0 && file !== shown) continue;
      throw new Error((e as Error).message.replaceAll(file, shown));
    }
  }
}

function checkFormat(file: string, metadata: Record<string, string>): void {
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.format_version === undefined) {
    throw new Error(`Cannot read "${file}": not a glimpse checkpoint (no format metadata)`);
  }
  const v = Number(metadata.format_version);
  if (v !== CHECKPOINT_VERSION) {
    throw new Error(
      `Cannot read "${file}": format version ${metadata.format_version}, this glimpse reads ` +
        `version ${CHECKPOINT_VERSION}`,
    );
  }
}

function intField(file: string, metadata: Record<string, string>, key: string): number {
  const v = Number(metadata[key]);
  if (metadata[key] === undefined || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`Cannot read "${file}": metadata "${key}" = ${JSON.stringify(metadata[key])}`);
  }
  return v;
}

function jsonField(file: string, metadata: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(metadata[key] ?? "");
  } catch {
    throw new Error(`Cannot read "${file}": metadata "${key}" is not valid JSON`);
  }
}

function checkFinite(file: string, tensors: ParamMap): void {
  const bad = findNonFinite(tensors);
  if (bad) {
    throw new Error(
      `Cannot read "${file}": tensor "${bad.name}" holds ${bad.value} at index ${bad.index}`,
    );
  }
}

/**
 * Reads a checkpoint. `path` is a run folder or a model.safetensors file; with
 * `optimizer: true` the folder's optimizer.safetensors is read too and must be from the same
 * step. Errors are one line naming the file.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const ckpt = await loadCheckpoint("runs/x");
 * console.log(ckpt.meta.config.model.glimpses, ckpt.meta.epoch);
 * ```
 */
export async function loadCheckpoint(
  path: string,
  { optimizer = false }: { optimizer?: boolean } = {},
): Promise<Checkpoint> {
  const isFile = path.endsWith(".safetensors");
  const dir = isFile ? path.slice(0, Math.max(0, path.lastIndexOf("/"))) || "." : path;
  const modelFile = isFile ? path : runFile(dir, MODEL_FILE);
  if (!isFile) {
    const info = await Deno.stat(dir).catch(() => null);
    if (!info) throw new Error(`Cannot read model "${dir}": no such folder`);
    if (!info.isDirectory) throw new Error(`Cannot read model "${dir}": not a folder`);
  }
  const model = isFile
    ? decodeSafetensors(await readRegularFile(modelFile), modelFile)
    : await readSafetensors(dir, MODEL_FILE);
  checkFormat(modelFile, model.metadata);
  checkFinite(modelFile, model.tensors);
  let config: RunConfig;
  try {
    config = resolveRunConfig(jsonField(modelFile, model.metadata, "config"), "config");
  } catch (e) {
    throw new Error(`Cannot read "${modelFile}": metadata ${(e as Error).message}`);
  }
  const meta: CheckpointMeta = {
    config,
    epoch: intField(modelFile, model.metadata, "epoch"),
    step: intField(modelFile, model.metadata, "step"),
    batch: intField(modelFile, model.metadata, "batch"),
  };
  const clsSplit = splitClsParams(model.tensors);
  if (!config.cls !== !clsSplit.cls) {
    throw new Error(
      `Cannot read "${modelFile}": ` +
        (config.cls
          ? "its config has a class probe but no classprobe.* tensors"
          : "it holds classprobe.* tensors but its config has no cls"),
    );
  }
  let cls: TrainState | null = null;
  if (config.cls && clsSplit.cls) {
    try {
      checkClsParams(clsConfigFor(config.model, config.cls), clsSplit.cls, "class probe");
    } catch (e) {
      throw new Error(`Cannot read "${modelFile}": ${(e as Error).message}`);
    }
    meta.clsStep = intField(modelFile, model.metadata, "cls_step");
    cls = { ...zeroState(clsSplit.cls), step: 0 };
  }
  const split = splitVaeParams(clsSplit.rest);
  if (config.vae && !split.vae) {
    throw new Error(`Cannot read "${modelFile}": its config has a VAE probe but no vae.* tensors`);
  }
  if (!config.vae && split.vae) {
    throw new Error(`Cannot read "${modelFile}": it holds vae.* tensors but its config has no vae`);
  }
  let vae: TrainState | null = null;
  if (config.vae && split.vae) {
    try {
      checkVaeParams(vaeModelConfig(config.model, config.vae), split.vae, "VAE probe");
    } catch (e) {
      throw new Error(`Cannot read "${modelFile}": ${(e as Error).message}`);
    }
    meta.vaeStep = intField(modelFile, model.metadata, "vae_step");
    vae = { ...zeroState(split.vae), step: 0 };
  }
  const out: Checkpoint = { meta, params: split.ram, vae, cls };
  if (!optimizer) return out;
  const optFile = runFile(dir, OPTIMIZER_FILE);
  const opt = await readSafetensors(dir, OPTIMIZER_FILE);
  checkFormat(optFile, opt.metadata);
  for (const key of ["epoch", "step", "batch"] as const) {
    const v = intField(optFile, opt.metadata, key);
    if (v !== meta[key]) {
      throw new Error(
        `Cannot read "${optFile}": it is from ${key} ${v} but ${MODEL_FILE} from ${key} ` +
          `${meta[key]} (saving was interrupted; the run cannot be resumed exactly)`,
      );
    }
  }
  const adamM: ParamMap = new Map(), adamV: ParamMap = new Map();
  for (const [name, t] of opt.tensors) {
    if (name.startsWith(ADAM_M)) adamM.set(name.slice(ADAM_M.length), t);
    else if (name.startsWith(ADAM_V)) adamV.set(name.slice(ADAM_V.length), t);
    else throw new Error(`Cannot read "${optFile}": unexpected tensor "${name}"`);
  }
  for (const [name, { shape }] of model.tensors) {
    for (const [prefix, map] of [[ADAM_M, adamM], [ADAM_V, adamV]] as const) {
      const t = map.get(name);
      if (!t) throw new Error(`Cannot read "${optFile}": tensor "${prefix}${name}" is missing`);
      if (t.shape.join() !== shape.join()) {
        throw new Error(
          `Cannot read "${optFile}": tensor "${prefix}${name}" has shape [${t.shape}], ` +
            `the parameter [${shape}]`,
        );
      }
    }
  }
  if (adamM.size !== model.tensors.size || adamV.size !== model.tensors.size) {
    throw new Error(`Cannot read "${optFile}": it holds moments of parameters the model lacks`);
  }
  checkFinite(optFile, opt.tensors);
  const mc = splitClsParams(adamM), vc = splitClsParams(adamV);
  const m = splitVaeParams(mc.rest), v = splitVaeParams(vc.rest);
  if (cls) {
    const clsStep = intField(optFile, opt.metadata, "cls_step");
    if (clsStep !== meta.clsStep) {
      throw new Error(
        `Cannot read "${optFile}": it is from class probe step ${clsStep} but ${MODEL_FILE} ` +
          `from step ${meta.clsStep} (saving was interrupted; the run cannot be resumed exactly)`,
      );
    }
    out.cls = { params: cls.params, adamM: mc.cls!, adamV: vc.cls!, step: clsStep };
  }
  if (vae) {
    const vaeStep = intField(optFile, opt.metadata, "vae_step");
    if (vaeStep !== meta.vaeStep) {
      throw new Error(
        `Cannot read "${optFile}": it is from VAE step ${vaeStep} but ${MODEL_FILE} from ` +
          `VAE step ${meta.vaeStep} (saving was interrupted; the run cannot be resumed exactly)`,
      );
    }
    out.vae = { params: vae.params, adamM: m.vae!, adamV: v.vae!, step: vaeStep };
  }
  const trainer = jsonField(optFile, opt.metadata, "trainer");
  if (typeof trainer !== "object" || trainer === null || Array.isArray(trainer)) {
    throw new Error(`Cannot read "${optFile}": metadata "trainer" is not a JSON object`);
  }
  out.optimizer = { adamM: m.ram, adamV: v.ram, trainer: trainer as Record<string, unknown> };
  return out;
}

/** The backend state of a checkpoint: its Adam moments when loaded, zeros otherwise. */
export function checkpointState(ckpt: Checkpoint): TrainState {
  const zeros = (): ParamMap =>
    new Map(
      [...ckpt.params].map((
        [n, t],
      ) => [n, { shape: [...t.shape], data: new Float32Array(t.data.length) }]),
    );
  return {
    params: ckpt.params,
    adamM: ckpt.optimizer?.adamM ?? zeros(),
    adamV: ckpt.optimizer?.adamV ?? zeros(),
    step: ckpt.optimizer ? ckpt.meta.step : 0,
  };
}

function zeroState(params: ParamMap): Omit<TrainState, "step"> {
  const zeros = (): ParamMap =>
    new Map(
      [...params].map((
        [n, t],
      ) => [n, { shape: [...t.shape], data: new Float32Array(t.data.length) }]),
    );
  return { params, adamM: zeros(), adamV: zeros() };
}
