/**
 * The cpu backend over several cores (ram/blas_lanes.ts): a training step or rollout whose
 * batch is split over lanes gives the one-lane numbers to float rounding, for rnn and lstm
 * cores, with the rows in their places (rewards, hidden states, locations), in every rollout
 * mode, across batches that do and do not split. Skipped, saying so, where no BLAS opens.
 */
import assert from "node:assert/strict";
import { resolveTrainConfig } from "../ram/config.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import {
  adoptWorkspace,
  BlasLanes,
  laneBuffers,
  laneSplit,
  type LaneWorker,
  MIN_LANE_ROWS,
  packArrays,
  sharedF32,
  spawnLaneWorker,
  unpackArrays,
} from "../ram/blas_lanes.ts";
import { bindBlasNet, blasLayout, packParams, sumBiases } from "../ram/blas_layout.ts";
import { blasBackward, blasForward, noiseFill, Workspace } from "../ram/blas_pass.ts";
import { SimdHeap } from "../util/simd.ts";
import { initParams } from "../ram/params.ts";
import { loadBlas } from "../util/blas.ts";
import { defaultCpuLanes } from "../run/backend.ts";
import type { Episodes } from "../rewards/types.ts";
import { assertClose } from "./_assert.ts";
import { randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

const blas = loadBlas();
const ignore = blas === null;
if (ignore) console.log("blas_lanes_test: skipped, no BLAS library opens");

Deno.test("lane splits: whole lanes of at least MIN_LANE_ROWS rows, covering the batch", () => {
  assert.equal(MIN_LANE_ROWS, 32);
  assert.deepEqual(laneSplit(128, 2), [0, 64, 128]);
  assert.deepEqual(laneSplit(63, 2), [0, 63]);
  assert.deepEqual(laneSplit(64, 2), [0, 32, 64]);
  assert.deepEqual(laneSplit(100, 4), [0, 33, 67, 100]);
  assert.deepEqual(laneSplit(1000, 1), [0, 1000]);
  assert.deepEqual(laneSplit(5, 8), [0, 5]);
});

Deno.test("lanes must be a whole number ≥ 1", { ignore }, () => {
  assert.throws(() => new BlasRam(tinyConfig(), 1, blas!, { lanes: 0 }), /lanes 0/);
  assert.throws(() => new BlasRam(tinyConfig(), 1, blas!, { lanes: 1.5 }), /lanes 1.5/);
});

/** A reward that depends on the row, so a row put in the wrong place changes the gradients. */
function rowReward(e: Episodes): Float32Array {
  const r = new Float32Array(e.T * e.B);
  for (let t = 0; t < e.T; t++) {
    for (let b = 0; b < e.B; b++) {
      const hit = e.predictions[t * e.B + b] === e.labels[b] ? 1 : 0;
      r[t * e.B + b] = hit + 0.01 * (b % 7) + 0.1 * e.locations[(t * e.B + b) * 2];
    }
  }
  return r;
}

for (const core of ["rnn", "lstm"] as const) {
  Deno.test({
    name: `cpu lanes (${core}): training steps and rollouts match one lane`,
    ignore,
    fn: async () => {
      const cfg = tinyConfig({ core, glimpses: 4 });
      const one = new BlasRam(cfg, 3, blas!), two = new BlasRam(cfg, 3, blas!, { lanes: 2 });
      // Three learning rates: Adam's ranges over the lanes cut across the groups.
      const train = resolveTrainConfig({ lr: 1e-2, policyLr: 3e-2, baselineLr: 5e-3 });
      const tol = { atol: 2e-5, rtol: 1e-3 };
      try {
        // 70 and 65 split in two; 20 runs on one lane; sizes change the lanes' buffers.
        for (const [k, B] of [70, 20, 65, 70].entries()) {
          const batch = randomBatch(cfg, B, 40 + k), noise = randomNoise(cfg, B, 50 + k);
          const h1 = new Float32Array(cfg.glimpses * B * cfg.hidden), h2 = h1.slice();
          const a = await one.trainStep(batch, rowReward, noise, train, { hidden: h1 });
          const b = await two.trainStep(batch, rowReward, noise, train, { hidden: h2 });
          for (
            const key of ["loss", "nll", "baseline", "reinforce", "accuracy", "reward"] as const
          ) {
            assertClose([b[key]], [a[key]], { ...tol, label: `${core} step ${k} ${key}` });
          }
          assertClose(h2, h1, { ...tol, label: `${core} step ${k} hidden` });
        }
        const [sa, sb] = [await one.getState(), await two.getState()];
        for (const key of ["params", "adamM", "adamV"] as const) {
          for (const [name, t] of sa[key]) {
            assertClose(sb[key].get(name)!.data, t.data, { ...tol, label: `${key} ${name}` });
          }
        }
        const B = 66, batch = randomBatch(cfg, B, 99), noise = randomNoise(cfg, B, 98);
        const given = new Float32Array((cfg.glimpses - 1) * B * 2).map((_, i) => Math.sin(i) * 0.9);
        const modes = [
          { stochastic: false },
          { stochastic: true, ...noise },
          { stochastic: false, locations: given },
        ];
        for (const options of modes) {
          const ra = await one.rollout(batch, options), rb = await two.rollout(batch, options);
          const what = `${core} rollout ${options.locations ? "given" : options.stochastic}`;
          assertClose(rb.logp, ra.logp, { ...tol, label: `${what} logp` });
          assertClose(rb.hidden, ra.hidden, { ...tol, label: `${what} hidden` });
          assertClose(rb.locations, ra.locations, { ...tol, label: `${what} locations` });
          assert.deepEqual(rb.predictions, ra.predictions, what);
          const bare = await two.rollout(batch, { ...options, hidden: false });
          assert.equal(bare.hidden.length, 0, `${what}: hidden: false copies no states`);
          assert.deepEqual(bare.logp, rb.logp, `${what}: and changes nothing else`);
        }
      } finally {
        one.dispose();
        two.dispose();
      }
    },
  });
}

Deno.test({
  name: "cpu lanes: bad inputs fail as on one lane, and the lanes go on working after",
  ignore,
  fn: async () => {
    const cfg = tinyConfig({ glimpses: 3 });
    const two = new BlasRam(cfg, 1, blas!, { lanes: 2 });
    try {
      const B = 64, batch = randomBatch(cfg, B, 1), noise = randomNoise(cfg, B, 2);
      const train = resolveTrainConfig();
      await assert.rejects(
        two.trainStep(batch, rowReward, { ...noise, start: new Float32Array(3) }, train),
        /start locations have 3 values, expected 128/,
      );
      await assert.rejects(
        two.trainStep(batch, () => new Float32Array(5), noise, train),
        /reward function returned 5 values/,
      );
      const ok = await two.trainStep(batch, rowReward, noise, train);
      assert.ok(Number.isFinite(ok.loss));
    } finally {
      two.dispose();
    }
  },
});

Deno.test({
  name: "cpu lanes: shareCore gives a core to another thread, and the numbers stay one lane's",
  ignore,
  fn: async () => {
    const cfg = tinyConfig({ glimpses: 3 });
    const one = new BlasRam(cfg, 4, blas!), three = new BlasRam(cfg, 4, blas!, { lanes: 3 });
    try {
      const train = resolveTrainConfig({ lr: 1e-2 }), tol = { atol: 2e-5, rtol: 1e-3 };
      for (let k = 0; k < 3; k++) {
        if (k === 1) three.shareCore(); // 3 → 2 lanes after the lanes opened
        if (k === 2) three.shareCore(); // → 1
        const B = 100, batch = randomBatch(cfg, B, k), noise = randomNoise(cfg, B, 10 + k);
        const a = await one.trainStep(batch, rowReward, noise, train);
        const b = await three.trainStep(batch, rowReward, noise, train);
        assertClose([b.loss], [a.loss], { ...tol, label: `step ${k}` });
      }
      assert.equal(three.lanes, 1);
      three.shareCore();
      assert.equal(three.lanes, 1, "never below one lane");
      const [sa, sb] = [await one.getState(), await three.getState()];
      for (const [name, t] of sa.params) {
        assertClose(sb.params.get(name)!.data, t.data, { ...tol, label: name });
      }
    } finally {
      one.dispose();
      three.dispose();
    }
  },
});

Deno.test("GLIMPSE_CPU_LANES sets the lanes; a bad value is refused by name", () => {
  const before = Deno.env.get("GLIMPSE_CPU_LANES");
  try {
    Deno.env.set("GLIMPSE_CPU_LANES", "3");
    assert.equal(defaultCpuLanes(), 3);
    for (const bad of ["0", "-2", "1.5", "two"]) {
      Deno.env.set("GLIMPSE_CPU_LANES", bad);
      assert.throws(
        () => defaultCpuLanes(),
        new RegExp(`^Error: GLIMPSE_CPU_LANES=${bad}: must be a whole number ≥ 1$`),
      );
    }
    Deno.env.delete("GLIMPSE_CPU_LANES");
    const cores = navigator.hardwareConcurrency;
    assert.equal(defaultCpuLanes(), Math.max(1, Math.min(4, cores)));
  } finally {
    if (before === undefined) Deno.env.delete("GLIMPSE_CPU_LANES");
    else Deno.env.set("GLIMPSE_CPU_LANES", before);
  }
});

Deno.test({
  name: "cpu lanes: a lane's Worker that dies fails the step with a message, not a hang",
  ignore,
  fn: async () => {
    const cfg = tinyConfig({ glimpses: 3 });
    const n = blasLayout(cfg).total;
    const flat = {
      params: sharedF32(n),
      m: sharedF32(n),
      v: sharedF32(n),
      grads: [sharedF32(n), sharedF32(n)],
      memory: null, // plain SharedArrayBuffers: the lanes run without the SIMD heap too
    };
    packParams(blasLayout(cfg), initParams(cfg, 1), flat.params);
    const spawned: LaneWorker[] = [];
    const spawn = async () => {
      const w = await spawnLaneWorker();
      spawned.push(w);
      return w;
    };
    blas!.setThreads(1);
    const lanes = await BlasLanes.open(cfg, flat, 2, blas!, spawn);
    try {
      const B = 64, batch = randomBatch(cfg, B, 1), noise = randomNoise(cfg, B, 2);
      const ws = new Workspace(cfg, B);
      const eps = { mode: "noise" as const, eps: noise.policy };
      await lanes.forward(ws, B, batch.images, batch.labels, noise.start, eps, null);
      assert.equal(lanes.broken, false);
      await spawned[0].terminate(); // what a crash of the lane's thread looks like to the host
      await assert.rejects(
        lanes.forward(ws, B, batch.images, batch.labels, noise.start, eps, null),
        /^Error: cpu backend lane: (its Worker exited|a lane's Worker died)/,
      );
      assert.equal(lanes.broken, true);
    } finally {
      await lanes.close();
    }
  },
});

Deno.test({
  name:
    "a workspace in a WebAssembly heap gives the plain workspace's forward and backward bit for bit",
  ignore,
  fn: () => {
    for (const core of ["rnn", "lstm"] as const) {
      const cfg = tinyConfig({ glimpses: 3, core }), layout = blasLayout(cfg), B = 9;
      const params = new Float32Array(layout.total);
      packParams(layout, initParams(cfg, 2), params);
      const net = bindBlasNet(cfg, layout, params);
      sumBiases(net);
      const batch = randomBatch(cfg, B, 3), noise = randomNoise(cfg, B, 4);
      const returns = Float32Array.from({ length: (cfg.glimpses - 1) * B }, (_, i) => i % 3 - 1);
      const run = (ws: Workspace) => {
        const grads = new Float32Array(layout.total);
        const fill = noiseFill(B, cfg.sigma, noise.policy);
        blasForward(blas!.sgemm, cfg, net, ws, B, batch.images, noise.start, fill);
        const g = bindBlasNet(cfg, layout, grads);
        blasBackward(blas!.sgemm, cfg, net, g, ws, B, batch.labels, returns, 0.5);
        return { h: ws.h.slice(0, cfg.glimpses * B * cfg.hidden), logp: ws.logp.slice(), grads };
      };
      const inHeap = Workspace.inHeap(cfg, B)!;
      assert.ok(inHeap.simd instanceof SimdHeap, "WebAssembly SIMD runs here");
      assert.ok(inHeap.simd.owns(inHeap.h, inHeap.dZ, inHeap.ones));
      assert.deepEqual(run(inHeap), run(new Workspace(cfg, B)), core);
    }
  },
});

Deno.test("a lane's workspace lives in a shared heap, and a Worker's copy of its buffers adopts it", () => {
  const cfg = tinyConfig({ glimpses: 2 });
  const buffers = laneBuffers(cfg, 4);
  assert.ok(buffers.memory instanceof WebAssembly.Memory, "shared WebAssembly memory runs here");
  assert.ok(buffers.ws.simd?.shared);
  // What a Worker gets: the arrays packed, the heap left out, the memory passed on.
  const got = adoptWorkspace(unpackArrays(packArrays(buffers)) as typeof buffers);
  assert.ok(got.ws.simd instanceof SimdHeap && got.ws.simd.owns(got.ws.h, got.ws.dG));
  buffers.ws.h[3] = 7;
  assert.equal(got.ws.h[3], 7, "the same memory");
  got.ws.simd.relu(got.ws.h.subarray(0, 8));
  buffers.ws.g[0] = -2;
  got.ws.simd.relu(got.ws.g.subarray(0, 4));
  assert.equal(buffers.ws.g[0], 0, "the Worker's loop writes where the host reads");
});
