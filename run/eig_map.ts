/**
 * The expected information gain of the next glimpse at every candidate location (the "EIG
 * map"), in the BALD form of shared DESIGN.md: after glimpse t, for a candidate l of glimpse t+1,
 *
 *   EIG(l) = H(E_s[p(y | h_t, g_l(x_s))]) − E_s[H(p(y | h_t, g_l(x_s)))],
 *
 * the mutual information between the class and what a glimpse at l would show, under the
 * model's own uncertainty about the image. The images x_s, s = 1..S, come from the VAE probe
 * given h_t: z_s ~ q(z | h_t) is sampled from the posterior (its mean alone would be one image
 * and no uncertainty), and x_s is the decoder's Bernoulli means σ(dec(z_s)). Means, not sampled
 * pixels: the probe's independent-pixel likelihood would put salt-and-pepper noise on every
 * image, noise no MNIST digit has, and the beliefs' response to it would count as information;
 * with means every difference between the x_s comes from the posterior over z (which digit, which
 * shape), and a candidate over background that all x_s agree on scores ≈ 0.
 *
 * Each x_s is glimpsed at every candidate of a G×G grid with the RAM's CPU reference (one step
 * from h_t, kernels/*_ref.ts composed as in ram/cpu_pass.ts), on parameters read from whichever
 * backend holds the run, so the map is the same on cpu and webgpu. The belief p(y | h) is a
 * parameter ({@link Belief}): the RAM's head (the default, {@link headBelief}) or a class probe.
 *
 * By Jensen (H is concave) the estimate is ≥ 0 for any S; it is computed in float64 and values
 * below zero by rounding alone (> −1e-9) are clamped to 0. The earlier form H_t − E_s[H(p_s)]
 * is not used: it adds the drift H_t − H(E_s p_s) (the recurrence settling whatever it sees),
 * which is not information about y; `expectedEntropy` keeps E_s[H(p_s)] for comparisons.
 *
 * {@link steeredGains} is the real thing to check the map against: the gain actually obtained by
 * steering the next glimpse to each candidate on the real image.
 *
 * Needs a model whose input is the probe's 28×28 digit (on a larger canvas the imagined digit's
 * position is unknown).
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { ParamMap } from "../ram/backend.ts";
import type { Vae } from "../probe/vae.ts";
import { bindNet, forwardPass, type Net } from "../ram/cpu_pass.ts";
import type { RamConfig } from "../ram/config.ts";
import { Rng } from "../util/rng.ts";
import { linearForwardRef } from "../kernels/linear_ref.ts";
import { retinaRef, retinaSize } from "../kernels/retina_ref.ts";
import { logSoftmaxRef } from "../kernels/softmax_ref.ts";
import { lstmCellRef, sigmoid } from "../kernels/lstm_ref.ts";
import type { Activation } from "../kernels/matmul_ref.ts";

/** Random stream of the latent samples (independent of training and evaluation draws). */
export const EIG_MAP_STREAM = 0x6569676d; // "eigm"

/** How far below zero rounding may take a mutual information before it is a bug (nats). */
export const MI_ROUNDING = 1e-9;

/**
 * A belief over classes from recurrent states: log p(y | h) (rows, C) for `h` (rows, hidden).
 * The RAM's head ({@link headBelief}) or a class probe on h_t.
 */
export type Belief = (h: Float32Array, rows: number) => Float32Array;

/** Options of {@link eigMaps}. */
export interface EigMapOptions {
  /** Images S sampled from the probe per glimpse; default 16. */
  samples?: number;
  /** Candidate locations per side (G); default 14 (every 2 pixels at 28×28). */
  grid?: number;
  /** Seed of the latent samples; default 1. */
  seed?: number;
  /** The belief p(y | h); default the RAM's classifier head. */
  belief?: Belief;
}

/** The map for glimpse t+1, made after glimpse t. */
export interface EigMap {
  /** The glimpse the map is for (t + 1, 2..T). */
  glimpse: number;
  /** Images S sampled from the probe. */
  samples: number;
  /** Grid side G; candidate (i, j) (row i, column j) is at lx = −1 + (2j+1)/G, ly likewise. */
  grid: number;
  /** EIG (mutual information, ≥ 0) at each candidate (G, G), row-major by ly then lx, in nats. */
  eig: Float32Array;
  /** E_s[H(p_s)] at each candidate (G, G): the expected entropy after the glimpse. */
  expectedEntropy: Float32Array;
  /** H_t, the belief's entropy before the glimpse. */
  entropy: number;
  /** The location the policy's mean chose for glimpse t+1 (lx, ly). */
  chosen: [number, number];
  /** The grid location with the largest EIG (lx, ly) and that EIG. */
  best: [number, number];
  bestEig: number;
  /** EIG at the grid location nearest to `chosen`. */
  chosenEig: number;
}

