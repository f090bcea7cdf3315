/**
 * Returns and the reinforcement parts of the hybrid loss, shared by both backends so they
 * agree number for number (shared DESIGN.md, "Glimpses, actions and rewards").
 *
 * Glimpses t = 1..T live at index t−1. Action a_t (taken after glimpse t, t = 1..T−1) lives
 * at action index t−1, and is credited with G_{t+1} = Σ_{k=t+1..T} r_k: the rewards of the
 * glimpses it caused, not the one it followed. Arrays indexed by action are (T−1, B).
 *
 * Averaging (both backends): the baseline term is the mean of (b_t − G_{t+1})² over all
 * (T−1)·B action steps (0 when T = 1); the REINFORCE term is λ times the batch mean of the sum
 * over action steps of −log π(a_t)·(G_{t+1} − b_t). Rewards, returns and b inside the
 * advantage are constants.
 *
 * @module
 */

/**
 * G (T−1, B): G[(t−1)·B + b] = Σ_{k=t+1..T} r_k[b] for action a_t, t = 1..T−1, from rewards
 * r (T, B) (index (t−1)·B + b). Summed in float64 from the last glimpse back.
 *
 * @example
 * ```ts
 * import { returnsFromRewards } from "./returns.ts";
 * // T = 3, B = 1, r = (r1, r2, r3) = (1, 2, 4): a_1 gets r2 + r3, a_2 gets r3
 * const G = returnsFromRewards(3, 1, new Float32Array([1, 2, 4]));
 * // G is [6, 4]
 * ```
 */
export function returnsFromRewards(T: number, B: number, rewards: Float32Array): Float32Array {
  if (rewards.length !== T * B) {
    throw new Error(`returnsFromRewards: ${rewards.length} rewards, expected T·B = ${T}·${B}`);
  }
  const G = new Float32Array(Math.max(0, T - 1) * B);
  for (let b = 0; b < B; b++) {
    let acc = 0;
    // action index i (a_{i+1}) is credited with glimpses i+2..T, i.e. reward indices i+1..T−1
    for (let i = T - 2; i >= 0; i--) {
      acc += rewards[(i + 1) * B + b];
      G[i * B + b] = acc;
    }
  }
  return G;
}

/**
 * Baseline term: mean over the (T−1)·B action steps of (b − G)²; 0 when there are no actions.
 * `baseline` and `returns` are (T−1, B).
 */
export function baselineLoss(baseline: Float32Array, returns: Float32Array): number {
  if (baseline.length !== returns.length) {
    throw new Error(`baselineLoss: ${baseline.length} baselines, ${returns.length} returns`);
  }
  if (returns.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < returns.length; i++) {
    const d = baseline[i] - returns[i];
    s += d * d;
  }
  return s / returns.length;
}

/**
 * REINFORCE term: λ·(1/B)·Σ_b Σ_t −log π(a_t)·(G_{t+1} − b_t), with logπ, baseline and
 * returns (T−1, B).
 *
 * @example
 * ```ts
 * import { reinforceLoss } from "./returns.ts";
 * // one action, two samples: λ/2 · (−(−1)·(1 − 0.5) − (−2)·(0 − 0.5)) = 0.1/2 · (0.5 − 1)
 * const r = reinforceLoss(2, new Float32Array([-1, -2]), new Float32Array([0.5, 0.5]),
 *   new Float32Array([1, 0]), 0.1);
 * // r ≈ -0.025
 * ```
 */
export function reinforceLoss(
  B: number,
  logpi: Float32Array, // (T−1, B)
  baseline: Float32Array, // (T−1, B)
  returns: Float32Array, // (T−1, B)
  lambda: number,
): number {
  if (logpi.length !== returns.length || baseline.length !== returns.length) {
    throw new Error(
      `reinforceLoss: ${logpi.length} log-probs, ${baseline.length} baselines, ` +
        `${returns.length} returns`,
    );
  }
  let s = 0;
  for (let i = 0; i < returns.length; i++) s -= logpi[i] * (returns[i] - baseline[i]);
  return lambda * s / B;
}

/** Mean over the batch of the episode's total reward Σ_t r_t, from rewards (T, B). */
export function meanEpisodeReward(B: number, rewards: Float32Array): number {
  let s = 0;
  for (let i = 0; i < rewards.length; i++) s += rewards[i];
  return s / B;
}
