/**
 * A user reward plugin: the classification reward plus a small bonus for short saccades.
 *
 * A RAM that hops across the whole image between glimpses wastes glimpses; this reward pays
 * `weight · (1 − d/radius)` at glimpse t = 2..T when the saccade that led to it, of length
 * d = ‖l_t − l_{t−1}‖ (locations in [−1, 1]²), is shorter than `radius`. The first glimpse has
 * no saccade and earns no bonus. Keep `weight` small next to the classification reward of 1, or
 * the policy learns to stand still.
 *
 * Train with it:
 *
 * ```sh
 * deno task rewards check examples/saccade_reward.ts --reward-opt weight=0.02
 * deno task train --reward examples/saccade_reward.ts --reward-opt weight=0.02
 * ```
 *
 * @module
 */
import { addClassificationReward } from "../rewards/classification.ts";
import { defineReward } from "../rewards/define.ts";

export default defineReward({
  name: "saccade",
  description: "classification plus a small bonus for every saccade shorter than `radius`",
  options: {
    weight: { default: 0.05, description: "bonus for a saccade of length 0" },
    radius: { default: 0.5, description: "saccades this long or longer earn nothing" },
  },
  reward(episodes, { weight, radius }) {
    const { T, B, locations } = episodes; // locations (T, B, 2)
    // The built-in classification reward: 1 at the last glimpse when the prediction is right.
    const r = addClassificationReward(episodes, new Float32Array(T * B)); // (T, B)
    for (let t = 1; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const i = (t * B + b) * 2, j = ((t - 1) * B + b) * 2;
        const d = Math.hypot(locations[i] - locations[j], locations[i + 1] - locations[j + 1]);
        if (d < radius) r[t * B + b] += weight * (1 - d / radius);
      }
    }
    return r;
  },
});
