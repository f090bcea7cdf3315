/**
 * The RAM's parameters: names, shapes, initialisation and a flat layout.
 *
 * Names and shapes follow PyTorch (`shared/peer/ram_torch.py`): nn.Linear weights are
 * (out, in) row-major, so a checkpoint of ours loads into the peer's modules by name. The
 * order of {@link paramSpecs} is the order of the peer's `parameters()`, the order in which
 * {@link initParams} draws, and the order of {@link flatLayout}.
 *
 * | module | maps                          | used as                               |
 * | ------ | ----------------------------- | ------------------------------------- |
 * | fc1    | ρ (k·g²) → glimpseHidden      | hg = ReLU(fc1 ρ)                      |
 * | fc2    | l (2) → locationHidden        | hl = ReLU(fc2 l)                      |
 * | fc3    | glimpseHidden → glimpseOut    | g = ReLU(fc3 hg + fc4 hl)             |
 * | fc4    | locationHidden → glimpseOut   |                                       |
 * | i2h    | glimpseOut → hidden           | rnn core: h = ReLU(i2h g + h2h h)     |
 * | h2h    | hidden → hidden               |                                       |
 * | lstm   | weight_ih (4H, glimpseOut), weight_hh (4H, H), bias_ih, bias_hh (4H): lstm core, PyTorch's nn.LSTMCell names and gate order i, f, g, o |
 * | loc1   | hidden → policyHidden         | μ = tanh(loc2 ReLU(loc1 h))           |
 * | loc2   | policyHidden → 2              |                                       |
 * | base   | hidden → 1                    | b = base h                            |
 * | cls    | hidden → classes              | log p = log_softmax(cls h)            |
 *
 * @module
 */
import type { RamConfig } from "./config.ts";
import type { ParamMap, TrainState } from "./backend.ts";
import { Rng } from "../util/rng.ts";
import { retinaSize } from "../kernels/retina_ref.ts";

/** One parameter tensor: its PyTorch name, shape and initialisation bound. */
export interface ParamSpec {
  /** PyTorch state_dict name, e.g. "fc1.weight". */
  name: string;
  /** [out, in] for weights, [out] for biases. */
  shape: number[];
  /** Initialised U(−bound, bound): 1/√fan_in for nn.Linear, 1/√hidden for nn.LSTMCell. */
  bound: number;
}

/** A parameter's place in one flat buffer. */
export interface FlatEntry extends ParamSpec {
  /** First element, a multiple of the layout's alignment. */
  offset: number;
  /** Elements (product of shape). */
  size: number;
}

/** Every parameter in one flat Float32Array (the GPU keeps params, grads, m and v this way). */
export interface FlatLayout {
  /** Entries in {@link paramSpecs} order. */
  entries: FlatEntry[];
  /** Entries by name. */
  byName: Map<string, FlatEntry>;
  /** Floats in the whole buffer (a multiple of the alignment; padding is zero). */
  total: number;
  /** Alignment of every offset, in floats. */
  align: number;
}

/**
 * Default alignment of {@link flatLayout}, in floats: 64 floats = 256 bytes, gpu/tensor.ts's
 * VIEW_ALIGN (the largest minStorageBufferOffsetAlignment WebGPU allows), so every parameter can
 * be bound as a view of the one buffer on any adapter. A multiple of 4, so vec4 loads line up.
 */
export const PARAM_ALIGN = 64;

/** Stream key of {@link initParams}' generator: Rng.derive(seed, INIT_STREAM). */
export const INIT_STREAM = 0x696e6974; // "init": keeps init independent of the trainer's draws

/** The weight [out, in] and bias [out] of an nn.Linear, both U(−1/√in, 1/√in) at init. */
export function linearSpecs(name: string, inF: number, outF: number): ParamSpec[] {
  const bound = 1 / Math.sqrt(inF); // nn.Linear.reset_parameters
  return [
    { name: `${name}.weight`, shape: [outF, inF], bound },
    { name: `${name}.bias`, shape: [outF], bound },
  ];
}

/**
 * The RAM's parameter tensors for a config, in PyTorch's order.
 *
 * @example
 * ```ts
 * import { paramSpecs } from "./params.ts";
 * import { DEFAULT_RAM } from "./config.ts";
 * const specs = paramSpecs(DEFAULT_RAM);
 * // specs[0] is { name: "fc1.weight", shape: [128, 64], bound: 0.125 }
 * ```
 */
