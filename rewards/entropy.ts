/**
 * The entropy-reshaped reward (shared DESIGN.md): classification plus β·(H_{t−1} − H_t) at every
 * glimpse t = 1..T, where H_t = −Σ_c p_t(c)·ln p_t(c) is the entropy of the class distribution
 * after glimpse t and H_0 = ln C (the uniform prior). A glimpse is paid for the information it
 * gained; the shaping terms telescope to β·(ln C − H_T) per episode.
 *
 * What it amounts to under the trainer's credit (action a_t gets G_{t+1} = Σ_{k>t} r_k): the
 * return telescopes to G_{t+1} = 1[correct] + βH_t − βH_T. βH_t is known before a_t is chosen,
 * so it is potential-based shaping (Ng et al. 1999): in expectation the policy gradient is that
 * of classification with a final −βH_T, plus variance. It cannot pay for information arriving
 * earlier; rewards/early.ts (−β·H_t at every glimpse) does.
 *
 * @module
 */
import { addClassificationReward } from "./classification.ts";
import { defineReward } from "./define.ts";
import type { Episodes } from "./types.ts";

/**
 * Entropies H_t in nats (T, B) of probs (T, B, C), in float64; 0·ln 0 counts as 0.
 *
 * @example
 * ```ts
 * import { entropies } from "./entropy.ts";
 * const H = entropies(1, 1, 2, new Float32Array([0.5, 0.5])); // [ln 2]
 * ```
 */
export function entropies(T: number, B: number, C: number, probs: Float32Array): Float64Array {
  const H = new Float64Array(T * B);
  for (let i = 0; i < T * B; i++) {
    let h = 0;
    for (let c = 0; c < C; c++) {
      const p = probs[i * C + c];
      if (p > 0) h -= p * Math.log(p);
    }
    H[i] = h;
  }
  return H;
}

/**
 * Classification plus β·(H_{t−1} − H_t) at every glimpse, H_0 = ln C.
 *
 * @example
 * ```ts
 * import entropy from "./entropy.ts";
 * const r = entropy.reward({
 *   T: 1, B: 1, C: 2, labels: new Int32Array([0]), predictions: new Int32Array([0]),
 *   probs: new Float32Array([1, 0]), locations: new Float32Array(2),
 * }, { beta: 0.5 });
 * // r[0] = 1 + 0.5·(ln 2 − 0) ≈ 1.3466
 * ```
 */
export default defineReward({
  name: "entropy",
  description: "classification plus β·(H_{t−1} − H_t) at every glimpse; potential-based shaping: " +
    "in expectation classification with a final −β·H_T",
  options: {
    beta: { default: 0.5, description: "weight β of the entropy drop H_{t−1} − H_t (nats)" },
  },
  reward(ep: Episodes, { beta }) {
    const { T, B, C } = ep;
    const H = entropies(T, B, C, ep.probs); // (T, B)
    const r = new Float32Array(T * B); // (T, B)
    for (let b = 0; b < B; b++) {
      let prev = Math.log(C);
      for (let t = 0; t < T; t++) {
        r[t * B + b] = beta * (prev - H[t * B + b]);
        prev = H[t * B + b];
      }
    }
    return addClassificationReward(ep, r);
  },
});