/** The location of grid cell `i` of `G` along one axis: the cell's centre in [−1, 1]. */
export function gridCoordinate(i: number, G: number): number {
  return -1 + (2 * i + 1) / G;
}

/** The grid cell (0..G−1) along one axis that holds location `v` in [−1, 1]. */
export function gridCell(v: number, G: number): number {
  return Math.min(G - 1, Math.max(0, Math.floor((v + 1) / 2 * G)));
}

function fwd(
  L: { W: Float32Array; b: Float32Array; inF: number; outF: number },
  B: number,
  x: Float32Array,
  y: Float32Array,
  act: Activation = "none",
  acc = false,
): void {
  linearForwardRef({ batch: B, inF: L.inF, outF: L.outF }, x, L.W, L.b, y, act, acc);
}

/** What {@link mutualInformation} returns, per candidate. */
export interface MutualInformation {
  /** H(E_s p_s) − E_s H(p_s) in nats, clamped at 0 (K). */
  mi: Float64Array;
  /** E_s H(p_s) (K). */
  expectedEntropy: Float64Array;
  /** H(E_s p_s) (K). */
  predictiveEntropy: Float64Array;
}

/**
 * The BALD estimate of I(Y; observation) for K candidates from S equally likely samples each:
 * `logp` (S, K, C) holds log p(y | sample s, candidate k) at row s·K + k. In float64, each row
 * renormalised; values in (−{@link MI_ROUNDING}, 0) from rounding are clamped to 0, anything
 * lower throws (Jensen's inequality makes it impossible).
 *
 * @example
 * ```ts
 * import { mutualInformation } from "./eig_map.ts";
 * // two equally likely images that a glimpse tells apart perfectly: ln 2
 * const { mi } = mutualInformation(Float32Array.from([0, -Infinity, -Infinity, 0]), 2, 1, 2);
 * // mi[0] = Math.LN2
 * ```
 */
export function mutualInformation(
  logp: Float32Array | Float64Array,
  S: number,
  K: number,
  C: number,
): MutualInformation {
  if (logp.length !== S * K * C) {
    throw new Error(`mutual information: ${logp.length} log-probabilities, not ${S}·${K}·${C}`);
  }
  const mean = new Float64Array(K * C); // (K, C) E_s p_s
  const expectedEntropy = new Float64Array(K);
  const p = new Float64Array(C);
  for (let s = 0; s < S; s++) {
    for (let k = 0; k < K; k++) {
      const row = (s * K + k) * C;
      let z = 0;
      for (let c = 0; c < C; c++) z += p[c] = Math.exp(logp[row + c]);
      let h = 0;
      for (let c = 0; c < C; c++) {
        const q = p[c] / z;
        mean[k * C + c] += q / S;
        if (q > 0) h -= q * Math.log(q);
      }
      expectedEntropy[k] += h / S;
    }
  }
  const mi = new Float64Array(K), predictiveEntropy = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let h = 0;
    for (let c = 0; c < C; c++) {
      const q = mean[k * C + c];
      if (q > 0) h -= q * Math.log(q);
    }
    predictiveEntropy[k] = h;
    const v = h - expectedEntropy[k];
    if (v < -MI_ROUNDING) {
      throw new Error(`mutual information: ${v} < 0 beyond rounding (candidate ${k})`);
    }
    mi[k] = Math.max(0, v);
  }
  return { mi, expectedEntropy, predictiveEntropy };
}

function entropyOf(logp: Float32Array, row: number, C: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const lp = logp[row * C + c];
    const p = Math.exp(lp);
    if (p > 0) h -= p * lp;
  }
  return h;
}

/**
 * The RAM's classifier head as a belief: log_softmax(cls · h). Trained only on log p_T, so for
 * t < T it is not a calibrated belief (shared DESIGN.md); a class probe replaces it there.
 *
 * @example
 * ```ts ignore
 * const belief = headBelief(ram.config, (await ram.getState()).params);
 * const logp = belief(hidden, rows); // (rows, C)
 * ```
 */
export function headBelief(cfg: RamConfig, params: ParamMap): Belief {
  const net = bindNet(cfg, params);
  return (h, rows) => {
    const logits = new Float32Array(rows * cfg.classes);
    fwd(net.cls, rows, h, logits);
    const logp = new Float32Array(rows * cfg.classes);
    logSoftmaxRef(rows, cfg.classes, logits, logp);
    return logp;
  };
}

/** What the maps and the steered gains share: the checked model, its trace, the grid. */
interface Setup {
  cfg: RamConfig;
  net: Net;
  belief: Belief;
  /** The real glimpses 1..T following the policy's mean from the centre. */
  trace: ReturnType<typeof forwardPass>;
  G: number;
  /** Candidate locations (G², 2), row-major by ly then lx. */
  cells: Float32Array;
}

