/**
 * The webgpu training step beside the adapter's own best matrix product: what fraction of the
 * GEMM rate the step achieves, and what it spends per step (dispatches, passes, submissions,
 * uploads, readbacks). Written for the software adapter (llvmpipe), where it is the figure CI
 * and browsers without a GPU see; it runs on any adapter.
 *
 *   LP_NUM_THREADS=1 deno run -A bench/llvmpipe_step.ts [--steps 20] [--warmup 3]
 *     [--rounds 5] [--reps 8] [--variants all|production] [--json]
 *
 * FLOPs of a step are the matrix products of forward and backward counted from the config
 * ({@link stepFlops}: 2·rows·in·out per product; dW and dx of every layer that needs them),
 * cross-checked against the sum of 2·M·N·K over the products a {@link RamProgram} binds.
 * Element-wise work (retina, softmax, policy, column sums, Adam) is not counted: it is under
 * 1% of the FLOPs. The step is `GpuRam.trainStep` as run/trainer.ts calls it (synthetic
 * images, the classification reward, fresh noise each step).
 *
 * Times are process CPU time (user + system, llvmpipe's threads included) as well as wall
 * time: the machines this runs on are shared, and wall time there also counts the time a
 * thread waits for a core. GFLOP/s = FLOPs / median time. The GEMM rate is the best over the
 * variants of bench/variants/matmul.ts (and the production kernels) at every product shape
 * the step uses and at 256×256×256, each timed as `reps` dispatches in one pass less an empty
 * submission, round-robin over the candidates of a shape, median of `rounds`; the ratio is step
 * GFLOP/s over that best, on CPU time. Step and products are both medians of CPU time.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { requestGpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { type Tensor, tensor } from "../gpu/tensor.ts";
import { GpuRam, ramKernels } from "../ram/gpu.ts";
import { RamProgram } from "../ram/gpu_program.ts";
import { type RamConfig, resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { flatLayout, flattenParams, initParams } from "../ram/params.ts";
import type { Batch, StepNoise } from "../ram/backend.ts";
import { retinaSize } from "../kernels/retina_ref.ts";
import { bindMatmul, layoutOf, matmulKernel, type MatmulLayout } from "../kernels/matmul.ts";
import type { MatmulShape } from "../kernels/matmul_ref.ts";
import { classificationReward } from "../tests/_ram_fixture.ts";
import { randomArray } from "../tests/_assert.ts";
import { Rng } from "../util/rng.ts";
import { bindVariant, layerShape, variantKernel, VARIANTS } from "./variants/matmul.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    rounds: { type: "string", default: "7" },
    reps: { type: "string", default: "4" },
    variants: { type: "string", default: "all" },
    json: { type: "boolean", default: false },
  },
});
const STEPS = Number(flags.steps), WARMUP = Number(flags.warmup);
const ROUNDS = Number(flags.rounds), REPS = Number(flags.reps);
if (flags.variants !== "all" && flags.variants !== "production") {
  throw new Error(
    `bench/llvmpipe_step.ts: --variants ${flags.variants}: must be all or production`,
  );
}

/**
 * Matrix-product FLOPs of one training step of the rnn-core RAM at batch B: the forward of
 * every layer (hh from the second glimpse on: h_0 = 0; the policy and baseline heads for the
 * T−1 actions), and in the backward dW of every layer, dx where a gradient flows on (not into
 * the retina, the location, or the detached h of the policy and baseline heads), with the
 * classifier's backward on glimpse T only (the loss reads log p_T).
 */
export function stepFlops(cfg: RamConfig, B: number): { forward: number; backward: number } {
  const T = cfg.glimpses, A = T - 1, H = cfg.hidden, P = cfg.policyHidden, C = cfg.classes;
  const R = retinaSize(cfg), Gh = cfg.glimpseHidden, Lh = cfg.locationHidden;
  const Go = cfg.glimpseOut, Hz = cfg.core === "lstm" ? 4 * H : H;
  const f = (rows: number, inF: number, outF: number) => 2 * rows * inF * outF;
  const forward = f(T * B, R, Gh) + f(T * B, 2, Lh) + f(T * B, Gh, Go) + f(T * B, Lh, Go) +
    f(T * B, Go, Hz) + f(A * B, H, Hz) + f(T * B, H, C) +
    f(A * B, H, P) + f(A * B, P, 2) + f(A * B, H, 1);
  const backward = f(B, H, C) * 2 + // cls dW, dh_T
    f(T * B, Go, Hz) * 2 + // ih dW, dg
    f(A * B, H, Hz) * 2 + // hh dW, dh_{t−1}
    f(T * B, Gh, Go) * 2 + f(T * B, Lh, Go) * 2 + // fc3, fc4 dW and dx
    f(T * B, R, Gh) + f(T * B, 2, Lh) + // fc1, fc2 dW
    f(A * B, P, 2) * 2 + f(A * B, H, P) + f(A * B, H, 1); // loc2 dW, dx; loc1, base dW
  return { forward, backward };
}

