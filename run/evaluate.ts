/**
 * Evaluation of a RAM on a split: error of the last glimpse's classifier and the accuracy after
 * every glimpse.
 *
 * Three modes: the policy's mean from the centre (deterministic, the default); `stochastic`,
 * sampling actions μ + σ·ε from a uniform first location as in training; and `mc` M > 1,
 * averaging the class probabilities of M stochastic rollouts before taking the argmax. `start`
 * picks the first location against the mode's default: "uniform" for the mean policy shows
 * whether it only works from the centre. Random draws come from (seed, rollout, batch), so a
 * result is reproducible.
 *
 * It also measures how far the glimpses move (first rollout, in input pixels, location l mapped
 * to ((lx+1)/2·W, (ly+1)/2·H)): the mean distance of glimpses 2..T from the first location, and
 * the share of images whose glimpses all stay within {@link STILL_PX} pixels of it.
 *
 * @module
 */
import type { Batch, RamBackend } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import type { Split } from "../datasets/types.ts";

/** Random stream of evaluation rollouts (independent of the trainer's streams). */
export const EVAL_STREAM = 0x6576616c; // "eval"

/** Random stream of uniform first locations for the mean policy (`start: "uniform"`). */
export const START_STREAM = 0x73747274; // "strt"

/** A glimpse sequence that stays within this many pixels of its first location counts as still. */
export const STILL_PX = 2;

/** Where the first glimpse is taken: the centre, or l_1 ~ U(−1, 1)² (seeded). */
export type EvalStart = "center" | "uniform";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Sample actions instead of following the policy mean (default false). */
  stochastic?: boolean;
  /** Stochastic rollouts averaged per image (default 1; more than 1 implies stochastic). */
  mc?: number;
  /** First location (default: "center" for the mean policy, "uniform" when stochastic). */
  start?: EvalStart;
  /** Seed of the stochastic draws (default 1). */
  seed?: number;
  /** Images per rollout (default 128); the backend must accept it. */
  batch?: number;
  /** Epoch passed to split.fill (default 0: the fixed test images of generated variants). */
  epoch?: number;
  /** Called after every batch with images done and total. */
  onBatch?: (done: number, total: number) => void;
}

/** What {@link evaluate} measured. */
export interface EvaluationResult {
  /** Images evaluated. */
  samples: number;
  /** Fraction misclassified after the last glimpse. */
  error: number;
  /** Fraction classified correctly after glimpse t = 1..T, index t−1. */
  accuracy: number[];
  /** Mean −ln p_T(y) of the (averaged) last-glimpse probabilities. */
  nll: number;
  /** "mean" (deterministic), or "stochastic" with `rollouts` ≥ 1 samples per image. */
  mode: "mean" | "stochastic";
  /** Rollouts per image (1 for "mean"). */
  rollouts: number;
  /** Where the first glimpse was taken. */
  start: EvalStart;
  /** Mean distance in pixels of glimpses 2..T from the first location (first rollout). */
  meanDistancePx: number;
  /** Share of images whose glimpses all stay within {@link STILL_PX} pixels of the first. */
  stillShare: number;
}

/**
 * Evaluates `backend` on every image of `split`.
 *
 * @example
 * ```ts
 * import { loadRun } from "./load_run.ts";
 * import { limitSplit } from "./trainer.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * import { evaluate } from "./evaluate.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * const test = limitSplit((await loadDataset("mnist-10k")).test, 50); // 5 of each digit
 * const r = await evaluate(run.ram, test, { mc: 2 });
 * console.log(`test error ${(100 * r.error).toFixed(2)}%`, r.accuracy);
 * run.close();
 * ```
 */
