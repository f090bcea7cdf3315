/**
 * The RAM's forward and backward through time with every product on the machine's BLAS
 * (util/blas.ts), for the fast CPU backend (ram/blas_cpu.ts). Same maths as the reference
 * (ram/cpu_pass.ts), which the tests hold it to; what differs is how the work is laid out:
 *
 * - Activations live time-major in one workspace, (T, B, F) per tensor, allocated once for the
 *   largest batch and reused every step: no allocation per step.
 * - Biases are written into the output rows first and the product accumulates onto them
 *   (β = 1), so a linear layer is one GEMM plus, where there is one, a ReLU in place.
 * - The heads that read h_t (loc1, base, cls) are one weight matrix: the backend lays their
 *   weights and biases out next to each other (ram/blas_layout.ts), so one GEMM gives
 *   [ReLU input of the policy | baseline | logits], (B, P + 1 + C).
 * - Only the recurrence is sequential in the backward: dh_{t−1} = dz_t·W_hh. Everything else
 *   (the glimpse net's input gradients, every weight gradient, the policy and baseline) is one
 *   GEMM over all T·B rows after the time loop, as the WebGPU backward does. Weight gradients
 *   are written (β = 0), never accumulated, so nothing is zeroed between steps.
 * - h_0 = 0: the first glimpse skips W_hh·h_0, and the backward skips dh_0 and its weight
 *   gradient, which are exactly zero or unused.
 *
 * @module
 */
import type { RamConfig } from "./config.ts";
import type { Sgemm } from "../util/blas.ts";
import { patchOrigin, retinaRef, retinaSize } from "../kernels/retina_ref.ts";
import { lstmCellBackwardRef, lstmCellRef } from "../kernels/lstm_ref.ts";
import { nllBackwardRef } from "../kernels/softmax_ref.ts";
import { reluBackwardFast, reluFast, reluRowsFast } from "../kernels/activation_ref.ts";
import { SimdHeap } from "../util/simd.ts";
import type { BlasNet } from "./blas_layout.ts";

/** How the forward picks action a_i from μ_i: see ram/cpu_pass.ts ActionSource. */
export type ActionFill = (i: number, mu: Float32Array, a: Float32Array) => void;

/** a_i = μ_i + σ·ε_i for a batch of B, ε (T−1, B, 2) time-major. */
export function noiseFill(B: number, sigma: number, eps: Float32Array): ActionFill {
  return (i, mu, a) => {
    for (let j = 0; j < 2 * B; j++) a[j] = mu[j] + sigma * eps[i * B * 2 + j];
  };
}

/** a_i = the given actions' slice i, (T−1, B, 2) time-major. */
export function givenFill(B: number, given: Float32Array): ActionFill {
  return (i, _mu, a) => a.set(given.subarray(i * B * 2, (i + 1) * B * 2));
}

/** Every activation of a step, (T, B, F) time-major, sized for `capacity` samples. */
export class Workspace {
  readonly capacity: number;
  readonly loc: Float32Array; // (T, B, 2) l_t
  readonly rho: Float32Array; // (T, B, R)
  readonly hg: Float32Array; // (T, B, GH)
  readonly hl: Float32Array; // (T, B, LH)
  readonly g: Float32Array; // (T, B, GO)
  readonly h: Float32Array; // (T, B, H)
  readonly z: Float32Array; // (B, 4H) lstm pre-activations (scratch)
  readonly gates: Float32Array; // (T, B, 4H) lstm
  readonly c: Float32Array; // (T, B, H) lstm
  readonly heads: Float32Array; // (T, B, P + 1 + C): [ReLU(loc1 h) | base h | cls h]
  readonly logp: Float32Array; // (T, B, C)
  readonly mu: Float32Array; // (T−1, B, 2)
  readonly a: Float32Array; // (T−1, B, 2) unclamped actions
  readonly logpi: Float32Array; // (T−1, B)
  readonly base: Float32Array; // (T−1, B)
  // backward
  readonly dZ: Float32Array; // (T, B, ZH) core pre-activation gradients
  readonly dh: Float32Array; // (2, B, H) ping-pong dL/dh_t
  readonly dc: Float32Array; // (2, B, H) ping-pong dL/dc_t (lstm)
  readonly dG: Float32Array; // (T, B, GO)
  readonly dHG: Float32Array; // (T, B, GH)
  readonly dHL: Float32Array; // (T, B, LH)
  readonly dlogits: Float32Array; // (B, C)
  readonly dmu: Float32Array; // (T−1, B, 2) REINFORCE gradient at μ (before tanh)
  readonly dmuPre: Float32Array; // (T−1, B, 2) at loc2's output
  readonly dHead: Float32Array; // (T−1, B, P + 1): [d loc1 pre-ReLU | d base]
  readonly zeros: Float32Array; // (B, H)
  readonly ones: Float32Array; // (T·B) column sums as a product: 1ᵀ·X
  /**
   * The WebAssembly memory every array lives in, when they do ({@link Workspace.inHeap}): the
   * ReLUs and their backward then run as util/simd.ts's f32x4 loops, in the same bits.
   */
  simd: SimdHeap | null = null;

