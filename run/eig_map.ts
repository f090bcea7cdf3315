/**
 * The expected information gain of the next glimpse at every candidate location (the issue's
 * "EIG map"): after glimpse t the VAE probe turns the recurrent state h_t into a distribution over
 * images the model thinks it may be looking at; S images are sampled from it (z ~ q(z | h_t),
 * decoded), a glimpse t+1 is simulated on each at every location of a G×G grid, and the posterior
 * entropies are averaged:
 *
 *   EIG_{t+1}(l) = H_t − (1/S) Σ_s H(p_{t+1}(· | h_t, glimpse of x̂_s at l)).
 *
 * A location where the imagined images disagree in a way the classifier cares about scores
 * high. The simulation runs the RAM's CPU reference (kernels/*_ref.ts composed as in
 * ram/cpu_pass.ts) on parameters read from whichever backend holds the run, so the map
 * is the same on cpu and webgpu. It needs a model whose input is the probe's 28×28 digit (on a
 * larger canvas the imagined digit's position is unknown).
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
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

/** Options of {@link eigMaps}. */
export interface EigMapOptions {
  /** Images sampled from the probe per glimpse (S); default 16. */
  samples?: number;
  /** Candidate locations per side (G); default 14 (every 2 pixels at 28×28). */
  grid?: number;
  /** Seed of the latent samples; default 1. */
  seed?: number;
}

/** The map for glimpse t+1, made after glimpse t. */
export interface EigMap {
  /** The glimpse the map is for (t + 1, 2..T). */
  glimpse: number;
  /** Images S sampled from the probe. */
  samples: number;
  /** Grid side G; candidate (i, j) (row i, column j) is at lx = −1 + (2j+1)/G, ly likewise. */
  grid: number;
  /** EIG at each candidate (G, G), row-major by ly then lx, in nats. */
  eig: Float32Array;
  /** H_t, the entropy before the glimpse. */
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

function entropyRows(logp: Float32Array, B: number, C: number): Float64Array {
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let h = 0;
    for (let c = 0; c < C; c++) {
      const lp = logp[b * C + c];
      const p = Math.exp(lp);
      if (p > 0) h -= p * lp;
    }
    out[b] = h;
  }
  return out;
}

/**
 * One glimpse step of the RAM from given states: images (B, H, W) at loc (B, 2) after h (B, H)
 * (and c for the LSTM core). Returns log p (B, C). The same arithmetic as forwardPass.
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
  const logits = new Float32Array(B * cfg.classes);
  fwd(net.cls, B, h, logits);
  const logp = new Float32Array(B * cfg.classes);
  logSoftmaxRef(B, cfg.classes, logits, logp);
  return logp;
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
  if (!(Number.isInteger(G) && G >= 1)) throw new Error(`EIG map: grid ${G} must be ≥ 1`);
  const vc = vae.config;
  if (cfg.height * cfg.width !== vc.pixels) {
    throw new Error(
      `EIG map: the model's ${cfg.width}×${cfg.height} input is not the probe's ` +
        `${vc.pixels}-pixel digit (a canvas model: where the imagined digit lies is unknown)`,
    );
  }
  if (input.length !== cfg.height * cfg.width) {
    throw new Error(
      `EIG map: the input has ${input.length} values, not ${cfg.width}×${cfg.height}`,
    );
  }
  const net = bindNet(cfg, (await ram.getState()).params);
  const vp = (await vae.getState()).params;
  const lin = (name: string) => {
    const W = vp.get(`${name}.weight`)!, b = vp.get(`${name}.bias`)!;
    return { W: W.data, b: b.data, inF: W.shape[1], outF: W.shape[0] };
  };
  const [enc, stats, dec1, dec2] = ["vae.enc", "vae.stats", "vae.dec1", "vae.dec2"].map(lin);
  // the real glimpses 1..T following the policy mean from the centre
  const trace = forwardPass(cfg, net, 1, input, new Float32Array(2), (_i, mu, a) => a.set(mu));
  const T = cfg.glimpses, H = cfg.hidden, C = cfg.classes, L = vc.latent, P = vc.pixels;
  const B = S * G * G;
  const rng = Rng.derive(options.seed ?? 1, EIG_MAP_STREAM);
  // candidate locations, the same for every sample: row r = s·G² + i·G + j
  const loc = new Float32Array(B * 2);
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < G; i++) {
      for (let j = 0; j < G; j++) {
        const r = (s * G + i) * G + j;
        loc[2 * r] = gridCoordinate(j, G);
        loc[2 * r + 1] = gridCoordinate(i, G);
      }
    }
  }
  const maps: EigMap[] = [];
  for (let t = 0; t < T - 1; t++) {
    const step = trace.glimpses[t];
    // S images from the probe: z = μ + σ·ε, x̂ = σ(dec2 ReLU(dec1 z))
    const e = new Float32Array(vc.hidden);
    fwd(enc, 1, step.h, e, "relu");
    const st = new Float32Array(2 * L);
    fwd(stats, 1, e, st);
    const z = new Float32Array(S * L);
    for (let s = 0; s < S; s++) {
      for (let k = 0; k < L; k++) z[s * L + k] = st[k] + Math.exp(0.5 * st[L + k]) * rng.normal();
    }
    const d = new Float32Array(S * vc.hidden);
    fwd(dec1, S, z, d, "relu");
    const logits = new Float32Array(S * P);
    fwd(dec2, S, d, logits);
    const imagined = new Float32Array(B * P); // (B, 28, 28): sample s repeated G² times
    for (let s = 0; s < S; s++) {
      const img = Float32Array.from(logits.subarray(s * P, (s + 1) * P), sigmoid);
      for (let c = 0; c < G * G; c++) imagined.set(img, (s * G * G + c) * P);
    }
    const hPrev = new Float32Array(B * H), cPrev = step.c ? new Float32Array(B * H) : null;
    for (let r = 0; r < B; r++) {
      hPrev.set(step.h, r * H);
      if (cPrev) cPrev.set(step.c!, r * H);
    }
    const logp = glimpseStep(cfg, net, B, imagined, loc, hPrev, cPrev);
    const hNext = entropyRows(logp, B, C);
    const hNow = entropyRows(step.logp, 1, C)[0];
    const eig = new Float32Array(G * G);
    for (let s = 0; s < S; s++) {
      for (let c = 0; c < G * G; c++) eig[c] += (hNow - hNext[s * G * G + c]) / S;
    }
    let best = 0;
    for (let c = 1; c < G * G; c++) if (eig[c] > eig[best]) best = c;
    const next = trace.glimpses[t + 1].loc;
    const cell = (v: number) => Math.min(G - 1, Math.max(0, Math.floor((v + 1) / 2 * G)));
    maps.push({
      glimpse: t + 2,
      samples: S,
      grid: G,
      eig,
      entropy: hNow,
      chosen: [next[0], next[1]],
      best: [gridCoordinate(best % G, G), gridCoordinate(Math.floor(best / G), G)],
      bestEig: eig[best],
      chosenEig: eig[cell(next[1]) * G + cell(next[0])],
    });
  }
  return maps;
}
