/**
 * Where a webgpu training step goes: every dispatch of one step (forward, backward, Adam) at
 * the default config, timed on the device with timestamp queries (one compute pass per
 * dispatch, each with begin/end timestamps), summed by kernel and shape, beside the wall time
 * of the whole step recorded as GpuRam records it (forward and backward in one submission here).
 *
 *   deno run -A bench/step_profile.ts [--reps 5] [--method timestamp|repeat|cpu] [--top 30]
 *
 * `--method repeat` times each dispatch by encoding it 20 times in one pass and waiting for the
 * queue (wall clock, minus an empty submission), for adapters without timestamp-query.
 * `--method cpu` (the default on software adapters) encodes each dispatch 20 times and takes
 * the process CPU time (user + system, llvmpipe's worker threads included) around the
 * submission, which on llvmpipe returns only once the work has run: the work a dispatch costs,
 * unlike wall time or timestamps, which on a loaded machine also count the time its threads
 * wait for a core (the same 16 products measured 15–80 ms wall for 15 ms of CPU).
 * Matmul rows are named by operand layout: NT = x·Wᵀ (forward), NN = dy·W (dx),
 * TN = dyᵀ·x (dW), with M×N×K.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { requestGpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { upload } from "../gpu/tensor.ts";
import { ramKernels } from "../ram/gpu.ts";
import { RamProgram } from "../ram/gpu_program.ts";
import { resolveRamConfig } from "../ram/config.ts";
import { flatLayout, initParams } from "../ram/params.ts";
import { FlatState } from "../ram/flat_state.ts";
import { adamKernels } from "../kernels/adam.ts";
import { layoutOf, MatmulDispatch } from "../kernels/matmul.ts";
import { Rng } from "../util/rng.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    method: { type: "string" },
    top: { type: "string", default: "40" },
    core: { type: "string", default: "rnn" },
  },
});
const reps = Number(flags.reps);
const gpu = await requestGpu();
const { device } = gpu;
const method = flags.method ??
  (gpu.isSoftware ? "cpu" : device.features.has("timestamp-query") ? "timestamp" : "repeat");
if (method !== "timestamp" && method !== "repeat" && method !== "cpu") {
  throw new Error(
    `bench/step_profile.ts: --method ${flags.method}: must be timestamp, repeat or cpu`,
  );
}

const cfg = resolveRamConfig({ core: flags.core });
const B = 128, T = cfg.glimpses;
const state = new FlatState(gpu, flatLayout(cfg), initParams(cfg, 1), "");
const program = new RamProgram(gpu, cfg, await ramKernels(gpu), state, B, 0.01);
const adam = state.adam(await adamKernels(gpu), [{ lr: 3e-4 }]);
const rng = new Rng(5);
upload(gpu, program.images, rng.fillUniform(new Float32Array(B * cfg.height * cfg.width), 0, 1));
upload(gpu, program.labels, Float32Array.from({ length: B }, () => rng.int(cfg.classes)));
upload(gpu, program.start, rng.fillUniform(new Float32Array(2 * B), -1, 1));
upload(gpu, program.eps, rng.fillNormal(new Float32Array(program.eps.size)));
upload(gpu, program.returns, rng.fillUniform(new Float32Array(program.returns.size), 0, 1));
upload(gpu, program.adv, rng.fillUniform(new Float32Array(program.adv.size), -1, 1));

const phases: [string, Dispatch[]][] = [
  ["forward", program.forward],
  ["backward (loss)", program.backwardLoss],
  ["backward (reward)", program.backwardReward],
  ["adam", adam],
];
const all = phases.flatMap(([phase, list]) => list.map((d) => ({ phase, d })));

function label(d: Dispatch): string {
  if (d instanceof MatmulDispatch) {
    const s = d.shape;
    const kind = { nt: "NT x·Wᵀ", nn: "NN dy·W", tn: "TN dyᵀ·x" }[layoutOf(s) ?? "nt"];
    return `${d.kernel.name} ${layoutOf(s) ? kind : "strided"} ${s.M}×${s.N}×${s.K}`;
  }
  return `${d.kernel.name} [${d.workgroups.join("×")}]`;
}

/** Milliseconds of the whole step (forward and backward passes), submitted once and waited for. */
let wholeCpu: number[] = [];
async function wholeStep(): Promise<number> {
  const t0 = performance.now(), c0 = cpuUsage();
  const enc = device.createCommandEncoder();
  program.encodeForward(enc);
  program.encodeBackwardLoss(enc);
  program.encodeBackwardReward(enc, adam);
  device.queue.submit([enc.finish()]);
  await gpu.sync();
  const c = cpuUsage(c0);
  wholeCpu.push((c.user + c.system) / 1000);
  return performance.now() - t0;
}