  /**
   * @param alloc where the arrays live: plain memory by default; ram/blas_lanes.ts passes
   * SharedArrayBuffer-backed ones so that a lane's Worker and the host see the same numbers.
   */
  constructor(
    cfg: RamConfig,
    capacity: number,
    alloc: (n: number) => Float32Array = (n) => new Float32Array(n),
  ) {
    const T = cfg.glimpses, B = capacity, H = cfg.hidden, A = Math.max(0, T - 1);
    const ZH = cfg.core === "lstm" ? 4 * H : H, lstm = cfg.core === "lstm";
    const NH = cfg.policyHidden + 1 + cfg.classes;
    const f = alloc;
    this.capacity = B;
    this.loc = f(T * B * 2);
    this.rho = f(T * B * retinaSize(cfg));
    this.hg = f(T * B * cfg.glimpseHidden);
    this.hl = f(T * B * cfg.locationHidden);
    this.g = f(T * B * cfg.glimpseOut);
    this.h = f(T * B * H);
    this.z = f(lstm ? B * 4 * H : 0);
    this.gates = f(lstm ? T * B * 4 * H : 0);
    this.c = f(lstm ? T * B * H : 0);
    this.heads = f(T * B * NH);
    this.logp = f(T * B * cfg.classes);
    this.mu = f(A * B * 2);
    this.a = f(A * B * 2);
    this.logpi = f(A * B);
    this.base = f(A * B);
    this.dZ = f(T * B * ZH);
    this.dh = f(2 * B * H);
    this.dc = f(lstm ? 2 * B * H : 0);
    this.dG = f(T * B * cfg.glimpseOut);
    this.dHG = f(T * B * cfg.glimpseHidden);
    this.dHL = f(T * B * cfg.locationHidden);
    this.dlogits = f(B * cfg.classes);
    this.dmu = f(A * B * 2);
    this.dmuPre = f(A * B * 2);
    this.dHead = f(A * B * (cfg.policyHidden + 1));
    this.zeros = f(B * H);
    this.ones = f(T * B).fill(1);
  }

  /**
   * A workspace whose arrays all live in one {@link SimdHeap} (`shared`: a shared memory, for a
   * lane's Worker), or null where WebAssembly SIMD (or shared memory) is missing.
   */
  static inHeap(cfg: RamConfig, capacity: number, shared = false): Workspace | null {
    const fitted = SimdHeap.fitted((alloc) => new Workspace(cfg, capacity, alloc), { shared });
    if (!fitted) return null;
    fitted.built.simd = fitted.heap;
    return fitted.built;
  }
}

/** ReLU in place on n values of x from off: the heap's f32x4 loop or reluFast (same bits). */
function relu(ws: Workspace, x: Float32Array, off: number, n: number): void {
  if (ws.simd) ws.simd.relu(x.subarray(off, off + n));
  else reluFast(x, off, n);
}

/** dx = dy ⊙ (y > 0) over n values, y read from yOff: as reluBackwardFast (same bits). */
function reluBack(
  ws: Workspace,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  n: number,
  yOff = 0,
): void {
  if (ws.simd) {
    ws.simd.reluBackward(y.subarray(yOff, yOff + n), dy.subarray(0, n), dx.subarray(0, n));
  } else {
    reluBackwardFast(y, dy, dx, n, yOff);
  }
}