/** Counts of the WebGPU calls a step makes, by wrapping the prototypes' methods. */
const calls = {
  dispatches: 0,
  passes: 0,
  submits: 0,
  writeBuffers: 0,
  writeBytes: 0,
  copies: 0,
  maps: 0,
};
function count<T extends object>(proto: T, name: keyof T & string, on: (args: unknown[]) => void) {
  const original = proto[name] as (...args: unknown[]) => unknown;
  Object.defineProperty(proto, name, {
    value: function (this: unknown, ...args: unknown[]) {
      on(args);
      return original.apply(this, args);
    },
  });
}
count(GPUComputePassEncoder.prototype, "dispatchWorkgroups", () => calls.dispatches++);
count(GPUCommandEncoder.prototype, "beginComputePass", () => calls.passes++);
count(GPUCommandEncoder.prototype, "copyBufferToBuffer", () => calls.copies++);
count(GPUQueue.prototype, "submit", () => calls.submits++);
count(GPUQueue.prototype, "writeBuffer", (a) => {
  calls.writeBuffers++;
  calls.writeBytes += (a[2] as ArrayBufferView).byteLength;
});
count(GPUBuffer.prototype, "mapAsync", () => calls.maps++);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const c = cpuUsage(c0);
  return (c.user + c.system) / 1000;
};

const gpu = await requestGpu();
const cfg = resolveRamConfig();
const train = resolveTrainConfig();
const B = train.batch, T = cfg.glimpses, HW = cfg.height * cfg.width;
const flops = stepFlops(cfg, B);
const stepFlop = flops.forward + flops.backward;

// Products bound by the program, for the cross-check and the shapes to time.
const products = new Map<string, { shape: MatmulShape; layout: MatmulLayout | null; n: number }>();
let boundFlop = 0;
{
  const layout = flatLayout(cfg);
  const params = tensor(gpu, [layout.total], "params", flattenParams(initParams(cfg, 1), layout));
  const grads = tensor(gpu, [layout.total], "grads");
  const program = new RamProgram(
    gpu,
    cfg,
    await ramKernels(gpu),
    { layout, params, grads },
    B,
    train.lambda,
  );
  for (const d of [...program.forward, ...program.backwardLoss, ...program.backwardReward]) {
    const s = (d as Dispatch & { shape?: MatmulShape }).shape;
    if (!s) continue;
    boundFlop += 2 * s.M * s.N * s.K;
    if (s.K === 0) continue;
    const l = layoutOf(s);
    const key = `${l ?? "strided"} ${s.M}×${s.N}×${s.K}`;
    const e = products.get(key) ?? { shape: s, layout: l, n: 0 };
    e.n++;
    products.set(key, e);
  }
  program.destroy();
  params.buffer.destroy();
  grads.buffer.destroy();
}

// ---- the training step, as the trainer runs it ----
const ram = await GpuRam.create(gpu, cfg, train.seed);
const batch: Batch = { size: B, images: new Float32Array(B * HW), labels: new Int32Array(B) };
const noise: StepNoise = {
  start: new Float32Array(B * 2),
  policy: new Float32Array((T - 1) * B * 2),
};
const stepWall: number[] = [], stepCpu: number[] = [];
let perStep = { ...calls };
for (let k = 0; k < WARMUP + STEPS; k++) {
  const rng = new Rng(1000 + k);
  rng.fillUniform(batch.images, 0, 1);
  batch.labels.forEach((_, j) => batch.labels[j] = rng.int(cfg.classes));
  rng.fillUniform(noise.start, -1, 1);
  rng.fillNormal(noise.policy);
  const before = { ...calls };
  const t0 = performance.now(), c0 = cpuUsage();
  const r = await ram.trainStep(batch, classificationReward, noise, train);
  const wall = performance.now() - t0, cpu = cpuMs(c0);
  if (!Number.isFinite(r.loss)) throw new Error(`bench: the loss became ${r.loss}`);
  if (k >= WARMUP) {
    stepWall.push(wall);
    stepCpu.push(cpu);
  }
  perStep = Object.fromEntries(
    Object.entries(calls).map(([key, v]) => [key, v - before[key as keyof typeof calls]]),
  ) as typeof calls;
}
await gpu.sync();
ram.dispose();

