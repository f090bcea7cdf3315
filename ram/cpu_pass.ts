/**
 * The RAM's forward over T glimpses and its backward through time, composed from the CPU
 * references in kernels/*_ref.ts on plain Float32Arrays. This is the reference model: the
 * `cpu` backend (ram/cpu.ts) runs it and the `webgpu` backend is held to it.
 *
 * Indices (shared DESIGN.md): glimpse t = 1..T is stored at index t−1; action a_t (after
 * glimpse t, t < T) at action index t−1; l_1 is given, l_{t+1} = clamp(a_t, −1, 1).
 *
 * Gradient routes, as the detaches of the design make them:
 * - NLL of the last glimpse → cls (last glimpse only) → core through time → glimpse net
 *   (fc1..fc4). No gradient into the image, the retina or the locations.
 * - REINFORCE → μ_t → loc2, loc1 only (the policy reads h_t detached; a_t is a constant).
 * - Baseline MSE → b_t → base only (reads h_t detached; inside the advantage b_t is a constant).
 *
 * @module
 */
import type { RamConfig } from "./config.ts";
import type { ParamMap } from "./backend.ts";
import { linearBackwardRef, linearForwardRef } from "../kernels/linear_ref.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import { activationBackwardRef } from "../kernels/activation_ref.ts";
import { retinaRef, retinaSize } from "../kernels/retina_ref.ts";
import { logSoftmaxRef, nllBackwardRef } from "../kernels/softmax_ref.ts";
import { baselineGradRef, gaussianLogProbRef, policyGradRef } from "../kernels/policy_ref.ts";
import { lstmCellBackwardRef, lstmCellRef } from "../kernels/lstm_ref.ts";

/** One nn.Linear: W (outF, inF), b (outF). */
export interface Dense {
  W: Float32Array; // (out, in)
  b: Float32Array; // (out)
  inF: number;
  outF: number;
}

/**
 * The network's tensors by role. The core is `ih` and `hh`: i2h/h2h for "rnn" (outF = H),
 * lstm.weight_ih/bias_ih and lstm.weight_hh/bias_hh for "lstm" (outF = 4H, gates i, f, g, o).
 */
export interface Net {
  fc1: Dense;
  fc2: Dense;
  fc3: Dense;
  fc4: Dense;
  ih: Dense;
  hh: Dense;
  loc1: Dense;
  loc2: Dense;
  base: Dense;
  cls: Dense;
}

function dense(p: ParamMap, w: string, b: string): Dense {
  const W = p.get(w), B = p.get(b);
  if (!W || !B) throw new Error(`ram_cpu: parameter "${W ? b : w}" is missing`);
  return { W: W.data, b: B.data, inF: W.shape[1], outF: W.shape[0] };
}

/** Views a parameter (or gradient) map, named as ram/params.ts names it, by role. */
export function bindNet(cfg: RamConfig, p: ParamMap): Net {
  const lin = (m: string) => dense(p, `${m}.weight`, `${m}.bias`);
  const lstm = cfg.core === "lstm";
  return {
    fc1: lin("fc1"),
    fc2: lin("fc2"),
    fc3: lin("fc3"),
    fc4: lin("fc4"),
    ih: lstm ? dense(p, "lstm.weight_ih", "lstm.bias_ih") : lin("i2h"),
    hh: lstm ? dense(p, "lstm.weight_hh", "lstm.bias_hh") : lin("h2h"),
    loc1: lin("loc1"),
    loc2: lin("loc2"),
    base: lin("base"),
    cls: lin("cls"),
  };
}

/** What the forward keeps of glimpse t (index t−1) for the backward and the outputs. */
export interface GlimpseStep {
  loc: Float32Array; // (B, 2) l_t
  rho: Float32Array; // (B, k·g²) retina output
  hg: Float32Array; // (B, glimpseHidden)
  hl: Float32Array; // (B, locationHidden)
  g: Float32Array; // (B, glimpseOut)
  h: Float32Array; // (B, H)
  /** LSTM only: activated gates (B, 4H) and cell state c_t (B, H). */
  gates?: Float32Array;
  c?: Float32Array;
  logp: Float32Array; // (B, C)
}

/** What the forward keeps of action a_t (index t−1, t < T). */
export interface ActionStep {
  p1: Float32Array; // (B, policyHidden) ReLU(loc1 h_t)
  mu: Float32Array; // (B, 2) policy mean
  a: Float32Array; // (B, 2) action, unclamped
  logpi: Float32Array; // (B) log π(a_t | μ_t)
  base: Float32Array; // (B) baseline b_t
}

/** A whole forward: T glimpse steps and T−1 action steps. */
export interface Trace {
  B: number;
  glimpses: GlimpseStep[];
  actions: ActionStep[];
}

/**
 * Chooses action a_i (action index i) from the policy mean μ_i: a = μ + σε in training,
 * a = μ for the mean policy, or fixed actions (finite-difference checks).
 */
