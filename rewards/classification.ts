/**
 * The classification reward (shared DESIGN.md): r_T = 1 when the prediction after the last
 * glimpse is the true class, else 0; every earlier r_t = 0. Written as a plugin, like any
 * user's reward: `--reward classification` and `--reward rewards/classification.ts` load it.
 *
 * @module
 */
import { defineReward, type RewardDefinition } from "./define.ts";
import type { Episodes } from "./types.ts";

/**
 * Adds the classification reward into `out` (T, B): 1 at the last glimpse of every sample whose
 * last prediction is right. Exported for rewards that build on it.
 */
export function addClassificationReward(ep: Episodes, out: Float32Array): Float32Array {
  const { T, B, labels, predictions } = ep;
  const last = (T - 1) * B;
  for (let b = 0; b < B; b++) if (predictions[last + b] === labels[b]) out[last + b] += 1;
  return out;
}

/**
 * r_T = 1 if argmax p_T = y, else 0; r_t = 0 for t < T.
 *
 * @example
 * ```ts
 * import classification from "./classification.ts";
 * const r = classification.reward({
 *   T: 2, B: 1, C: 2, labels: new Int32Array([1]), predictions: new Int32Array([0, 1]),
 *   probs: new Float32Array([0.6, 0.4, 0.2, 0.8]), locations: new Float32Array(4),
 * }, {});
 * // r is Float32Array [0, 1]
 * ```
 */
const classification: RewardDefinition = defineReward({
  name: "classification",
  description: "1 at the last glimpse if the prediction is correct, else 0",
  reward: (ep) => addClassificationReward(ep, new Float32Array(ep.T * ep.B)),
});
export default classification;
