/**
 * Run checkpoints: the model and optimizer files of a run folder (safetensors, util/safetensors.ts).
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
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { resolveRunConfig, type RunConfig } from "./run_config.ts";
import { decodeSafetensors, encodeSafetensors, type Safetensors } from "../util/safetensors.ts";
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
  /** What the checkpoint says about the model and where training stood. */
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
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { CpuRam } from "../ram/cpu.ts";
 * const ckpt = await loadCheckpoint("checkpoints/mnist-classification");
 * const ram = new CpuRam(ckpt.meta.config.model, 1);
 * const dir = await Deno.makeTempDir();
 * const config = { ...ckpt.meta.config, vae: null }; // the RAM alone, no probe
 * await saveCheckpoint(dir, await ram.getState(), { config, epoch: 0, step: 0, batch: 0 });
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
async function readRunFile(dir: string, name: string): Promise<Safetensors> {
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
 * The checkpoint held by the parsed model.safetensors `model` (named `modelFile` in errors):
 * format, finiteness, config, positions and the probes' tensors checked, no optimizer state.
 * What {@link loadCheckpoint} reads from a file, for callers that fetched the bytes themselves
 * (the browser explorer).
 *
 * @example
 * ```ts ignore
 * import { decodeSafetensors, modelCheckpoint } from "./checkpoint.ts";
 * const bytes = new Uint8Array(await (await fetch("model.safetensors")).arrayBuffer());
 * const ckpt = modelCheckpoint(decodeSafetensors(bytes, "model.safetensors"), "model.safetensors");
 * ```
 */
export function modelCheckpoint(model: Safetensors, modelFile: string): Checkpoint {
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
  return { meta, params: split.ram, vae, cls };
}

/**
 * Reads a checkpoint. `path` is a run folder or a model.safetensors file; with
 * `optimizer: true` the folder's optimizer.safetensors is read too and must be from the same
 * step. Errors are one line naming the file.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const ckpt = await loadCheckpoint("checkpoints/mnist-classification");
 * console.log(ckpt.meta.config.model.glimpses, ckpt.meta.epoch, ckpt.params.get("fc1.weight")!.shape);
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
    : await readRunFile(dir, MODEL_FILE);
  const out = modelCheckpoint(model, modelFile);
  if (!optimizer) return out;
  const { meta } = out;
  const cls = out.cls, vae = out.vae;
  const optFile = runFile(dir, OPTIMIZER_FILE);
  const opt = await readRunFile(dir, OPTIMIZER_FILE);
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