export type ActionSource = (i: number, mu: Float32Array, a: Float32Array) => void;

/** y (B, outF) = act(x·Wᵀ + b) of one nn.Linear on the CPU reference (`acc`: y += instead). */
export function denseForward(
  L: Dense,
  B: number,
  x: Float32Array,
  y: Float32Array,
  act: Activation = "none",
  acc = false,
): void {
  linearForwardRef({ batch: B, inF: L.inF, outF: L.outF }, x, L.W, L.b, y, act, acc);
}

const fwd = denseForward;

/**
 * One glimpse of the RAM from given states: images (B, H, W) seen at `loc` (B, 2) after h_{t−1}
 * (B, H) and, for the LSTM core, c_{t−1} (B, H). Keeps every activation the backward needs.
 * forwardPass runs it T times; the EIG map runs it once from imagined images.
 */
export function glimpseStep(
  cfg: RamConfig,
  net: Net,
  B: number,
  images: Float32Array, // (B, H, W)
  loc: Float32Array, // (B, 2)
  hPrev: Float32Array, // (B, H)
  cPrev: Float32Array | null, // (B, H), lstm only
): GlimpseStep {
  const H = cfg.hidden;
  const rho = new Float32Array(B * retinaSize(cfg));
  retinaRef(cfg, B, images, loc, rho);
  const hg = new Float32Array(B * cfg.glimpseHidden);
  const hl = new Float32Array(B * cfg.locationHidden);
  const g = new Float32Array(B * cfg.glimpseOut);
  fwd(net.fc1, B, rho, hg, "relu");
  fwd(net.fc2, B, loc, hl, "relu");
  fwd(net.fc3, B, hg, g);
  fwd(net.fc4, B, hl, g, "relu", true);
  const h = new Float32Array(B * H);
  const step: GlimpseStep = { loc, rho, hg, hl, g, h, logp: new Float32Array(B * cfg.classes) };
  if (cfg.core === "lstm") {
    if (!cPrev) throw new Error("glimpseStep: the LSTM core needs the previous cell state");
    const z = new Float32Array(B * 4 * H);
    fwd(net.ih, B, g, z);
    fwd(net.hh, B, hPrev, z, "none", true);
    step.gates = new Float32Array(B * 4 * H);
    step.c = new Float32Array(B * H);
    lstmCellRef({ batch: B, hidden: H }, z, cPrev, step.gates, step.c, h);
  } else {
    fwd(net.ih, B, g, h);
    fwd(net.hh, B, hPrev, h, "relu", true); // the h2h bias enters even when h_0 = 0
  }
  const logits = new Float32Array(B * cfg.classes);
  fwd(net.cls, B, h, logits);
  logSoftmaxRef(B, cfg.classes, logits, step.logp);
  return step;
}

/**
 * Runs T glimpses on images (B, H, W) from first locations `start` (B, 2), keeping every
 * activation the backward needs. Policy and baseline run on each h_t for t < T.
 */
export function forwardPass(
  cfg: RamConfig,
  net: Net,
  B: number,
  images: Float32Array, // (B, H, W)
  start: Float32Array, // (B, 2)
  chooseAction: ActionSource,
): Trace {
  const T = cfg.glimpses, H = cfg.hidden, lstm = cfg.core === "lstm";
  const glimpses: GlimpseStep[] = [];
  const actions: ActionStep[] = [];
  let loc: Float32Array = start.slice(0, 2 * B);
  let hPrev: Float32Array = new Float32Array(B * H); // h_0 = 0
  let cPrev: Float32Array = new Float32Array(B * H); // c_0 = 0 (lstm)
  for (let i = 0; i < T; i++) {
    const step = glimpseStep(cfg, net, B, images, loc, hPrev, lstm ? cPrev : null);
    const h = step.h;
    if (step.c) cPrev = step.c;
    glimpses.push(step);
    if (i < T - 1) {
      const p1 = new Float32Array(B * cfg.policyHidden);
      const mu = new Float32Array(B * 2);
      const a = new Float32Array(B * 2);
      const logpi = new Float32Array(B);
      const base = new Float32Array(B);
      fwd(net.loc1, B, h, p1, "relu");
      fwd(net.loc2, B, p1, mu, "tanh");
      chooseAction(i, mu, a);
      gaussianLogProbRef(B, mu, a, cfg.sigma, logpi);
      fwd(net.base, B, h, base);
      actions.push({ p1, mu, a, logpi, base });
      loc = new Float32Array(B * 2);
      for (let j = 0; j < 2 * B; j++) loc[j] = Math.min(1, Math.max(-1, a[j]));
    }
    hPrev = h;
  }
  return { B, glimpses, actions };
}