async function setup(
  ram: RamBackend,
  input: Float32Array,
  G: number,
  belief: Belief | undefined,
): Promise<Setup> {
  const cfg = ram.config;
  if (!(Number.isInteger(G) && G >= 1)) throw new Error(`EIG map: grid ${G} must be ≥ 1`);
  if (input.length !== cfg.height * cfg.width) {
    throw new Error(
      `EIG map: the input has ${input.length} values, not ${cfg.width}×${cfg.height}`,
    );
  }
  const params = (await ram.getState()).params;
  const net = bindNet(cfg, params);
  const trace = forwardPass(cfg, net, 1, input, new Float32Array(2), (_i, mu, a) => a.set(mu));
  const cells = new Float32Array(G * G * 2);
  for (let i = 0; i < G; i++) {
    for (let j = 0; j < G; j++) {
      cells[2 * (i * G + j)] = gridCoordinate(j, G);
      cells[2 * (i * G + j) + 1] = gridCoordinate(i, G);
    }
  }
  return { cfg, net, belief: belief ?? headBelief(cfg, params), trace, G, cells };
}

/**
 * Beliefs log p (R·G², C) after one more glimpse from glimpse t's state (index t−1) on each of
 * R images (R, H, W) at every candidate: row r·G² + cell.
 */
function stepToCandidates(s: Setup, t: number, R: number, images: Float32Array): Float32Array {
  const { cfg, net, G, cells } = s,
    K = G * G,
    B = R * K,
    H = cfg.hidden,
    P = cfg.height * cfg.width;
  const step = s.trace.glimpses[t];
  const imgs = new Float32Array(B * P), loc = new Float32Array(B * 2);
  const hPrev = new Float32Array(B * H), cPrev = step.c ? new Float32Array(B * H) : null;
  for (let r = 0; r < R; r++) {
    const img = images.subarray(r * P, (r + 1) * P);
    loc.set(cells, 2 * r * K);
    for (let k = 0; k < K; k++) {
      const row = r * K + k;
      imgs.set(img, row * P);
      hPrev.set(step.h, row * H);
      if (cPrev) cPrev.set(step.c!, row * H);
    }
  }
  return s.belief(glimpseStep(cfg, net, B, imgs, loc, hPrev, cPrev), B);
}

/**
 * The EIG maps for glimpses 2..T of `input` (height, width), following the policy's mean from
 * the centre as explain does.
 *
 * @example
 * ```ts ignore
 * import { eigMaps } from "./eig_map.ts";
 * const maps = await eigMaps(run.ram, run.vae!, input, { samples: 16, grid: 14 });
 * console.log(maps.map((m) => m.bestEig));
 * ```
 */
export async function eigMaps(
  ram: RamBackend,
  vae: Vae,
  input: Float32Array,
  options: EigMapOptions = {},
): Promise<EigMap[]> {
  const cfg = ram.config;
  const S = options.samples ?? 16, G = options.grid ?? 14;
  if (!(Number.isInteger(S) && S >= 1)) throw new Error(`EIG map: samples ${S} must be ≥ 1`);
  const vc = vae.config;
  if (cfg.height * cfg.width !== vc.pixels) {
    throw new Error(
      `EIG map: the model's ${cfg.width}×${cfg.height} input is not the probe's ` +
        `${vc.pixels}-pixel digit (a canvas model: where the imagined digit lies is unknown)`,
    );
  }
  const s = await setup(ram, input, G, options.belief);
  const vp = (await vae.getState()).params;
  const lin = (name: string) => {
    const W = vp.get(`${name}.weight`)!, b = vp.get(`${name}.bias`)!;
    return { W: W.data, b: b.data, inF: W.shape[1], outF: W.shape[0] };
  };
  const [enc, stats, dec1, dec2] = ["vae.enc", "vae.stats", "vae.dec1", "vae.dec2"].map(lin);
  const T = cfg.glimpses, C = cfg.classes, L = vc.latent, P = vc.pixels, K = G * G;
  const rng = Rng.derive(options.seed ?? 1, EIG_MAP_STREAM);
  const maps: EigMap[] = [];
  for (let t = 0; t < T - 1; t++) {
    const step = s.trace.glimpses[t];
    // S images from the probe: z = μ + σ·ε from q(z | h_t), x_s = σ(dec2 ReLU(dec1 z))
    const e = new Float32Array(vc.hidden);
    fwd(enc, 1, step.h, e, "relu");
    const st = new Float32Array(2 * L);
    fwd(stats, 1, e, st);
    const z = new Float32Array(S * L);
    for (let n = 0; n < S; n++) {
      for (let k = 0; k < L; k++) z[n * L + k] = st[k] + Math.exp(0.5 * st[L + k]) * rng.normal();
    }
    const d = new Float32Array(S * vc.hidden);
    fwd(dec1, S, z, d, "relu");
    const logits = new Float32Array(S * P);
    fwd(dec2, S, d, logits);
    const imagined = Float32Array.from(logits, sigmoid); // (S, 28, 28) Bernoulli means
    const { mi, expectedEntropy } = mutualInformation(stepToCandidates(s, t, S, imagined), S, K, C);
    const eig = Float32Array.from(mi);
    let best = 0;
    for (let c = 1; c < K; c++) if (eig[c] > eig[best]) best = c;
    const next = s.trace.glimpses[t + 1].loc;
    maps.push({
      glimpse: t + 2,
      samples: S,
      grid: G,
      eig,
      expectedEntropy: Float32Array.from(expectedEntropy),
      entropy: entropyOf(s.belief(step.h, 1), 0, C),
      chosen: [next[0], next[1]],
      best: [gridCoordinate(best % G, G), gridCoordinate(Math.floor(best / G), G)],
      bestEig: eig[best],
      chosenEig: eig[gridCell(next[1], G) * G + gridCell(next[0], G)],
    });
  }
  return maps;
}

