/**
 * Matrix-product variants side by side on the three operand layouts of a linear layer at the
 * RAM's sizes (default batch 128):
 *   NT forward y = x·Wᵀ (M = batch, N = out, K = in), NN dx = dy·W (M = batch, N = in,
 *   K = out), TN dW = dyᵀ·x (M = out, N = in, K = batch, or T·batch when --time-batched).
 * Every variant is first checked against kernels/matmul_ref.ts (bias, activation and
 * accumulation included) on the shape it is timed on; then each (shape, layout) times every
 * applicable variant round-robin (the machine is shared), REPS dispatches in one compute pass,
 * with device timestamps around the pass where the adapter has them (else wall time minus an
 * empty submission). GFLOP/s = 2·M·N·K·REPS / median pass time.
 *
 *   deno run -A bench/matmul_variants_bench.ts [--rounds 7] [--reps 16] [--only nt,nn,tn]
 *     [--variants 3,12] [--time-batched 6] [--layers 256x256,64x128]
 *
 * Run as a script it sweeps every layer of the RAM. Under `deno bench` (where it is one file of
 * many) the default sweep is bounded so the whole run finishes: every variant and layout, but
 * on two layers (256→256, the bulk of the FLOPs, and 256→10, few output columns) with
 * 3 rounds of 8 dispatches (QUICK_ROUNDS, QUICK_REPS); the whole sweep on an adapter
 * like llvmpipe took over 15 minutes. `deno bench -A bench/matmul_variants_bench.ts -- --full`
 * or GLIMPSE_BENCH_FULL=1 runs all of it there too; flags given override either default.
 *
 * --variants picks variants by the [index] printed beside them (the baseline [0] always runs);
 * --layers gives in×out sizes; --time-batched T makes dW sum over T·batch rows (one product per
 * weight over all glimpses).
 *
 * Variants live in bench/variants/*.wgsl; the vec4 family takes its block shape and
 * workgroup from override constants.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { requestGpu } from "../gpu/device.ts";
import type { Dispatch, Kernel } from "../gpu/kernel.ts";
import { read, type Tensor, tensor } from "../gpu/tensor.ts";
import { type Activation, matmulRef, type MatmulShape } from "../kernels/matmul_ref.ts";
import type { MatmulLayout } from "../kernels/matmul.ts";
import { assertClose, randomArray } from "../tests/_assert.ts";
import {
  bindVariant,
  layerShape,
  type Variant,
  variantKernel,
  VARIANTS,
} from "./variants/matmul.ts";

type Layout = MatmulLayout;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string" },
    reps: { type: "string" },
    full: { type: "boolean", default: false },
    only: { type: "string", default: "nt,nn,tn" },
    variants: { type: "string" },
    "time-batched": { type: "string", default: "1" },
    layers: { type: "string" },
  },
});
/** GLIMPSE_BENCH_FULL=1, read only where env access is granted (plain `deno bench` has none). */
function fullFromEnv(): boolean {
  const name = "GLIMPSE_BENCH_FULL";
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return false;
  return Deno.env.get(name) === "1";
}

/** Rounds and dispatches per pass of the bounded sweep under `deno bench`. */
const QUICK_ROUNDS = 3, QUICK_REPS = 8;
const full = import.meta.main || flags.full || fullFromEnv();
const ROUNDS = Number(flags.rounds ?? (full ? 7 : QUICK_ROUNDS));
const REPS = Number(flags.reps ?? (full ? 16 : QUICK_REPS));
const TB = Number(flags["time-batched"]);
const layouts = flags.only.split(",") as Layout[];
const picked = flags.variants
  ? VARIANTS.filter((_, i) => i === 0 || flags.variants!.split(",").includes(String(i)))
  : VARIANTS;

/** The RAM's linear layers at batch 128: [in, out]. */
const ALL_LAYERS: [number, number][] = [
  [256, 256],
  [64, 128],
  [128, 256],
  [256, 128],
  [256, 10],
  [2, 128],
];
/** The bounded sweep's layers: the largest product, and one with few output columns. */
const QUICK_LAYERS: [number, number][] = [[256, 256], [256, 10]];
const LAYERS: [number, number][] = flags.layers
  ? flags.layers.split(",").map((p) => p.split("x").map(Number) as [number, number])
  : full
  ? ALL_LAYERS
  : QUICK_LAYERS;
const BATCH = 128;

function shapeOf(l: Layout, inF: number, outF: number): MatmulShape {
  return layerShape(l, l === "tn" ? BATCH * TB : BATCH, inF, outF);
}

const gpu = await requestGpu();
const { device } = gpu;
const stamps = device.features.has("timestamp-query");
const kernelOf = (v: Variant, l: Layout) => variantKernel(gpu, v, l);
const bind = (
  k: Kernel,
  v: Variant,
  s: MatmulShape,
  bufs: [Tensor, Tensor, Tensor, Tensor],
  o: { accumulate: boolean; bias: boolean; act: Activation },
): Dispatch => bindVariant(gpu, k, v, s, bufs, o);

