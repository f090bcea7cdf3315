/**
 * Host-side arithmetic of a training step that both backends share, so they cannot drift:
 * the episodes a reward function sees, the checks on what it returns, and the step's loss
 * parts and accuracy.
 *
 * @module
 */
import type { Episodes } from "../rewards/types.ts";
import type { StepResult } from "./backend.ts";
import { argmaxRef, nllRef } from "../kernels/softmax_ref.ts";
import { baselineLoss, meanEpisodeReward, reinforceLoss } from "./returns.ts";

/**
 * The episodes of a forward pass: probs = exp(logp), predictions = first index of the maximum,
 * locations l_1..l_T.
 */
export function episodesFrom(
  T: number,
  B: number,
  C: number,
  logp: Float32Array, // (T, B, C)
  labels: Int32Array, // (B)
  locations: Float32Array, // (T, B, 2)
): Episodes {
  const probs = new Float32Array(T * B * C);
  for (let i = 0; i < probs.length; i++) probs[i] = Math.exp(logp[i]);
  const predictions = new Int32Array(T * B);
  for (let t = 0; t < T; t++) {
    argmaxRef(B, C, logp.subarray(t * B * C), predictions.subarray(t * B, (t + 1) * B));
  }
  return { T, B, C, probs, labels: labels.subarray(0, B), predictions, locations };
}

/** Throws one line naming `who` unless `rewards` is a Float32Array of T·B finite values. */
export function checkRewards(
  who: string,
  T: number,
  B: number,
  rewards: unknown,
): asserts rewards is Float32Array {
  if (!(rewards instanceof Float32Array) || rewards.length !== T * B) {
    throw new Error(
      `${who}: reward function returned ${describe(rewards)}, expected a ` +
        `Float32Array of T·B = ${T}·${B} values`,
    );
  }
  for (let i = 0; i < rewards.length; i++) {
    if (!Number.isFinite(rewards[i])) {
      throw new Error(
        `${who}: reward [${i}] (glimpse ${Math.floor(i / B) + 1}, ` +
          `sample ${i % B}) is ${rewards[i]}, not finite`,
      );
    }
  }
}

function describe(v: unknown): string {
  if (v instanceof Float32Array) return `${v.length} values`;
  if (v === null || typeof v !== "object") return String(v);
  return (v as object).constructor?.name ?? "an object";
}

/** The reported loss parts and accuracy of one step (ram/backend.ts StepResult). */
export function stepResult(
  B: number,
  C: number,
  lastLogp: Float32Array, // (B, C) log p_T
  labels: Int32Array, // (B)
  rewards: Float32Array, // (T, B)
  returns: Float32Array, // (T−1, B)
  logpi: Float32Array, // (T−1, B)
  baselines: Float32Array, // (T−1, B)
  lambda: number,
): StepResult {
  const nll = nllRef(B, C, lastLogp, labels);
  const baseline = baselineLoss(baselines, returns);
  const reinforce = reinforceLoss(B, logpi, baselines, returns, lambda);
  const pred = new Int32Array(B);
  argmaxRef(B, C, lastLogp, pred);
  let correct = 0;
  for (let b = 0; b < B; b++) if (pred[b] === labels[b]) correct++;
  return {
    nll,
    baseline,
    reinforce,
    loss: nll + baseline + reinforce,
    accuracy: correct / B,
    reward: meanEpisodeReward(B, rewards),
  };
}