/** Per-action arrays (T−1, B) of a trace: the log-probabilities and the baselines. */
export function actionArrays(trace: Trace): { logpi: Float32Array; baseline: Float32Array } {
  const { B, actions } = trace;
  const logpi = new Float32Array(actions.length * B);
  const baseline = new Float32Array(actions.length * B);
  actions.forEach((s, i) => {
    logpi.set(s.logpi, i * B);
    baseline.set(s.base, i * B);
  });
  return { logpi, baseline };
}

function bwd(
  L: Dense,
  G: Dense,
  B: number,
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array | null,
  accDx = false,
): void {
  linearBackwardRef({ batch: B, inF: L.inF, outF: L.outF }, x, L.W, dy, dx, G.W, G.b, accDx);
}

/**
 * Accumulates into `grads` (zeroed by the caller) the gradient of
 *   NLL(log p_T) + mean_{t,b}(b_t − G_{t+1})² + λ·mean_b Σ_t −log π(a_t)·(G_{t+1} − b_t)
 * with `returns` (T−1, B) constants. Returns dμ (T−1, B, 2), the REINFORCE gradient reaching
 * each policy mean (what credit assignment is about).
 */
export function backwardPass(
  cfg: RamConfig,
  net: Net,
  grads: Net,
  trace: Trace,
  labels: Int32Array, // (B)
  returns: Float32Array, // (T−1, B)
  lambda: number,
): Float32Array {
  const { B, glimpses, actions } = trace;
  const T = cfg.glimpses, H = cfg.hidden, C = cfg.classes, lstm = cfg.core === "lstm";
  // NLL: only the last glimpse's classifier is in the loss.
  const last = glimpses[T - 1];
  const dlogits = new Float32Array(B * C);
  nllBackwardRef(B, C, last.logp, labels, dlogits);
  let dh = new Float32Array(B * H);
  bwd(net.cls, grads.cls, B, last.h, dlogits, dh);
  // Back through time: core, then the glimpse net (no gradient into ρ or l).
  const zeros = new Float32Array(B * H);
  const dz = new Float32Array(B * (lstm ? 4 * H : H));
  let dc: Float32Array | null = null; // dL/dc_t from step t+1 (lstm)
  const dg = new Float32Array(B * cfg.glimpseOut);
  const dhg = new Float32Array(B * cfg.glimpseHidden);
  const dhl = new Float32Array(B * cfg.locationHidden);
  for (let i = T - 1; i >= 0; i--) {
    const s = glimpses[i];
    const hPrev = i > 0 ? glimpses[i - 1].h : zeros;
    if (lstm) {
      const cPrev = i > 0 ? glimpses[i - 1].c! : zeros;
      const dcPrev = new Float32Array(B * H);
      lstmCellBackwardRef({ batch: B, hidden: H }, s.gates!, cPrev, s.c!, dh, dc, dz, dcPrev);
      dc = dcPrev;
    } else {
      activationBackwardRef("relu", s.h, dh, dz);
    }
    const dhPrev = new Float32Array(B * H);
    bwd(net.ih, grads.ih, B, s.g, dz, dg);
    bwd(net.hh, grads.hh, B, hPrev, dz, dhPrev);
    activationBackwardRef("relu", s.g, dg, dg);
    bwd(net.fc3, grads.fc3, B, s.hg, dg, dhg);
    bwd(net.fc4, grads.fc4, B, s.hl, dg, dhl);
    activationBackwardRef("relu", s.hg, dhg, dhg);
    activationBackwardRef("relu", s.hl, dhl, dhl);
    bwd(net.fc1, grads.fc1, B, s.rho, dhg, null);
    bwd(net.fc2, grads.fc2, B, s.loc, dhl, null);
    dh = dhPrev;
  }
  // Policy (REINFORCE) into loc1/loc2 and baseline MSE into base, per action step.
  const dmuAll = new Float32Array(actions.length * B * 2);
  const adv = new Float32Array(B);
  const dmu = new Float32Array(B * 2);
  const dp1 = new Float32Array(B * cfg.policyHidden);
  const dbase = new Float32Array(B);
  actions.forEach((s, i) => {
    const G = returns.subarray(i * B, (i + 1) * B);
    for (let b = 0; b < B; b++) adv[b] = G[b] - s.base[b];
    policyGradRef(B, s.mu, s.a, adv, cfg.sigma, lambda, dmu);
    dmuAll.set(dmu, i * B * 2);
    activationBackwardRef("tanh", s.mu, dmu, dmu);
    bwd(net.loc2, grads.loc2, B, s.p1, dmu, dp1);
    activationBackwardRef("relu", s.p1, dp1, dp1);
    bwd(net.loc1, grads.loc1, B, glimpses[i].h, dp1, null);
    baselineGradRef(B, actions.length, s.base, G, dbase);
    bwd(net.base, grads.base, B, glimpses[i].h, dbase, null);
  });
  return dmuAll;
}