/** Runs the variant once with bias, accumulation and an activation, and compares. */
async function verify(v: Variant, l: Layout, s: MatmulShape): Promise<void> {
  const aLen = l === "tn" ? s.K * s.M : s.M * s.K, bLen = s.K * s.N;
  const A = randomArray(aLen, 11), Bm = randomArray(bLen, 12);
  const bias = randomArray(s.N, 13), C0 = randomArray(s.M * s.N, 14);
  const act: Activation = l === "nt" ? "relu" : "none";
  const want = C0.slice();
  matmulRef(s, A, Bm, bias, want, true, act);
  const gC = tensor(gpu, [s.M, s.N], "C", C0);
  const d = bind(await kernelOf(v, l), v, s, [
    tensor(gpu, [aLen], "A", A),
    tensor(gpu, [bLen], "B", Bm),
    tensor(gpu, [s.N], "bias", bias),
    gC,
  ], { accumulate: true, bias: true, act });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  d.encode(pass);
  pass.end();
  device.queue.submit([enc.finish()]);
  assertClose(await read(gpu, gC), want, {
    atol: 1e-4,
    rtol: 1e-4,
    label: `${v.name} ${l} ${s.M}×${s.N}×${s.K}`,
  });
}

/** Milliseconds of REPS dispatches in one pass. */
async function time(list: Dispatch[]): Promise<number> {
  const enc = device.createCommandEncoder();
  let qs: GPUQuerySet | null = null,
    resolve: GPUBuffer | null = null,
    staging: GPUBuffer | null = null;
  if (stamps) {
    qs = device.createQuerySet({ type: "timestamp", count: 2 });
    resolve = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    staging = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }
  const t0 = performance.now();
  const pass = enc.beginComputePass(
    qs
      ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
      : {},
  );
  for (const d of list) d.encode(pass);
  pass.end();
  if (qs) {
    enc.resolveQuerySet(qs, 0, 2, resolve!, 0);
    enc.copyBufferToBuffer(resolve!, 0, staging!, 0, 16);
  }
  device.queue.submit([enc.finish()]);
  if (staging) {
    await staging.mapAsync(GPUMapMode.READ);
    const ns = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    qs!.destroy();
    resolve!.destroy();
    staging.destroy();
    return Number(ns[1] - ns[0]) / 1e6;
  }
  await gpu.sync();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `${gpu.description}; ${REPS} dispatches per pass, median of ${ROUNDS} round-robin rounds, ` +
    `${stamps ? "device timestamps" : "wall time"}` +
    (full || flags.layers ? "" : `; layers ${LAYERS.map(([i, o]) => `${i}→${o}`).join(", ")} ` +
      "of the full sweep (deno run, --full or GLIMPSE_BENCH_FULL=1 for all)"),
);
for (const [inF, outF] of LAYERS) {
  for (const l of layouts) {
    const s = shapeOf(l, inF, outF);
    const flops = 2 * s.M * s.N * s.K;
    const aLen = l === "tn" ? s.K * s.M : s.M * s.K;
    const bufs: [Tensor, Tensor, Tensor, Tensor] = [
      tensor(gpu, [aLen], "A", randomArray(aLen, 1)),
      tensor(gpu, [s.K * s.N], "B", randomArray(s.K * s.N, 2)),
      tensor(gpu, [s.N], "bias", randomArray(s.N, 3)),
      tensor(gpu, [s.M, s.N], "C"),
    ];
    const runs: { v: Variant; list: Dispatch[]; ms: number[] }[] = [];
    for (const v of picked) {
      if (!v.applies(l, s)) continue;
      await verify(v, l, s);
      const k = await kernelOf(v, l);
      const o = { accumulate: l !== "nt", bias: l === "nt", act: "none" as Activation };
      runs.push({ v, list: Array.from({ length: REPS }, () => bind(k, v, s, bufs, o)), ms: [] });
    }
    for (const r of runs) await time(r.list); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of runs) r.ms.push(await time(r.list));
    }
    const base = median(runs[0].ms);
    console.log(
      `\n${l.toUpperCase()} ${s.M}×${s.N}×${s.K} (layer ${inF}→${outF}, ${
        (flops / 1e6).toFixed(2)
      } MFLOP)`,
    );
    for (const r of runs) {
      const ms = median(r.ms) / REPS;
      console.log(
        `  [${VARIANTS.indexOf(r.v)}] ${r.v.name.padEnd(36)} ${ms.toFixed(3).padStart(8)} ms  ${
          (flops / ms / 1e6).toFixed(2).padStart(6)
        } GFLOP/s  ×${(base / median(r.ms)).toFixed(2)}`,
      );
      for (const d of r.list) d.destroy();
    }
    for (const b of bufs) b.buffer.destroy();
  }
}
