/**
 * The fast CPU backend's parameter layout: every tensor of ram/params.ts in one flat
 * Float32Array (parameters, gradients and both Adam moments alike), ordered so that the three
 * heads reading h_t — loc1, base, cls — sit next to each other, weights after weights and biases
 * after biases, with no padding. Then [W_loc1; W_base; W_cls] is one (P + 1 + C, H) matrix and
 * its biases one vector, and a single GEMM computes all three heads (ram/blas_pass.ts). Adam is
 * one loop over the flat buffer.
 *
 * Checkpoints do not see this: the backend converts to and from ram/params.ts's ParamMap.
 *
 * @module
 */
import { type GroupLrs, paramGroup, type RamConfig } from "./config.ts";
import { adamFast } from "../kernels/adam_ref.ts";
import type { SimdHeap } from "../util/simd.ts";
import type { ParamMap } from "./backend.ts";
import { type ParamSpec, paramSpecs } from "./params.ts";

/** One nn.Linear as views of a flat buffer: W (outF, inF), b (outF). */
export interface Lin {
  W: Float32Array;
  b: Float32Array;
}

/** The network by role, views of one flat buffer, plus summed biases the forward needs. */
export interface BlasNet {
  fc1: Lin;
  fc2: Lin;
  fc3: Lin;
  fc4: Lin;
  /** Core: i2h or lstm ih (ZH = H or 4H rows). */
  ih: Lin;
  hh: Lin;
  loc2: Lin;
  cls: Lin;
  /** loc1, base, cls stacked: W (P + 1 + C, H), b (P + 1 + C). */
  heads: Lin;
  /** fc3.bias + fc4.bias and the core's two biases summed (refreshed by {@link sumBiases}). */
  b34: Float32Array;
  bCore: Float32Array;
}

/** Offsets of every tensor in the flat buffer. */
export interface BlasLayout {
  specs: ParamSpec[];
  offset: Map<string, number>;
  total: number;
}

function coreNames(cfg: RamConfig): [string, string, string, string] {
  return cfg.core === "lstm"
    ? ["lstm.weight_ih", "lstm.bias_ih", "lstm.weight_hh", "lstm.bias_hh"]
    : ["i2h.weight", "i2h.bias", "h2h.weight", "h2h.bias"];
}

/** The layout: ram/params.ts's tensors, the heads' weights then their biases contiguous. */
export function blasLayout(cfg: RamConfig): BlasLayout {
  const specs = paramSpecs(cfg);
  const heads = ["loc1.weight", "base.weight", "cls.weight", "loc1.bias", "base.bias", "cls.bias"];
  const rest = specs.filter((s) => !heads.includes(s.name));
  const ordered = [...rest, ...heads.map((n) => specs.find((s) => s.name === n)!)];
  const offset = new Map<string, number>();
  let total = 0;
  for (const s of ordered) {
    offset.set(s.name, total);
    total += s.shape.reduce((a, b) => a * b, 1);
  }
  return { specs, offset, total };
}

/** A view of the tensor `name` in `flat`. */
function view(layout: BlasLayout, flat: Float32Array, name: string): Float32Array {
  const spec = layout.specs.find((s) => s.name === name)!;
  const o = layout.offset.get(name)!;
  return flat.subarray(o, o + spec.shape.reduce((a, b) => a * b, 1));
}

/** Views of `flat` by role. */
export function bindBlasNet(cfg: RamConfig, layout: BlasLayout, flat: Float32Array): BlasNet {
  const v = (name: string) => view(layout, flat, name);
  const lin = (m: string): Lin => ({ W: v(`${m}.weight`), b: v(`${m}.bias`) });
  const [wih, bih, whh, bhh] = coreNames(cfg);
  const H = cfg.hidden, NH = cfg.policyHidden + 1 + cfg.classes;
  const w0 = layout.offset.get("loc1.weight")!, b0 = layout.offset.get("loc1.bias")!;
  const ZH = cfg.core === "lstm" ? 4 * H : H;
  return {
    fc1: lin("fc1"),
    fc2: lin("fc2"),
    fc3: lin("fc3"),
    fc4: lin("fc4"),
    ih: { W: v(wih), b: v(bih) },
    hh: { W: v(whh), b: v(bhh) },
    loc2: lin("loc2"),
    cls: lin("cls"),
    heads: { W: flat.subarray(w0, w0 + NH * H), b: flat.subarray(b0, b0 + NH) },
    b34: new Float32Array(cfg.glimpseOut),
    bCore: new Float32Array(ZH),
  };
}

/** Refreshes net.b34 and net.bCore from the live biases (after every update). */
export function sumBiases(net: BlasNet): void {
  for (let j = 0; j < net.b34.length; j++) net.b34[j] = net.fc3.b[j] + net.fc4.b[j];
  for (let j = 0; j < net.bCore.length; j++) net.bCore[j] = net.ih.b[j] + net.hh.b[j];
}

/** Copies a ParamMap (names and shapes already checked) into `flat`. */
export function packParams(layout: BlasLayout, p: ParamMap, flat: Float32Array): void {
  for (const s of layout.specs) flat.set(p.get(s.name)!.data, layout.offset.get(s.name)!);
}

/** A ParamMap copied out of `flat`. */
export function unpackParams(layout: BlasLayout, flat: Float32Array): ParamMap {
  const out: ParamMap = new Map();
  for (const s of layout.specs) {
    out.set(s.name, { shape: [...s.shape], data: view(layout, flat, s.name).slice() });
  }
  return out;
}

/**
 * Adam (PyTorch defaults, step `t` ≥ 1) on [from, to) of the flat buffers, each tensor at its
 * group's learning rate (config.ts groupLrs), by kernels/adam_ref.ts adamFast: on `heap`'s
 * f32x4 loop when it holds every array, else adamHoisted. The gradient is `grads[0]`, or with
 * more arrays their sum in order, rounded to float32 as a gradient buffer would be (the lanes'
 * shares of ram/blas_lanes.ts), so a range split over threads updates each value once. On the
 * heap that sum is taken in place, in grads[0]'s range (the next backward overwrites it).
 */
export function adamRange(
  layout: BlasLayout,
  lrs: GroupLrs,
  t: number,
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grads: readonly Float32Array[],
  heap: SimdHeap | null = null,
  from = 0,
  to = layout.total,
): void {
  let g = grads[0];
  if (heap && !heap.owns(p, m, v, ...grads)) heap = null;
  if (heap && grads.length > 1) {
    for (let k = 1; k < grads.length; k++) {
      heap.add(g.subarray(from, to), grads[k].subarray(from, to));
    }
  } else if (grads.length > 1) {
    g = sumScratch(layout.total);
    for (let i = from; i < to; i++) g[i] = grads[0][i] + grads[1][i];
    for (let k = 2; k < grads.length; k++) {
      const gk = grads[k];
      for (let i = from; i < to; i++) g[i] += gk[i];
    }
  }
  for (const spec of layout.specs) {
    const start = layout.offset.get(spec.name)!;
    const lo = Math.max(from, start);
    const hi = Math.min(to, start + spec.shape.reduce((a, b) => a * b, 1));
    if (lo >= hi) continue;
    const at = (a: Float32Array) => a.subarray(lo, hi);
    adamFast(heap, at(p), at(g), at(m), at(v), t, { lr: lrs[paramGroup(spec.name)] });
  }
}

let scratch = new Float32Array(0);
/** A float32 buffer of at least n values, this thread's own, reused across calls. */
function sumScratch(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}