/** Writes `bias` (n) into `rows` rows of `dst` from `off` with row stride `ld`. */
function fillRows(
  dst: Float32Array,
  off: number,
  rows: number,
  ld: number,
  bias: Float32Array,
): void {
  const n = bias.length;
  for (let r = 0; r < rows; r++) dst.set(bias, off + r * ld);
  if (ld < n) throw new Error(`fillRows: row stride ${ld} < ${n}`);
}

/**
 * kernels/retina_ref.ts retinaRef, the same numbers, faster where most glimpses fall: with one
 * scale, a patch lying wholly inside the image is copied row by row without a bounds check a
 * pixel; a patch over an edge, and every patch of a multi-scale retina, goes through the
 * reference.
 */
function retinaRows(
  cfg: RamConfig,
  B: number,
  images: Float32Array,
  loc: Float32Array,
  out: Float32Array,
): void {
  const { height: H, width: W, patch: g } = cfg, per = retinaSize(cfg), HW = H * W;
  if (cfg.scales > 1) {
    retinaRef(cfg, B, images, loc, out);
    return;
  }
  for (let b = 0; b < B; b++) {
    const [x0, y0] = patchOrigin(cfg, loc[2 * b], loc[2 * b + 1], 0);
    if (x0 < 0 || y0 < 0 || x0 + g > W || y0 + g > H) {
      const one = (a: Float32Array, n: number) => a.subarray(b * n, (b + 1) * n);
      retinaRef(cfg, 1, one(images, HW), one(loc, 2), one(out, per));
      continue;
    }
    let o = b * per;
    for (let py = 0; py < g; py++) {
      const row = b * HW + (y0 + py) * W + x0;
      for (let px = 0; px < g; px++) out[o++] = images[row + px];
    }
  }
}

/** out (n) = Σ over rows of x (rows, ld), first n columns, from column `col`. */
function colsum(
  x: Float32Array,
  rows: number,
  ld: number,
  col: number,
  n: number,
  out: Float32Array,
): void {
  out.fill(0, 0, n);
  for (let r = 0; r < rows; r++) {
    const o = r * ld + col;
    for (let j = 0; j < n; j++) out[j] += x[o + j];
  }
}

/** out (n) = column sums of x (rows, ld) from column `col`, as the product 1ᵀ·x on the BLAS. */
function colsumGemm(
  gemm: Sgemm,
  ones: Float32Array,
  x: Float32Array,
  rows: number,
  ld: number,
  col: number,
  n: number,
  out: Float32Array,
): void {
  gemm(false, false, 1, n, rows, 1, ones, rows, col ? x.subarray(col) : x, ld, 0, out, n);
}

/**
 * The forward over T glimpses of `B` ≤ capacity images (B, H, W) from `start` (B, 2); fills the
 * workspace. Policy and baseline run on h_t for t < T; the classifier on every h_t.
 */
