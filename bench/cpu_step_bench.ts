/**
 * The fast cpu backend's training step and evaluation rollout (ram/blas_cpu.ts on the machine's
 * BLAS) at the default config, batch 128, beside the TypeScript reference (ram/cpu.ts): on one
 * thread with the BLAS's own thread count, and split over the machine's cores in lanes
 * (ram/blas_lanes.ts, the default the CLI opens; it sets the BLAS to one thread, so it runs
 * after the one-lane variants).
 * A training step costs about 0.97 GFLOP of products (forward 0.34, backward 0.63, as bench/llvmpipe_step.ts counts them), a rollout 0.34: divide
 * by the time per iteration for GFLOP/s. Skipped, saying so, without a BLAS.
 *
 *   deno bench -A bench/cpu_step_bench.ts
 *
 * @module
 */
import { BlasRam } from "../ram/blas_cpu.ts";
import { CpuRam } from "../ram/cpu.ts";
import { resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { loadBlas } from "../util/blas.ts";
import { defaultCpuLanes } from "../run/backend.ts";
import { classificationReward, randomBatch, randomNoise } from "../tests/_ram_fixture.ts";

const blas = loadBlas();
if (!blas) console.log("cpu_step_bench: no BLAS library opens; only the reference runs");
const cfg = resolveRamConfig(), train = resolveTrainConfig(), B = train.batch;
const batch = randomBatch(cfg, B, 1), noise = randomNoise(cfg, B, 2);
const fast = blas ? new BlasRam(cfg, 1, blas) : null;
const ref = new CpuRam(cfg, 1);
const lanes = defaultCpuLanes();
let laned: BlasRam | null = null;
/** The lanes' RAM, opened on first use (after the one-lane benches, which it would change). */
const lanedRam = () => (laned ??= new BlasRam(cfg, 1, blas!, { lanes }));

Deno.bench({
  name: "train step, TypeScript reference",
  group: "train step (batch 128, 0.97 GFLOP)",
  baseline: true,
  n: 3,
  warmup: 1,
  fn: async () => {
    await ref.trainStep(batch, classificationReward, noise, train);
  },
});

Deno.bench({
  name: `train step, BLAS (${blas?.description ?? "none"})`,
  group: "train step (batch 128, 0.97 GFLOP)",
  ignore: !fast,
  fn: async () => {
    await fast!.trainStep(batch, classificationReward, noise, train);
  },
});

Deno.bench({
  name: `eval rollout, BLAS`,
  group: "eval rollout (batch 128, 0.34 GFLOP)",
  ignore: !fast,
  fn: async () => {
    await fast!.rollout(batch, { stochastic: false });
  },
});

Deno.bench({
  name: `train step, BLAS, ${lanes} lanes × 1 thread`,
  group: "train step (batch 128, 0.97 GFLOP)",
  ignore: !fast || lanes < 2,
  fn: async () => {
    await lanedRam().trainStep(batch, classificationReward, noise, train);
  },
});

Deno.bench({
  name: `eval rollout, BLAS, ${lanes} lanes × 1 thread`,
  group: "eval rollout (batch 128, 0.34 GFLOP)",
  ignore: !fast || lanes < 2,
  fn: async () => {
    await lanedRam().rollout(batch, { stochastic: false, hidden: false });
  },
});

globalThis.addEventListener("unload", () => laned?.dispose());