// ---- the GEMMs ----
/** [CPU ms, wall ms] of one dispatch of `list` (all in one pass), less an empty submit. */
async function timeOnce(list: Dispatch[], empty: [number, number]): Promise<[number, number]> {
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const d of list) d.encode(pass);
  pass.end();
  const buf = enc.finish();
  const t0 = performance.now(), c0 = cpuUsage();
  gpu.device.queue.submit([buf]);
  await gpu.sync();
  const cpu = cpuMs(c0), wall = performance.now() - t0;
  return [
    Math.max(1e-6, cpu - empty[0]) / list.length,
    Math.max(1e-6, wall - empty[1]) / list.length,
  ];
}
async function emptySubmit(): Promise<[number, number]> {
  const cpu: number[] = [], wall: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now(), c0 = cpuUsage();
    gpu.device.queue.submit([gpu.device.createCommandEncoder().finish()]);
    await gpu.sync();
    cpu.push(cpuMs(c0));
    wall.push(performance.now() - t0);
  }
  return [median(cpu), median(wall)];
}
const empty = await emptySubmit();

interface GemmRow {
  key: string;
  n: number;
  flop: number;
  production: { name: string; cpuMs: number; wallMs: number };
  best: { name: string; cpuMs: number; wallMs: number };
}
const production = await matmulKernel(gpu);
const square: [string, MatmulShape][] = (["nt", "nn", "tn"] as MatmulLayout[]).map((l) => [
  `${l} 256×256×256 (square)`,
  layerShape(l, 256, 256, 256),
]);
const rows: GemmRow[] = [];
const toTime: [string, { shape: MatmulShape; layout: MatmulLayout | null; n: number }][] = [
  ...products.entries(),
  ...square.map(([key, s]): [string, { shape: MatmulShape; layout: MatmulLayout; n: number }] => [
    key,
    { shape: s, layout: layoutOf(s)!, n: 0 },
  ]),
];
for (const [key, { shape: s, layout: l, n }] of toTime) {
  const aLen = l === "tn" ? s.K * s.M : s.M * s.K;
  const bufs: [Tensor, Tensor, Tensor, Tensor] = [
    tensor(gpu, [Math.max(aLen, s.M * s.K)], "A", randomArray(Math.max(aLen, s.M * s.K), 1)),
    tensor(gpu, [s.K * s.N], "B", randomArray(s.K * s.N, 2)),
    tensor(gpu, [s.N], "bias", randomArray(s.N, 3)),
    tensor(gpu, [s.M, s.N], "C"),
  ];
  const flop = 2 * s.M * s.N * s.K;
  const candidates: { name: string; list: Dispatch[] }[] = [{
    name: `production (${production.strategy})`,
    list: Array.from(
      { length: REPS },
      () => bindMatmul(gpu, production, s, bufs[0], bufs[1], bufs[3], { accumulate: true }),
    ),
  }];
  if (flags.variants === "all" && l) {
    for (const v of VARIANTS) {
      if (!v.applies(l, s)) continue;
      const k = await variantKernel(gpu, v, l);
      const o = { accumulate: true, bias: false, act: "none" as const };
      candidates.push({
        name: `[${VARIANTS.indexOf(v)}] ${v.name}`,
        list: Array.from({ length: REPS }, () => bindVariant(gpu, k, v, s, bufs, o)),
      });
    }
  }
  // Round-robin, so that load from the machine's other work falls on every candidate alike.
  const cpu: number[][] = candidates.map(() => []), wall: number[][] = candidates.map(() => []);
  for (const c of candidates) await timeOnce(c.list, empty); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of candidates.entries()) {
      const [cm, wm] = await timeOnce(c.list, empty);
      cpu[i].push(cm);
      wall[i].push(wm);
    }
  }
  const timed = candidates.map((c, i) => ({
    name: c.name,
    cpuMs: median(cpu[i]),
    wallMs: median(wall[i]),
  }));
  for (const c of candidates) for (const d of c.list) d.destroy();
  const best = timed.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  rows.push({ key, n, flop, production: timed[0], best });
  for (const b of bufs) b.buffer.destroy();
}