export function paramSpecs(cfg: RamConfig): ParamSpec[] {
  const H = cfg.hidden;
  let core: ParamSpec[];
  if (cfg.core === "lstm") {
    const bound = 1 / Math.sqrt(H); // nn.LSTMCell.reset_parameters
    core = [
      { name: "lstm.weight_ih", shape: [4 * H, cfg.glimpseOut], bound },
      { name: "lstm.weight_hh", shape: [4 * H, H], bound },
      { name: "lstm.bias_ih", shape: [4 * H], bound },
      { name: "lstm.bias_hh", shape: [4 * H], bound },
    ];
  } else {
    core = [...linearSpecs("i2h", cfg.glimpseOut, H), ...linearSpecs("h2h", H, H)];
  }
  return [
    ...linearSpecs("fc1", retinaSize(cfg), cfg.glimpseHidden),
    ...linearSpecs("fc2", 2, cfg.locationHidden),
    ...linearSpecs("fc3", cfg.glimpseHidden, cfg.glimpseOut),
    ...linearSpecs("fc4", cfg.locationHidden, cfg.glimpseOut),
    ...core,
    ...linearSpecs("loc1", H, cfg.policyHidden),
    ...linearSpecs("loc2", cfg.policyHidden, 2),
    ...linearSpecs("base", H, 1),
    ...linearSpecs("cls", H, cfg.classes),
  ];
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Fresh parameters: every tensor U(−bound, bound) like PyTorch's default init, drawn in
 * {@link paramSpecs} order from Rng.derive(seed, INIT_STREAM). Same seed, same numbers.
 *
 * @example
 * ```ts
 * import { initParams } from "./params.ts";
 * import { DEFAULT_RAM } from "./config.ts";
 * const p = initParams(DEFAULT_RAM, 1);
 * // p.get("cls.weight").shape is [10, 256]
 * ```
 */
export function initParams(cfg: RamConfig, seed: number): ParamMap {
  return initFromSpecs(paramSpecs(cfg), Rng.derive(seed, INIT_STREAM));
}

/** Fresh tensors for `specs`, each U(−bound, bound), drawn in order from `rng`. */
export function initFromSpecs(specs: readonly ParamSpec[], rng: Rng): ParamMap {
  const out: ParamMap = new Map();
  for (const s of specs) {
    const data = new Float32Array(sizeOf(s.shape));
    rng.fillUniform(data, -s.bound, s.bound);
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/** Zero tensors with the names and shapes of a config's parameters (gradients, Adam moments). */
export function zeroParams(cfg: RamConfig): ParamMap {
  return zerosFromSpecs(paramSpecs(cfg));
}

/** Zero tensors with the names and shapes of `specs`. */
export function zerosFromSpecs(specs: readonly ParamSpec[]): ParamMap {
  const out: ParamMap = new Map();
  for (const s of specs) {
    out.set(s.name, { shape: [...s.shape], data: new Float32Array(sizeOf(s.shape)) });
  }
  return out;
}

/** A deep copy of a parameter map. */
export function cloneParams(p: ParamMap): ParamMap {
  const out: ParamMap = new Map();
  for (const [name, t] of p) out.set(name, { shape: [...t.shape], data: t.data.slice() });
  return out;
}

/**
 * Throws unless `p` holds exactly the config's tensors with the right shapes; `what` names the
 * map in the message (e.g. "checkpoint params").
 */
export function checkParams(cfg: RamConfig, p: ParamMap, what: string): void {
  checkAgainstSpecs(paramSpecs(cfg), p, what);
}

/**
 * Throws unless `state` holds the config's parameters and both Adam moments with the right
 * shapes and a non-negative integer step; `where` starts the message (e.g. "cpu backend setState").
 */
export function checkTrainState(cfg: RamConfig, state: TrainState, where: string): void {
  checkParams(cfg, state.params, `${where} params`);
  checkParams(cfg, state.adamM, `${where} adamM`);
  checkParams(cfg, state.adamV, `${where} adamV`);
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new Error(`${where}: step ${state.step} is not a non-negative integer`);
  }
}

/** Throws unless `p` holds exactly the tensors of `specs` with their shapes. */
export function checkAgainstSpecs(specs: readonly ParamSpec[], p: ParamMap, what: string): void {
  for (const s of specs) {
    const t = p.get(s.name);
    if (!t) throw new Error(`${what}: missing tensor "${s.name}" (shape [${s.shape}])`);
    const n = sizeOf(s.shape);
    if (t.shape.join(",") !== s.shape.join(",") || t.data.length !== n) {
      throw new Error(
        `${what}: tensor "${s.name}" has shape [${t.shape}] (${t.data.length} values), ` +
          `expected [${s.shape}]`,
      );
    }
  }
  if (p.size !== specs.length) {
    const known = new Set(specs.map((s) => s.name));
    const extra = [...p.keys()].filter((k) => !known.has(k));
    throw new Error(`${what}: unexpected tensors ${extra.map((e) => `"${e}"`).join(", ")}`);
  }
}

/**
 * Offsets of every parameter in one flat buffer, each a multiple of `align` floats
 * (default {@link PARAM_ALIGN}; must be a positive multiple of 4).
 *
 * @example
 * ```ts
 * import { flatLayout } from "./params.ts";
 * import { DEFAULT_RAM } from "./config.ts";
 * const layout = flatLayout(DEFAULT_RAM);
 * // layout.byName.get("fc1.bias").offset === 8192 (fc1.weight is 128·64 floats)
 * ```
 */
export function flatLayout(cfg: RamConfig, align = PARAM_ALIGN): FlatLayout {
  return layoutOfSpecs(paramSpecs(cfg), align, "flatLayout");
}

/** The flat layout of `specs` (see {@link flatLayout}); `who` names the caller in errors. */
export function layoutOfSpecs(
  specs: readonly ParamSpec[],
  align: number,
  who: string,
): FlatLayout {
  if (!Number.isInteger(align) || align <= 0 || align % 4 !== 0) {
    throw new Error(`${who}: align ${align} must be a positive multiple of 4`);
  }
  const entries: FlatEntry[] = [];
  let offset = 0;
  for (const s of specs) {
    const size = sizeOf(s.shape);
    entries.push({ ...s, offset, size });
    offset += Math.ceil(size / align) * align;
  }
  return { entries, byName: new Map(entries.map((e) => [e.name, e])), total: offset, align };
}

/** Packs a parameter map into one flat buffer laid out by `layout` (padding stays zero). */
export function flattenParams(p: ParamMap, layout: FlatLayout): Float32Array {
  const flat = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const t = p.get(e.name);
    if (!t || t.data.length !== e.size) {
      throw new Error(`flattenParams: tensor "${e.name}" is missing or not ${e.size} values`);
    }
    flat.set(t.data, e.offset);
  }
  return flat;
}

/**
 * A parameter map whose tensors are views into `flat` laid out by `layout` (no copies): writing
 * a tensor writes the flat buffer, so an element-wise update such as Adam can run once over the
 * whole buffer (the padding between tensors stays zero: a zero gradient leaves it zero).
 *
 * @example
 * ```ts
 * import { layoutOfSpecs, viewParams } from "./params.ts";
 * const layout = layoutOfSpecs([{ name: "w", shape: [2, 3], bound: 1 }], 4, "example");
 * const flat = new Float32Array(layout.total);
 * viewParams(flat, layout).get("w")!.data[0] = 1; // flat[0] === 1
 * ```
 */
export function viewParams(flat: Float32Array, layout: FlatLayout): ParamMap {
  if (flat.length < layout.total) {
    throw new Error(`viewParams: buffer has ${flat.length} floats, layout needs ${layout.total}`);
  }
  const out: ParamMap = new Map();
  for (const e of layout.entries) {
    out.set(e.name, { shape: [...e.shape], data: flat.subarray(e.offset, e.offset + e.size) });
  }
  return out;
}

/** Unpacks a flat buffer laid out by `layout` into a parameter map (copies). */
export function unflattenParams(flat: Float32Array, layout: FlatLayout): ParamMap {
  if (flat.length < layout.total) {
    throw new Error(
      `unflattenParams: buffer has ${flat.length} floats, layout needs ${layout.total}`,
    );
  }
  const out: ParamMap = new Map();
  for (const e of layout.entries) {
    out.set(e.name, { shape: [...e.shape], data: flat.slice(e.offset, e.offset + e.size) });
  }
  return out;
}
