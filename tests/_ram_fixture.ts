/**
 * Test fixtures for the RAM backends: a tiny config, random batches and noise, a synthetic
 * two-class problem and the classification reward (written inline so model tests do not
 * depend on rewards/).
 *
 * @module
 */
import type { Batch, StepNoise } from "../ram/backend.ts";
import { type RamConfig, resolveRamConfig } from "../ram/config.ts";
import type { Episodes } from "../rewards/types.ts";
import { Rng } from "../util/rng.ts";
import type { Split } from "../datasets/types.ts";

/** A RAM small enough for finite differences: 12×12 input, two scales, hidden 8. */
export function tinyConfig(over: Partial<RamConfig> = {}): RamConfig {
  return resolveRamConfig({
    height: 12,
    width: 12,
    patch: 4,
    scales: 2,
    scale: 2,
    glimpses: 3,
    glimpseHidden: 8,
    locationHidden: 6,
    glimpseOut: 7,
    hidden: 8,
    policyHidden: 5,
    sigma: 0.2,
    classes: 3,
    ...over,
  });
}

/** Random images in [0, 1] and labels for `cfg`. */
export function randomBatch(cfg: RamConfig, B: number, seed: number): Batch {
  const rng = new Rng(seed);
  const images = rng.fillUniform(new Float32Array(B * cfg.height * cfg.width), 0, 1);
  const labels = new Int32Array(B).map(() => rng.int(cfg.classes));
  return { size: B, images, labels };
}

/** Step noise as the trainer draws it: l_1 ~ U(−1, 1)², ε ~ N(0, 1). */
export function randomNoise(cfg: RamConfig, B: number, seed: number): StepNoise {
  const rng = new Rng(seed);
  return {
    start: rng.fillUniform(new Float32Array(B * 2), -1, 1),
    policy: rng.fillNormal(new Float32Array((cfg.glimpses - 1) * B * 2)),
  };
}

/** Classification reward: r_T = 1 where argmax p_T is the label, every other r_t = 0. */
export function classificationReward(e: Episodes): Float32Array {
  const r = new Float32Array(e.T * e.B);
  for (let b = 0; b < e.B; b++) {
    if (e.predictions[(e.T - 1) * e.B + b] === e.labels[b]) r[(e.T - 1) * e.B + b] = 1;
  }
  return r;
}

/**
 * n images (n, size, size) of a faint noisy background with one bright 2×2 blob, in the left
 * half (label 0) or the right half (label 1), from a seed.
 */
export function blobImages(n: number, size: number, seed: number): Batch {
  const rng = new Rng(seed);
  const images = new Float32Array(n * size * size);
  const labels = new Int32Array(n);
  const half = size / 2;
  for (let i = 0; i < n; i++) {
    const label = rng.int(2);
    labels[i] = label;
    const img = images.subarray(i * size * size, (i + 1) * size * size);
    for (let j = 0; j < img.length; j++) img[j] = 0.1 * rng.next();
    const x = label * half + 1 + rng.int(half - 3), y = 1 + rng.int(size - 3);
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) img[(y + dy) * size + x + dx] = 1;
    }
  }
  return { size: n, images, labels };
}

/**
 * {@link blobImages} as a training split of `size`×`size` images whose clean target is the blob
 * alone, without the background noise (what the VAE probe reconstructs).
 */
export function blobSplit(n: number, size: number, seed: number): Split {
  const { images, labels } = blobImages(n, size, seed);
  const per = size * size;
  const clean = images.map((v) => (v === 1 ? 1 : 0));
  return {
    size: n,
    labels,
    fill(indices, _epoch, out, target) {
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        out.set(images.subarray(i * per, (i + 1) * per), j * per);
        target?.set(clean.subarray(i * per, (i + 1) * per), j * per);
      }
    },
  };
}

/** Rows `from..to−1` of a batch. */
export function sliceBatch(batch: Batch, from: number, to: number): Batch {
  const per = batch.images.length / batch.size;
  return {
    size: to - from,
    images: batch.images.slice(from * per, to * per),
    labels: batch.labels.slice(from, to),
  };
}
