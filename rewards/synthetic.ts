/**
 * A synthetic, seeded batch of episodes for checking and benchmarking rewards without a model:
 * class distributions that sharpen glimpse by glimpse towards a class that is usually the label,
 * their argmax as predictions, and locations in [−1, 1]².
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Episodes } from "./types.ts";

/** Shape and seed of a synthetic batch. */
export interface SyntheticShape {
  /** Glimpses. */
  T: number;
  /** Samples. */
  B: number;
  /** Classes. */
  C: number;
  seed?: number;
}

/**
 * A seeded batch of episodes shaped like a real one: probs (T, B, C) are a softmax of logits
 * that grow towards a target class (the label in about 70% of samples), so entropy falls and
 * predictions settle as glimpses go by.
 *
 * @example
 * ```ts
 * import { syntheticEpisodes } from "./synthetic.ts";
 * const ep = syntheticEpisodes({ T: 6, B: 128, C: 10, seed: 1 });
 * // ep.probs.length === 6 * 128 * 10
 * ```
 */
export function syntheticEpisodes({ T, B, C, seed = 1 }: SyntheticShape): Episodes {
  const rng = new Rng(seed);
  const probs = new Float32Array(T * B * C); // (T, B, C)
  const labels = new Int32Array(B); // (B)
  const predictions = new Int32Array(T * B); // (T, B)
  const locations = new Float32Array(T * B * 2); // (T, B, 2)
  const logits = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    labels[b] = Math.floor(rng.next() * C);
    const target = rng.next() < 0.7 ? labels[b] : Math.floor(rng.next() * C);
    for (let c = 0; c < C; c++) logits[c] = 0.5 * rng.normal();
    for (let t = 0; t < T; t++) {
      logits[target] += 0.8;
      for (let c = 0; c < C; c++) logits[c] += 0.3 * rng.normal();
      const max = Math.max(...logits);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(logits[c] - max);
      let best = 0;
      for (let c = 0; c < C; c++) {
        const p = Math.exp(logits[c] - max) / sum;
        probs[(t * B + b) * C + c] = p;
        if (p > probs[(t * B + b) * C + best]) best = c;
      }
      predictions[t * B + b] = best;
      locations[(t * B + b) * 2] = rng.uniform(-1, 1);
      locations[(t * B + b) * 2 + 1] = rng.uniform(-1, 1);
    }
  }
  return { T, B, C, probs, labels, predictions, locations };
}
