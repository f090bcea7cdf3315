/**
 * Reconstruction quality per glimpse: the VAE probe's reconstruction from h_t (the decoder's
 * Bernoulli means from the posterior mean, following the policy's mean from the centre) against
 * the clean 28×28 digit, as mean squared error and binary cross-entropy per pixel (nats, the
 * probabilities clamped to [1e−6, 1 − 1e−6]), beside two baselines that see no glimpse: the mean
 * training digit, and the mean training digit of the true class (what knowing the class alone
 * reconstructs). A probe that beats the class mean knows more than the label.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { Vae } from "../probe/vae.ts";
import type { Split } from "../datasets/types.ts";

/** MSE and BCE per pixel, means over the test images. */
export interface ReconScore {
  mse: number;
  bce: number;
}

/** What {@link reconQuality} returns. */
export interface ReconQuality {
  /** Test images scored. */
  samples: number;
  /** Glimpse t = 1..T at index t − 1. */
  glimpses: ReconScore[];
  /** The mean training digit, the same for every image. */
  meanDigit: ReconScore;
  /** The mean training digit of the image's class. */
  classMean: ReconScore;
}

const EPS = 1e-6;

function score(p: Float32Array, po: number, x: Float32Array, xo: number, P: number): ReconScore {
  let mse = 0, bce = 0;
  for (let i = 0; i < P; i++) {
    const q = Math.min(1 - EPS, Math.max(EPS, p[po + i])), v = x[xo + i];
    mse += (p[po + i] - v) ** 2;
    bce -= v * Math.log(q) + (1 - v) * Math.log(1 - q);
  }
  return { mse: mse / P, bce: bce / P };
}

/**
 * Scores the probe's reconstructions of the first `limit` test images and the two baselines
 * (means of the first `trainLimit` training digits).
 *
 * @example
 * ```ts ignore
 * const q = await reconQuality(run.ram, run.vae!, ds.train, ds.test, { limit: 500 });
 * console.log(q.glimpses.map((g) => g.mse), q.classMean.mse);
 * ```
 */
export async function reconQuality(
  ram: RamBackend,
  vae: Vae,
  train: Split,
  test: Split,
  options: { limit?: number; trainLimit?: number; batch?: number } = {},
): Promise<ReconQuality> {
  const { height, width, glimpses: T, classes: C } = ram.config;
  const P = vae.config.pixels, B0 = options.batch ?? 128;
  if (P !== 784) throw new Error(`reconstruction quality: the probe draws ${P} pixels, not 784`);
  // baselines from the training digits
  const NT = Math.min(train.size, options.trainLimit ?? 5000);
  const sum = new Float64Array((C + 1) * P), count = new Float64Array(C + 1);
  const img = new Float32Array(B0 * height * width), clean = new Float32Array(B0 * P);
  for (let first = 0; first < NT; first += B0) {
    const B = Math.min(B0, NT - first);
    const idx = Array.from({ length: B }, (_, j) => first + j);
    train.fill(idx, 0, img.subarray(0, B * height * width), clean.subarray(0, B * P));
    for (let b = 0; b < B; b++) {
      const y = train.labels[first + b];
      for (const k of [y, C]) {
        count[k]++;
        for (let i = 0; i < P; i++) sum[k * P + i] += clean[b * P + i];
      }
    }
  }
  const means = Float32Array.from(sum, (s, i) => s / Math.max(1, count[Math.floor(i / P)]));
  const N = Math.min(test.size, options.limit ?? test.size);
  if (N <= 0) throw new Error("reconstruction quality: no test images");
  const acc = Array.from({ length: T + 2 }, () => ({ mse: 0, bce: 0 }));
  const add = (k: number, s: ReconScore) => {
    acc[k].mse += s.mse / N;
    acc[k].bce += s.bce / N;
  };
  for (let first = 0; first < N; first += B0) {
    const B = Math.min(B0, N - first);
    const idx = Array.from({ length: B }, (_, j) => first + j);
    const images = img.subarray(0, B * height * width), cl = clean.subarray(0, B * P);
    test.fill(idx, 0, images, cl);
    const labels = Int32Array.from(idx, (i) => test.labels[i]);
    const r = await ram.rollout({ size: B, images, labels }, {
      stochastic: false,
      start: new Float32Array(2 * B),
    });
    const recon = await vae.reconstruct(r.hidden); // (T, B, P)
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) add(t, score(recon, (t * B + b) * P, cl, b * P, P));
      add(T, score(means, C * P, cl, b * P, P));
      add(T + 1, score(means, labels[b] * P, cl, b * P, P));
    }
  }
  return {
    samples: N,
    glimpses: acc.slice(0, T),
    meanDigit: acc[T],
    classMean: acc[T + 1],
  };
}
