/**
 * The early-information reward: classification plus −β·H_t at every glimpse t = 1..T, where
 * H_t = −Σ_c p_t(c)·ln p_t(c) is the entropy of the class distribution after glimpse t (the
 * area under the entropy curve, shared DESIGN.md).
 *
 * Why it pays for early information where `entropy` cannot: action a_t (which picks l_{t+1}) is
 * credited with G_{t+1} = Σ_{k>t} r_k = 1[correct] − β·Σ_{k=t+1..T} H_k, which depends on every
 * later entropy, so a location that makes the model certain one glimpse sooner lowers every
 * following H_k and earns more. The entropy reward's return telescopes to 1[correct] + βH_t −
 * βH_T instead: only the final entropy depends on the actions.
 *
 * β (default 0.1): with T = 6 and C = 10 the penalty is at most 6·0.1·ln 10 ≈ 1.4 per episode, of
 * the order of the classification reward of 1; at β = 0.5 (the entropy reward's default) it would
 * be up to 6.9 and drown the reward for being right. H_1 enters no action's return (l_1 is not
 * chosen); it only shifts the episode's total.
 *
 * @module
 */
import { addClassificationReward } from "./classification.ts";
import { defineReward } from "./define.ts";
import { entropies } from "./entropy.ts";
import type { Episodes } from "./types.ts";

/**
 * −β·H_t at every glimpse plus classification at T.
 *
 * @example
 * ```ts
 * import early from "./early.ts";
 * const r = early.reward({
 *   T: 2, B: 1, C: 2, labels: new Int32Array([0]), predictions: new Int32Array([0, 0]),
 *   probs: new Float32Array([0.5, 0.5, 1, 0]), locations: new Float32Array(4),
 * }, { beta: 0.1 });
 * // r = [−0.1·ln 2, 1 − 0]
 * ```
 */
export default defineReward({
  name: "early-information",
  description: "classification plus −β·H_t at every glimpse (pays for being certain early)",
  options: {
    beta: { default: 0.1, description: "weight β of the entropy H_t (nats) at every glimpse" },
  },
  reward(ep: Episodes, { beta }) {
    const H = entropies(ep.T, ep.B, ep.C, ep.probs); // (T, B)
    const r = Float32Array.from(H, (h) => -beta * h); // (T, B)
    return addClassificationReward(ep, r);
  },
});
