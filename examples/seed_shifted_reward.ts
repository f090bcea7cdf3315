/**
 * The seed's variant of the entropy reward, as a plugin: the entropy reward's r_t =
 * β·(H_{t−1} − H_t) (+ 1[correct] at T) credited one glimpse off, to action a_t instead of a_{t−1}.
 *
 * The trainer credits action a_t (after glimpse t, picking l_{t+1}) with G_{t+1} = Σ_{k>t} r'_k
 * (shared DESIGN.md). The seed credited a_t with Σ_{k≥t} r_k: the reward of glimpse t too, which
 * a_{t−1} caused. Within the contract that is the rewards moved one glimpse later,
 *
 *   r'_1 = 0,  r'_k = r_{k−1} (k = 2..T−1),  r'_T = r_{T−1} + r_T,
 *
 * so Σ_{k>t} r'_k = Σ_{k≥t} r_k for every t < T and the episode's total is unchanged (T = 1: no
 * action, r' = r).
 *
 * What it amounts to: a_t is credited with 1[correct] + β·H_{t−1} − β·H_T. H_{t−1} is fixed
 * before a_t is chosen, so like the correctly credited entropy reward (1[correct] + βH_t − βH_T)
 * the policy gradient in expectation is that of classification with a final −βH_T; what differs
 * is the variance, and what the baseline b_t (reading h_t) must predict (βH_{t−1} instead of
 * βH_t). Any effect the seed saw from its shaping comes from there, not from paying for early
 * information (rewards/early.ts does that).
 *
 * ```sh
 * deno task rewards check examples/seed_shifted_reward.ts
 * deno task train --reward examples/seed_shifted_reward.ts
 * ```
 *
 * @module
 */
import entropy from "../rewards/entropy.ts";
import { defineReward } from "../rewards/define.ts";

/**
 * Moves rewards (T, B) one glimpse later, keeping the last: r'_1 = 0, r'_k = r_{k−1} for
 * 1 < k < T, r'_T = r_{T−1} + r_T.
 *
 * @example
 * ```ts
 * import { shiftOneGlimpse } from "./seed_shifted_reward.ts";
 * shiftOneGlimpse(3, 1, Float32Array.from([1, 2, 3])); // [0, 1, 5]
 * ```
 */
export function shiftOneGlimpse(T: number, B: number, r: ArrayLike<number>): Float32Array {
  if (T < 2) return Float32Array.from(r);
  const out = new Float32Array(T * B); // (T, B)
  for (let t = 1; t < T; t++) {
    for (let b = 0; b < B; b++) out[t * B + b] = r[(t - 1) * B + b];
  }
  for (let b = 0; b < B; b++) out[(T - 1) * B + b] += r[(T - 1) * B + b];
  return out;
}

export default defineReward({
  name: "seed-shifted-entropy",
  description: "the entropy reward credited one glimpse off, as the seed did (a_t gets r_t too)",
  options: {
    beta: { default: 0.5, description: "weight β of the entropy drop H_{t−1} − H_t (nats)" },
  },
  async reward(ep, { beta }) {
    return shiftOneGlimpse(ep.T, ep.B, await entropy.reward(ep, { beta }));
  },
});
