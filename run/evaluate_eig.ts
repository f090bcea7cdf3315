/**
 * The EIG table of a run on a split (shared DESIGN.md "Information gain"): every image rolled
 * out following the policy's mean from the centre, the per-glimpse log-probabilities fed to an
 * {@link EigAccumulator} batch by batch and, when the run has a VAE probe, the probe's
 * reconstruction MSE against each image's clean 28×28 digit after every glimpse; with a class
 * probe, its beliefs on the same states as a second set of rows (`classProbe`). A location
 * source (run/controls.ts) replaces the policy's choice of l_2..l_T.
 *
 * @module
 */
import type { Batch, RamBackend } from "../ram/backend.ts";
import type { Vae } from "../probe/vae.ts";
import type { ClassProbe } from "../probe/cls.ts";
import type { Split } from "../datasets/types.ts";
import { EigAccumulator, type EigTable } from "./eig_table.ts";
import { holdOutIndices, subset } from "../datasets/split.ts";

/** Options of {@link evaluateEig}. */
export interface EigEvalOptions {
  /** Images per rollout; default 128. */
  batch?: number;
  /**
   * Evaluate `limit` images only: a seeded sample stratified by label (every class keeps its
   * share; a prefix of a split stored class by class would be one digit). Default all.
   */
  limit?: number;
  /** Seed of the `limit` sample; default 1. The same seed gives the same images. */
  seed?: number;
  /** Epoch passed to split.fill; default 0 (the fixed test images of generated variants). */
  epoch?: number;
  /**
   * The class probe: its beliefs on the same states fill the table's `classProbe` rows
   * (probe/cls.ts).
   */
  classProbe?: ClassProbe | null;
  /**
   * Locations l_2..l_T (T−1, B, 2) for images `indices` starting at `start` (B, 2), instead of
   * the policy's (run/controls.ts); undefined keeps the policy's.
   */
  locations?: (indices: number[], start: Float32Array) => Float32Array | undefined;
  /** Called after every batch with images done and total. */
  onBatch?: (done: number, total: number) => void;
}

/**
 * The EIG table of `ram` (and its probe `vae`, if any) on `split`.
 *
 * @example
 * ```ts
 * import { loadRun } from "./load_run.ts";
 * import { loadDataset } from "../datasets/load.ts";
 * import { evaluateEig } from "./evaluate_eig.ts";
 * import { eigMarkdown } from "../report/eig.ts";
 * const run = await loadRun("checkpoints/mnist-entropy", { backend: "cpu" });
 * const dataset = await loadDataset("mnist-10k");
 * console.log(eigMarkdown(await evaluateEig(run.ram, run.vae, dataset.test, { limit: 50 })));
 * run.close();
 * ```
 */
export async function evaluateEig(
  ram: RamBackend,
  vae: Vae | null,
  split: Split,
  options: EigEvalOptions = {},
): Promise<EigTable> {
  const { height, width, glimpses: T, classes: C } = ram.config;
  const maxBatch = options.batch ?? 128;
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) {
    throw new Error(`evaluateEig: batch ${maxBatch} must be a positive integer`);
  }
  const limit = options.limit ?? split.size;
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new Error(`evaluateEig: limit ${limit} must be a positive integer`);
  }
  if (split.size === 0) throw new Error("evaluateEig: the split holds no images");
  // the sample's image j is the split's picked[j]: controls place glimpses by split index
  const picked = limit < split.size
    ? holdOutIndices(split.labels, limit, options.seed ?? 1).validation
    : null;
  const sample = picked ? subset(split, picked) : split;
  const N = sample.size;
  const pixels = vae?.config.pixels ?? 0;
  if (vae && pixels !== 28 * 28) {
    throw new Error(`evaluateEig: the probe reconstructs ${pixels} pixels, the clean digits 784`);
  }
  const acc = new EigAccumulator(T, C);
  const cls = options.classProbe ?? null;
  const probeAcc = cls ? new EigAccumulator(T, C) : null;
  const images = new Float32Array(maxBatch * height * width); // (B, H, W)
  const clean = new Float32Array(maxBatch * pixels); // (B, 28, 28)
  const labels = new Int32Array(maxBatch); // (B)
  const start = new Float32Array(maxBatch * 2); // (B, 2): the centre
  for (let first = 0; first < N; first += maxBatch) {
    const B = Math.min(maxBatch, N - first);
    const idx = Array.from({ length: B }, (_, j) => first + j);
    const batch: Batch = {
      size: B,
      images: images.subarray(0, B * height * width),
      labels: labels.subarray(0, B),
    };
    sample.fill(
      idx,
      options.epoch ?? 0,
      batch.images,
      vae ? clean.subarray(0, B * pixels) : undefined,
    );
    for (let j = 0; j < B; j++) labels[j] = sample.labels[first + j];
    const first2 = start.subarray(0, 2 * B);
    const rollout = await ram.rollout(batch, {
      stochastic: false,
      start: first2,
      locations: options.locations?.(picked ? idx.map((j) => picked[j]) : idx, first2),
    });
    if (rollout.logp.length !== T * B * C) {
      throw new Error(
        `evaluateEig: ${ram.name} rollout gave ${rollout.logp.length} log-probabilities, ` +
          `${T * B * C} expected`,
      );
    }
    const mse = vae
      ? await vae.reconstructionError(rollout.hidden, clean.subarray(0, B * pixels)) // (T, B)
      : undefined;
    acc.add(rollout.logp, batch.labels, mse);
    if (cls && probeAcc) probeAcc.add(await cls.beliefs(rollout.hidden), batch.labels);
    options.onBatch?.(first + B, N);
  }
  return { ...acc.table(), classProbe: probeAcc ? probeAcc.table().rows : null };
}
