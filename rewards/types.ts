/**
 * The reward seam between the trainer and reward functions (built-in or plugin).
 *
 * Glimpses t = 1..T are stored at index t−1. A reward function returns r_t for every glimpse
 * and sample as a (T, B) array: index (t−1)·B + b. The trainer credits action a_t (taken after
 * glimpse t, t < T) with the return G_{t+1} = Σ_{k=t+1..T} r_k (see shared DESIGN.md).
 *
 * @module
 */

/** One batch of episodes, as a reward function sees it. */
export interface Episodes {
  /** Glimpses per episode. */
  T: number;
  /** Episodes (samples) in the batch. */
  B: number;
  /** Classes. */
  C: number;
  /** Class probabilities after every glimpse, (T, B, C). */
  probs: Float32Array;
  /** True class of every sample, (B). */
  labels: Int32Array;
  /** argmax of probs after every glimpse, (T, B). */
  predictions: Int32Array;
  /** Location (lx column, ly row) in [−1, 1] of every glimpse, (T, B, 2). */
  locations: Float32Array;
}

/** Maps a batch of episodes to rewards (T, B). May be asynchronous (plugins run in a Worker). */
export type RewardFn = (episodes: Episodes) => Float32Array | Promise<Float32Array>;