export function blasForward(
  gemm: Sgemm,
  cfg: RamConfig,
  net: BlasNet,
  ws: Workspace,
  B: number,
  images: Float32Array,
  start: Float32Array,
  chooseAction: ActionFill,
): void {
  const T = cfg.glimpses, H = cfg.hidden, R = retinaSize(cfg), C = cfg.classes;
  const GH = cfg.glimpseHidden, LH = cfg.locationHidden, GO = cfg.glimpseOut;
  const P = cfg.policyHidden, NH = P + 1 + C, lstm = cfg.core === "lstm", ZH = lstm ? 4 * H : H;
  const { fc1, fc2, fc3, fc4, ih, hh, heads, loc2 } = net;
  ws.loc.set(start.subarray(0, 2 * B));
  for (let t = 0; t < T; t++) {
    const locT = ws.loc.subarray(t * B * 2, (t + 1) * B * 2);
    const rho = ws.rho.subarray(t * B * R, (t + 1) * B * R);
    retinaRows(cfg, B, images, locT, rho);
    // hl = ReLU(fc2 l): K = 2, a loop beats a call; the ReLU after it, without a branch.
    const hl = ws.hl.subarray(t * B * LH, (t + 1) * B * LH);
    for (let b = 0; b < B; b++) {
      const lx = locT[2 * b], ly = locT[2 * b + 1];
      for (let j = 0; j < LH; j++) {
        hl[b * LH + j] = fc2.W[2 * j] * lx + fc2.W[2 * j + 1] * ly + fc2.b[j];
      }
    }
    relu(ws, hl, 0, B * LH);
    const hg = ws.hg.subarray(t * B * GH, (t + 1) * B * GH);
    fillRows(hg, 0, B, GH, fc1.b);
    gemm(false, true, B, GH, R, 1, rho, R, fc1.W, R, 1, hg, GH);
    relu(ws, hg, 0, B * GH);
    const g = ws.g.subarray(t * B * GO, (t + 1) * B * GO);
    fillRows(g, 0, B, GO, net.b34);
    gemm(false, true, B, GO, GH, 1, hg, GH, fc3.W, GH, 1, g, GO);
    gemm(false, true, B, GO, LH, 1, hl, LH, fc4.W, LH, 1, g, GO);
    relu(ws, g, 0, B * GO);
    const h = ws.h.subarray(t * B * H, (t + 1) * B * H);
    const z = lstm ? ws.z : h;
    fillRows(z, 0, B, ZH, net.bCore);
    gemm(false, true, B, ZH, GO, 1, g, GO, ih.W, GO, 1, z, ZH);
    if (t > 0) gemm(false, true, B, ZH, H, 1, ws.h.subarray((t - 1) * B * H), H, hh.W, H, 1, z, ZH);
    if (lstm) {
      const cPrev = t > 0 ? ws.c.subarray((t - 1) * B * H, t * B * H) : ws.zeros;
      lstmCellRef(
        { batch: B, hidden: H },
        z,
        cPrev,
        ws.gates.subarray(t * B * 4 * H, (t + 1) * B * 4 * H),
        ws.c.subarray(t * B * H, (t + 1) * B * H),
        h,
      );
    } else {
      relu(ws, h, 0, B * H);
    }
    const hd = ws.heads.subarray(t * B * NH, (t + 1) * B * NH);
    if (t < T - 1) {
      fillRows(hd, 0, B, NH, heads.b);
      gemm(false, true, B, NH, H, 1, h, H, heads.W, H, 1, hd, NH);
      reluRowsFast(hd, B, NH, P);
      const mu = ws.mu.subarray(t * B * 2, (t + 1) * B * 2);
      fillRows(mu, 0, B, 2, loc2.b);
      gemm(false, true, B, 2, P, 1, hd, NH, loc2.W, P, 1, mu, 2);
      for (let i = 0; i < 2 * B; i++) mu[i] = Math.tanh(mu[i]);
      const a = ws.a.subarray(t * B * 2, (t + 1) * B * 2);
      chooseAction(t, mu, a);
      const logpi = ws.logpi.subarray(t * B, (t + 1) * B);
      const k = -Math.log(cfg.sigma) - 0.5 * Math.log(2 * Math.PI), s2 = cfg.sigma;
      const next = ws.loc.subarray((t + 1) * B * 2, (t + 2) * B * 2);
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let d = 0; d < 2; d++) {
          const zz = (a[2 * b + d] - mu[2 * b + d]) / s2;
          s += -0.5 * zz * zz + k;
          next[2 * b + d] = Math.min(1, Math.max(-1, a[2 * b + d]));
        }
        logpi[b] = s;
        ws.base[t * B + b] = hd[b * NH + P];
      }
    } else {
      // Last glimpse: only the classifier (cls rows are the last C rows of the heads).
      fillRows(hd, P + 1, B, NH, net.cls.b);
      gemm(false, true, B, C, H, 1, h, H, net.cls.W, H, 1, hd.subarray(P + 1), NH);
    }
    logSoftmaxRows(hd, B, NH, P + 1, C, ws.logp.subarray(t * B * C, (t + 1) * B * C));
  }
}