// ---- report ----
const gflops = (flop: number, ms: number) => flop / ms / 1e6;
const stepCpuMs = median(stepCpu), stepWallMs = median(stepWall);
const bestGemm = rows.reduce((a, b) =>
  gflops(b.flop, b.best.cpuMs) > gflops(a.flop, a.best.cpuMs) ? b : a
);
const bestRate = gflops(bestGemm.flop, bestGemm.best.cpuMs);
const stepRows = rows.filter((r) => r.n > 0);
const atProduction = stepRows.reduce((s, r) => s + r.n * r.production.cpuMs, 0);
const atBest = stepRows.reduce((s, r) => s + r.n * r.best.cpuMs, 0);
const summary = {
  device: gpu.description,
  lpNumThreads: Deno.env.get("LP_NUM_THREADS") ?? null,
  config: { batch: B, glimpses: T, hidden: cfg.hidden, core: cfg.core },
  stepGflop: stepFlop / 1e9,
  forwardGflop: flops.forward / 1e9,
  backwardGflop: flops.backward / 1e9,
  boundGflop: boundFlop / 1e9,
  stepCpuMs,
  stepWallMs,
  stepGflopsCpu: gflops(stepFlop, stepCpuMs),
  stepGflopsWall: gflops(stepFlop, stepWallMs),
  bestGemm: { shape: bestGemm.key, kernel: bestGemm.best.name, gflopsCpu: bestRate },
  ratio: gflops(stepFlop, stepCpuMs) / bestRate,
  productsCpuMsAtProduction: atProduction,
  productsCpuMsAtBest: atBest,
  perStep,
};
if (flags.json) {
  console.log(JSON.stringify(summary));
} else {
  console.log(
    `${gpu.description}; LP_NUM_THREADS=${summary.lpNumThreads ?? "unset"}; batch ${B}, ${T} ` +
      `glimpses, hidden ${cfg.hidden}, ${cfg.core}`,
  );
  console.log(
    `step FLOPs (matrix products): ${summary.stepGflop.toFixed(4)} GFLOP (forward ` +
      `${summary.forwardGflop.toFixed(4)}, backward ${summary.backwardGflop.toFixed(4)}); ` +
      `bound by the program: ${summary.boundGflop.toFixed(4)}`,
  );
  console.log(
    `step: median ${stepCpuMs.toFixed(1)} ms CPU, ${stepWallMs.toFixed(1)} ms wall over ${STEPS} ` +
      `→ ${summary.stepGflopsCpu.toFixed(2)} GFLOP/s (CPU), ${
        summary.stepGflopsWall.toFixed(2)
      } (wall)`,
  );
  console.log(
    `per step: ${perStep.dispatches} dispatches in ${perStep.passes} passes, ${perStep.submits} ` +
      `submits, ${perStep.writeBuffers} uploads (${(perStep.writeBytes / 1024).toFixed(0)} KiB), ` +
      `${perStep.copies} buffer copies, ${perStep.maps} readbacks (mapAsync)`,
  );
  console.log(
    `best GEMM: ${bestRate.toFixed(2)} GFLOP/s (CPU) at ${bestGemm.key}, ${bestGemm.best.name}`,
  );
  console.log(`ratio step / best GEMM: ${(100 * summary.ratio).toFixed(1)}%`);
  console.log(
    `the step's products alone: ${atProduction.toFixed(1)} ms CPU on the production kernels, ` +
      `${atBest.toFixed(1)} ms at each shape's best variant (of ${stepCpuMs.toFixed(1)} ms)`,
  );
  console.log(
    `\n${"product".padEnd(26)} ${"n".padStart(2)}  ${"production".padStart(17)}  ` +
      `${"best variant".padStart(17)}`,
  );
  for (const r of rows) {
    const cell = (ms: number) =>
      `${ms.toFixed(3).padStart(7)} ms ${gflops(r.flop, ms).toFixed(1).padStart(5)}`;
    console.log(
      `${r.key.padEnd(26)} ${String(r.n).padStart(2)}  ${cell(r.production.cpuMs)}  ${
        cell(r.best.cpuMs)
      }  ${r.best.name}`,
    );
  }
}
