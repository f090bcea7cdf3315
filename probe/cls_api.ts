/**
 * The class probe's interface, whichever backend implements it. probe/cls.ts opens an
 * implementation; probe/cls_cpu.ts (the reference) and probe/cls_gpu.ts implement it.
 *
 * Rows: a rollout's states (T, B, H) are T·B rows, row r = t·B + b is glimpse t+1 of sample b,
 * compared with label b = r % B. The loss is the mean over rows of −log p_t(y).
 *
 * @module
 */
import type { TrainState } from "../ram/backend.ts";
import type { ClsConfig } from "./cls_params.ts";
import type { ProbePhases } from "./vae_api.ts";

/** What one training step reports: means over its T·B rows, before the update. */
export interface ClsStepResult {
  /** Mean −log p_t(y) over rows, nats. */
  nll: number;
  /** Fraction of rows whose argmax p_t is the label. */
  accuracy: number;
}

/** The class probe on one backend. */
export interface ClassProbe {
  /** Which backend runs it. */
  readonly name: "cpu" | "webgpu";
  /** The probe's sizes. */
  readonly config: ClsConfig;
  /**
   * One Adam step on a rollout's states `hidden` (T, B, H) with `labels` (B). Returns the loss
   * before the update.
   */
  trainStep(hidden: Float32Array, labels: Int32Array): Promise<ClsStepResult>;
  /** trainStep in synchronous parts (cpu probes only; sizes are checked at once). */
  phases?(hidden: Float32Array, labels: Int32Array): ProbePhases<ClsStepResult>;
  /**
   * The probe's belief log p_t(c): for a rollout's states (T, B, H) it returns (T, B, C); with
   * `glimpse` (1..T) every row of `hidden` (R, H) is read as a state after that glimpse and it
   * returns (R, C) (e.g. states of imagined next glimpses).
   */
  beliefs(hidden: Float32Array, glimpse?: number): Promise<Float32Array>;
  /** Copies parameters and Adam state to the host (names start with "classprobe."). */
  getState(): Promise<TrainState>;
  /** Loads parameters and Adam state (names and shapes must match the config). */
  setState(state: TrainState): void;
  /** Frees device resources. */
  dispose(): void;
}

/** Throws unless `labels` (B) fit `rows` = T·B and lie in 0..C−1; returns B. */
export function clsTargets(cfg: ClsConfig, rows: number, labels: Int32Array): number {
  const B = labels.length;
  if (B < 1 || rows !== cfg.glimpses * B) {
    throw new Error(
      `class probe: ${rows} states for ${B} labels, expected T·B = ${cfg.glimpses}·${B}`,
    );
  }
  for (let b = 0; b < B; b++) {
    if (!(labels[b] >= 0 && labels[b] < cfg.classes)) {
      throw new Error(
        `class probe: label ${labels[b]} of sample ${b} is outside 0..${cfg.classes - 1}`,
      );
    }
  }
  return B;
}

/** Mean NLL and accuracy of log-probabilities `logp` (R, C), row r against label r % B. */
export function clsScore(logp: Float32Array, labels: Int32Array, C: number): ClsStepResult {
  const R = logp.length / C, B = labels.length;
  let nll = 0, correct = 0;
  for (let r = 0; r < R; r++) {
    const y = labels[r % B];
    let best = 0;
    for (let c = 1; c < C; c++) if (logp[r * C + c] > logp[r * C + best]) best = c;
    if (best === y) correct++;
    nll -= logp[r * C + y];
  }
  return { nll: nll / R, accuracy: correct / R };
}