async function emptySubmit(): Promise<number> {
  const t0 = performance.now();
  device.queue.submit([device.createCommandEncoder().finish()]);
  await gpu.sync();
  return performance.now() - t0;
}

/** Device milliseconds of every dispatch, from timestamps around one pass each. */
async function timestamps(): Promise<number[]> {
  const n = all.length;
  const qs = device.createQuerySet({ type: "timestamp", count: 2 * n });
  const resolve = device.createBuffer({
    size: 16 * n,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size: 16 * n,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  all.forEach(({ d }, i) => {
    const pass = enc.beginComputePass({
      timestampWrites: {
        querySet: qs,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
    d.encode(pass);
    pass.end();
  });
  enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, staging, 0, 16 * n);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const ns = new BigUint64Array(staging.getMappedRange().slice(0));
  staging.unmap();
  gpu.check();
  const period = 1; // timestamps are nanoseconds in WebGPU
  const out = Array.from({ length: n }, (_, i) => Number(ns[2 * i + 1] - ns[2 * i]) * period / 1e6);
  qs.destroy();
  resolve.destroy();
  staging.destroy();
  return out;
}

/** Wall milliseconds of every dispatch, each encoded 20 times in one pass. */
async function repeated(): Promise<number[]> {
  const R = 20, empty = await emptySubmit();
  const out: number[] = [];
  for (const { d } of all) {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < R; r++) d.encode(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
    await gpu.sync();
    out.push(Math.max(0, performance.now() - t0 - empty) / R);
  }
  return out;
}

/** Process CPU milliseconds of every dispatch, each encoded 20 times in one submission. */
function cpuTimes(): number[] {
  const R = 20;
  return all.map(({ d }) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < R; r++) d.encode(pass);
    pass.end();
    const buf = enc.finish();
    const c0 = cpuUsage();
    device.queue.submit([buf]);
    const c = cpuUsage(c0);
    return (c.user + c.system) / 1000 / R;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await wholeStep(); // warm-up
wholeCpu = [];
const stepMs: number[] = [], emptyMs: number[] = [];
const per: number[][] = all.map(() => []);
for (let r = 0; r < reps; r++) {
  stepMs.push(await wholeStep());
  emptyMs.push(await emptySubmit());
  const t = method === "timestamp"
    ? await timestamps()
    : method === "cpu"
    ? (await gpu.sync(), cpuTimes())
    : await repeated();
  t.forEach((x, i) => per[i].push(x));
}
const each = per.map(median);

console.log(
  `${gpu.description}; batch ${B}, ${T} glimpses, ${cfg.core}, ` +
    `${program.timeBatched ? "time-batched" : "per-glimpse"} backward; ${all.length} dispatches ` +
    `(${phases.map(([name, list]) => `${name} ${list.length}`).join(", ")})`,
);
console.log(
  `whole step: median ${median(stepMs).toFixed(1)} ms wall, ${
    median(wholeCpu).toFixed(1)
  } ms process CPU ` +
    `(an empty submit + wait: ${median(emptyMs).toFixed(1)} ms); ` +
    `sum of per-dispatch ${method} times: ${each.reduce((a, b) => a + b, 0).toFixed(1)} ms`,
);
for (const [phase] of phases) {
  const ms = all.reduce((s, x, i) => s + (x.phase === phase ? each[i] : 0), 0);
  console.log(`  ${phase.padEnd(18)} ${ms.toFixed(2).padStart(8)} ms`);
}
const groups = new Map<string, { ms: number; count: number }>();
all.forEach(({ d }, i) => {
  const g = groups.get(label(d)) ?? { ms: 0, count: 0 };
  g.ms += each[i];
  g.count++;
  groups.set(label(d), g);
});
const total = each.reduce((a, b) => a + b, 0);
console.log(
  `\n${"kernel (shape)".padEnd(44)} ${"count".padStart(5)} ${"ms/step".padStart(8)}  share`,
);
[...groups.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(flags.top)).forEach(
  ([name, g]) =>
    console.log(
      `${name.padEnd(44)} ${String(g.count).padStart(5)} ${g.ms.toFixed(2).padStart(8)}  ${
        (100 * g.ms / total).toFixed(1).padStart(5)
      }%`,
    ),
);
program.destroy();