/** The gain actually obtained by glimpse t+1 at every candidate, on the real image. */
export interface SteeredGains {
  /** The glimpse steered (t + 1, 2..T). */
  glimpse: number;
  /** H_t − H_{t+1} of the belief at each candidate (G, G), nats. */
  entropyDrop: Float32Array;
  /** log p_{t+1}(y) − log p_t(y) of the true label y at each candidate (G, G), nats. */
  nllDrop: Float32Array;
}

/**
 * For every glimpse t+1 = 2..T of `input` with true class `label`, following the policy's mean
 * from the centre up to glimpse t: the gains obtained by taking glimpse t+1 at each candidate of
 * the G×G grid of {@link eigMaps} on the real pixels. What the EIG map predicts, measured.
 *
 * @example
 * ```ts ignore
 * const real = await steeredGains(run.ram, input, 7, { grid: 14 });
 * console.log(real[0].nllDrop); // (14, 14), glimpse 2
 * ```
 */
export async function steeredGains(
  ram: RamBackend,
  input: Float32Array,
  label: number,
  options: { grid?: number; belief?: Belief } = {},
): Promise<SteeredGains[]> {
  const G = options.grid ?? 14, K = G * G;
  const s = await setup(ram, input, G, options.belief);
  const { glimpses: T, classes: C } = s.cfg;
  if (!(Number.isInteger(label) && label >= 0 && label < C)) {
    throw new Error(`steered gains: label ${label} is not a class 0..${C - 1}`);
  }
  const out: SteeredGains[] = [];
  for (let t = 0; t < T - 1; t++) {
    const now = s.belief(s.trace.glimpses[t].h, 1);
    const hNow = entropyOf(now, 0, C);
    const logp = stepToCandidates(s, t, 1, input);
    const entropyDrop = new Float32Array(K), nllDrop = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      entropyDrop[k] = hNow - entropyOf(logp, k, C);
      nllDrop[k] = logp[k * C + label] - now[label];
    }
    out.push({ glimpse: t + 2, entropyDrop, nllDrop });
  }
  return out;
}

/**
 * One glimpse step of the RAM from given states: images (B, H, W) at loc (B, 2) after h (B, H)
 * (and c for the LSTM core). Returns h_{t+1} (B, H); the belief reads it. The same arithmetic as
 * forwardPass.
 */
function glimpseStep(
  cfg: RamConfig,
  net: Net,
  B: number,
  images: Float32Array,
  loc: Float32Array,
  hPrev: Float32Array,
  cPrev: Float32Array | null,
): Float32Array {
  const rho = new Float32Array(B * retinaSize(cfg));
  retinaRef(cfg, B, images, loc, rho);
  const hg = new Float32Array(B * cfg.glimpseHidden);
  const hl = new Float32Array(B * cfg.locationHidden);
  const g = new Float32Array(B * cfg.glimpseOut);
  fwd(net.fc1, B, rho, hg, "relu");
  fwd(net.fc2, B, loc, hl, "relu");
  fwd(net.fc3, B, hg, g);
  fwd(net.fc4, B, hl, g, "relu", true);
  const H = cfg.hidden;
  const h = new Float32Array(B * H);
  if (cfg.core === "lstm") {
    const z = new Float32Array(B * 4 * H);
    fwd(net.ih, B, g, z);
    fwd(net.hh, B, hPrev, z, "none", true);
    lstmCellRef(
      { batch: B, hidden: H },
      z,
      cPrev!,
      new Float32Array(B * 4 * H),
      new Float32Array(B * H),
      h,
    );
  } else {
    fwd(net.ih, B, g, h);
    fwd(net.hh, B, hPrev, h, "relu", true);
  }
  return h;
}
