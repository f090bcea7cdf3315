/**
 * The fast cpu backend's training step and evaluation rollout (ram/blas_cpu.ts on the machine's
 * BLAS) at the default config, batch 128, beside the TypeScript reference (ram/cpu.ts): on one
 * thread with the BLAS's own thread count, and split over the machine's cores in lanes
 * (ram/blas_lanes.ts, the default the CLI opens; it sets the BLAS to one thread, so it runs
 * after the one-lane variants).
 * Beside them, the cpu probes' element-wise kernels in their forms (groups "adam" and "bce";
 * bench/variants/bce.ts keeps the earlier BCE forms), and the ReLU forward and backward of the
 * RAM's workspace (group "relu": kernels/activation_ref.ts's loops on a lane's shared memory,
 * as before 1a575dd, against util/simd.ts's on a shared heap).
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
import { adamHoisted } from "../kernels/adam_ref.ts";
import { bceInPlace, bceScalar } from "../kernels/vae_ref.ts";
import { SimdHeap } from "../util/simd.ts";
import { reluBackwardFast, reluFast } from "../kernels/activation_ref.ts";
import { sharedF32 } from "../ram/blas_lanes.ts";
import { Rng } from "../util/rng.ts";
import { bceBranchless, bceBranchy } from "./variants/bce.ts";

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

// The element-wise kernels of the cpu probes' step, by form (the winners are in production):
// Adam over the VAE probe's 278,528 + 16 + … values (here 294,912) and its BCE at 128 × 784.
{
  const n = 294_912, rng = new Rng(5);
  const heap = SimdHeap.create(4 * n + 64);
  const arrays = (make: (k: number) => Float32Array) => {
    const [p, g, m, v] = [0, 1, 2, 3].map(() => make(n));
    rng.fillNormal(p);
    rng.fillNormal(g);
    return { p, g, m, v };
  };
  const js = arrays((k) => new Float32Array(k));
  let t = 0;
  Deno.bench({
    name: "adam 294,912 values: adamHoisted (JS, double)",
    group: "adam",
    baseline: true,
  }, () => {
    adamHoisted(js.p, js.g, js.m, js.v, ++t, { lr: 1e-3 });
  });
  if (heap) {
    const w = arrays((k) => heap.alloc(k));
    let tw = 0;
    Deno.bench(
      { name: "adam 294,912 values: WebAssembly f32x4 (util/simd.ts)", group: "adam" },
      () => {
        heap.adam(w.p, w.g, w.m, w.v, ++tw, { lr: 1e-3 });
      },
    );
  }
  const R = 128, P = 784, logits = new Float32Array(R * P), target = new Float32Array(R * P);
  // Background logits near −8 with targets 0, strokes near +2 with targets in (0, 1].
  for (let i = 0; i < logits.length; i++) {
    const stroke = rng.uniform(0, 1) < 0.2;
    logits[i] = stroke ? 2 + 2 * rng.normal() : -8 + 2 * rng.normal();
    target[i] = stroke ? rng.uniform(0, 1) : 0;
  }
  const x = new Float32Array(R * P), loss = new Float32Array(R), db = new Float32Array(P);
  const bceVariants = [
    ["branchy Math.exp (before)", bceBranchy],
    ["branchless Math.exp", bceBranchless],
    ["bceScalar: branchless, expNonPositive", bceScalar],
    ["bceInPlace: WebAssembly f32x4 (bceSimd), copies included", bceInPlace],
  ] as const;
  for (const [i, [label, f]] of bceVariants.entries()) {
    Deno.bench({ name: `bce 128 × 784: ${label}`, group: "bce", baseline: i === 0 }, () => {
      x.set(logits);
      f({ rows: R, pixels: P }, x, target, loss, db, 1 / R);
    });
  }
}

// The RAM's largest ReLU of a training step: the glimpse output over all T·B = 768 rows of 256,
// forward then backward, on normals (half negative).
{
  const n = 768 * 256, rng = new Rng(5);
  const heap = SimdHeap.create(4 * n + 64, { shared: true });
  const plain = [sharedF32(n), sharedF32(n), sharedF32(n)];
  const src = new Float32Array(n), dsrc = new Float32Array(n);
  rng.fillNormal(src);
  rng.fillNormal(dsrc);
  Deno.bench({
    name: "relu 768 × 256, forward and backward: JavaScript on shared memory",
    group: "relu",
    baseline: true,
  }, () => {
    const [y, dy] = plain;
    y.set(src);
    dy.set(dsrc);
    reluFast(y);
    reluBackwardFast(y, dy, dy);
  });
  if (heap) {
    const y = heap.alloc(n), dy = heap.alloc(n);
    Deno.bench({
      name: "relu 768 × 256, forward and backward: WebAssembly f32x4 (util/simd.ts)",
      group: "relu",
    }, () => {
      y.set(src);
      dy.set(dsrc);
      heap.relu(y);
      heap.reluBackward(y, dy, dy);
    });
  }
}