export async function evaluate(
  backend: RamBackend,
  split: Split,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const mc = options.mc ?? 1;
  if (!(Number.isInteger(mc) && mc >= 1)) throw new Error(`evaluate: mc = ${mc}: must be ≥ 1`);
  const stochastic = (options.stochastic ?? false) || mc > 1;
  const rollouts = stochastic ? mc : 1;
  const startMode: EvalStart = options.start ?? (stochastic ? "uniform" : "center");
  if (startMode !== "center" && startMode !== "uniform") {
    throw new Error(`evaluate: start "${startMode}": must be center or uniform`);
  }
  const seed = options.seed ?? 1;
  const maxBatch = options.batch ?? 128;
  const epoch = options.epoch ?? 0;
  const { height, width, glimpses: T, classes: C } = backend.config;
  const N = split.size;
  if (N === 0) throw new Error("evaluate: the split holds no images");

  // Buffers for the largest batch, reused; the last partial batch uses views of them.
  const images = new Float32Array(maxBatch * height * width); // (B, H, W)
  const labels = new Int32Array(maxBatch); // (B)
  const indices = new Int32Array(maxBatch);
  const start = new Float32Array(maxBatch * 2); // (B, 2)
  const policy = new Float32Array(Math.max(0, T - 1) * maxBatch * 2); // (T−1, B, 2)
  const probs = new Float64Array(T * maxBatch * C); // (T, B, C) summed over rollouts
  const correct = new Float64Array(T);
  let nllSum = 0, distanceSum = 0, still = 0;

  for (let first = 0, b = 0; first < N; first += maxBatch, b++) {
    const B = Math.min(maxBatch, N - first);
    for (let j = 0; j < B; j++) indices[j] = first + j;
    const idx = indices.subarray(0, B);
    const batch: Batch = {
      size: B,
      images: images.subarray(0, B * height * width),
      labels: labels.subarray(0, B),
    };
    split.fill(idx, epoch, batch.images);
    for (let j = 0; j < B; j++) labels[j] = split.labels[first + j];
    probs.fill(0, 0, T * B * C);
    for (let m = 0; m < rollouts; m++) {
      let rollout;
      const s = start.subarray(0, B * 2);
      if (stochastic) {
        // start then policy from one stream, as before `start` existed: same draws, same figures
        const rng = Rng.derive(seed, EVAL_STREAM, m, b);
        rng.fillUniform(s, -1, 1);
        const p = rng.fillNormal(policy.subarray(0, (T - 1) * B * 2));
        if (startMode === "center") s.fill(0);
        rollout = await backend.rollout(batch, {
          stochastic: true,
          start: s,
          policy: p,
          hidden: false,
        });
      } else {
        if (startMode === "uniform") Rng.derive(seed, START_STREAM, b).fillUniform(s, -1, 1);
        else s.fill(0);
        rollout = await backend.rollout(batch, { stochastic: false, start: s, hidden: false });
      }
      if (m === 0) {
        const moved = movement(rollout.locations, T, B, height, width);
        distanceSum += moved.distanceSum;
        still += moved.still;
      }
      const p = rollout.probs;
      if (p.length !== T * B * C) {
        throw new Error(
          `evaluate: ${backend.name} rollout gave ${p.length} probabilities, ${T * B * C} expected`,
        );
      }
      for (let i = 0; i < T * B * C; i++) probs[i] += p[i];
    }
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < B; j++) {
        const row = (t * B + j) * C;
        let best = 0;
        for (let c = 1; c < C; c++) if (probs[row + c] > probs[row + best]) best = c;
        if (best === labels[j]) correct[t]++;
        if (t === T - 1) nllSum -= Math.log(Math.max(probs[row + labels[j]] / rollouts, 1e-30));
      }
    }
    options.onBatch?.(first + B, N);
  }
  const accuracy = Array.from(correct, (c) => c / N);
  return {
    samples: N,
    error: 1 - accuracy[T - 1],
    accuracy,
    nll: nllSum / N,
    mode: stochastic ? "stochastic" : "mean",
    rollouts,
    start: startMode,
    meanDistancePx: T > 1 ? distanceSum / (N * (T - 1)) : 0,
    stillShare: still / N,
  };
}

/**
 * Sums over a batch of locations (T, B, 2): distances in pixels of glimpses 2..T from the first,
 * and the images whose glimpses all stay within {@link STILL_PX} of it.
 */
export function movement(
  locations: Float32Array,
  T: number,
  B: number,
  height: number,
  width: number,
): { distanceSum: number; still: number } {
  let distanceSum = 0, still = 0;
  for (let j = 0; j < B; j++) {
    const x0 = locations[j * 2], y0 = locations[j * 2 + 1];
    let far = 0;
    for (let t = 1; t < T; t++) {
      const at = (t * B + j) * 2;
      const d = Math.hypot(
        ((locations[at] - x0) / 2) * width,
        ((locations[at + 1] - y0) / 2) * height,
      );
      distanceSum += d;
      far = Math.max(far, d);
    }
    if (far <= STILL_PX) still++;
  }
  return { distanceSum, still };
}