function logSoftmaxRows(
  x: Float32Array,
  B: number,
  ld: number,
  col: number,
  C: number,
  out: Float32Array,
): void {
  for (let b = 0; b < B; b++) {
    const o = b * ld + col;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, x[o + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[o + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) out[b * C + c] = x[o + c] - lse;
  }
}

/**
 * Writes into `grads` (every tensor, no accumulation) the gradient of
 *   NLL(log p_T) + mean_{t,b}(b_t − G_{t+1})² + λ·mean_b Σ_t −log π(a_t)·(G_{t+1} − b_t)
 * after {@link blasForward} filled `ws`, with `returns` (T−1, B) constants. Leaves dμ
 * (T−1, B, 2), the REINFORCE gradient at each policy mean, in ws.dmu.
 *
 * `total` (default B) is the batch the means run over: a lane of ram/blas_lanes.ts holds B of
 * `total` rows, and the lanes' gradients then add up to the whole batch's.
 */
export function blasBackward(
  gemm: Sgemm,
  cfg: RamConfig,
  net: BlasNet,
  grads: BlasNet,
  ws: Workspace,
  B: number,
  labels: Int32Array,
  returns: Float32Array,
  lambda: number,
  total = B,
): void {
  const T = cfg.glimpses, H = cfg.hidden, R = retinaSize(cfg), C = cfg.classes;
  const GH = cfg.glimpseHidden, LH = cfg.locationHidden, GO = cfg.glimpseOut;
  const P = cfg.policyHidden, NH = P + 1 + C, lstm = cfg.core === "lstm", ZH = lstm ? 4 * H : H;
  const TB = T * B, A = T - 1, AB = A * B;
  // NLL at the last glimpse → cls and dh_T.
  const last = ws.logp.subarray((T - 1) * B * C, T * B * C);
  const hLast = ws.h.subarray((T - 1) * B * H, T * B * H);
  nllBackwardRef(B, C, last, labels, ws.dlogits, total === B ? 1 : B / total);
  gemm(true, false, C, H, B, 1, ws.dlogits, C, hLast, H, 0, grads.cls.W, H);
  colsum(ws.dlogits, B, C, 0, C, grads.cls.b);
  let dh = ws.dh.subarray(0, B * H), dhNext = ws.dh.subarray(B * H, 2 * B * H);
  gemm(false, false, B, H, C, 1, ws.dlogits, C, net.cls.W, H, 0, dh, H);
  // Through time: only the recurrence.
  let dc: Float32Array | null = null;
  for (let t = T - 1; t >= 0; t--) {
    const dz = ws.dZ.subarray(t * B * ZH, (t + 1) * B * ZH);
    if (lstm) {
      const dcPrev = ws.dc.subarray((t % 2) * B * H, (t % 2 + 1) * B * H);
      const cPrev = t > 0 ? ws.c.subarray((t - 1) * B * H, t * B * H) : ws.zeros;
      lstmCellBackwardRef(
        { batch: B, hidden: H },
        ws.gates.subarray(t * B * 4 * H, (t + 1) * B * 4 * H),
        cPrev,
        ws.c.subarray(t * B * H, (t + 1) * B * H),
        dh,
        dc,
        dz,
        dcPrev,
      );
      dc = dcPrev;
    } else {
      dz.set(dh.subarray(0, B * H));
      reluBack(ws, ws.h, dz, dz, B * H, t * B * H);
    }
    if (t > 0) {
      gemm(false, false, B, H, ZH, 1, dz, ZH, net.hh.W, H, 0, dhNext, H);
      [dh, dhNext] = [dhNext, dh];
    }
  }
  // Core weights over all T·B rows (h_0 = 0 adds nothing to W_hh).
  const dZ = ws.dZ.subarray(0, TB * ZH);
  gemm(true, false, ZH, GO, TB, 1, dZ, ZH, ws.g, GO, 0, grads.ih.W, GO);
  if (T > 1) {
    gemm(true, false, ZH, H, (T - 1) * B, 1, ws.dZ.subarray(B * ZH), ZH, ws.h, H, 0, grads.hh.W, H);
  } else {
    grads.hh.W.fill(0);
  }
  colsumGemm(gemm, ws.ones, dZ, TB, ZH, 0, ZH, grads.ih.b);
  grads.hh.b.set(grads.ih.b);
  // Glimpse net over all T·B rows; no gradient into ρ or l.
  const dG = ws.dG.subarray(0, TB * GO);
  gemm(false, false, TB, GO, ZH, 1, dZ, ZH, net.ih.W, GO, 0, dG, GO);
  reluBack(ws, ws.g, dG, dG, TB * GO);
  const dHG = ws.dHG.subarray(0, TB * GH), dHL = ws.dHL.subarray(0, TB * LH);
  gemm(true, false, GO, GH, TB, 1, dG, GO, ws.hg, GH, 0, grads.fc3.W, GH);
  gemm(true, false, GO, LH, TB, 1, dG, GO, ws.hl, LH, 0, grads.fc4.W, LH);
  colsumGemm(gemm, ws.ones, dG, TB, GO, 0, GO, grads.fc3.b);
  grads.fc4.b.set(grads.fc3.b);
  gemm(false, false, TB, GH, GO, 1, dG, GO, net.fc3.W, GH, 0, dHG, GH);
  gemm(false, false, TB, LH, GO, 1, dG, GO, net.fc4.W, LH, 0, dHL, LH);
  reluBack(ws, ws.hg, dHG, dHG, TB * GH);
  reluBack(ws, ws.hl, dHL, dHL, TB * LH);
  gemm(true, false, GH, R, TB, 1, dHG, GH, ws.rho, R, 0, grads.fc1.W, R);
  colsumGemm(gemm, ws.ones, dHG, TB, GH, 0, GH, grads.fc1.b);
  gemm(true, false, LH, 2, TB, 1, dHL, LH, ws.loc, 2, 0, grads.fc2.W, 2);
  colsumGemm(gemm, ws.ones, dHL, TB, LH, 0, LH, grads.fc2.b);
  // Policy (REINFORCE) and baseline over all (T−1)·B action rows; they read h detached.
  if (A === 0) {
    grads.heads.W.fill(0, 0, (P + 1) * H);
    grads.heads.b.fill(0, 0, P + 1);
    grads.loc2.W.fill(0);
    grads.loc2.b.fill(0);
    return;
  }
  const kPolicy = -lambda / (total * cfg.sigma * cfg.sigma), kBase = 2 / (total * A);
  const dHead = ws.dHead.subarray(0, AB * (P + 1));
  for (let r = 0; r < AB; r++) {
    const base = ws.base[r], adv = returns[r] - base;
    for (let d = 0; d < 2; d++) {
      const i = 2 * r + d, mu = ws.mu[i];
      const g = kPolicy * adv * (ws.a[i] - mu);
      ws.dmu[i] = g;
      ws.dmuPre[i] = g * (1 - mu * mu);
    }
    dHead[r * (P + 1) + P] = kBase * (base - returns[r]);
  }
  const dmuPre = ws.dmuPre.subarray(0, AB * 2);
  gemm(true, false, 2, P, AB, 1, dmuPre, 2, ws.heads, NH, 0, grads.loc2.W, P);
  colsum(dmuPre, AB, 2, 0, 2, grads.loc2.b);
  // d(loc1 pre-ReLU) = dμ_pre·W_loc2 ⊙ (p1 > 0): K = 2, a loop; the mask on the bits, as
  // kernels/activation_ref.ts reluBackwardFast (p1 is a ReLU output: +0 or positive).
  const W6 = net.loc2.W;
  const headBits = new Int32Array(ws.heads.buffer, ws.heads.byteOffset, ws.heads.length);
  const dHeadBits = new Int32Array(dHead.buffer, dHead.byteOffset, dHead.length);
  for (let r = 0; r < AB; r++) {
    const d0 = dmuPre[2 * r], d1 = dmuPre[2 * r + 1], o = r * (P + 1), po = r * NH;
    for (let j = 0; j < P; j++) dHead[o + j] = d0 * W6[j] + d1 * W6[P + j];
    for (let j = 0; j < P; j++) {
      const w = headBits[po + j];
      dHeadBits[o + j] &= (w | -w) >> 31;
    }
  }
  // [loc1; base] weights are the heads' first P + 1 rows.
  gemm(true, false, P + 1, H, AB, 1, dHead, P + 1, ws.h, H, 0, grads.heads.W, H);
  colsumGemm(gemm, ws.ones, dHead, AB, P + 1, 0, P + 1, grads.heads.b);
}
