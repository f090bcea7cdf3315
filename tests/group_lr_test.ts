import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import { loadBlas } from "../util/blas.ts";
import { GpuRam, lrRanges } from "../ram/gpu.ts";
import { groupLrs, paramGroup, resolveTrainConfig } from "../ram/config.ts";
import { adamRef } from "../kernels/adam_ref.ts";
import { cloneParams, flatLayout } from "../ram/params.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";
import { classificationReward, randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

Deno.test("parameter groups: loc1/loc2 are the policy, base the baseline, the rest the model", () => {
  assert.equal(paramGroup("loc1.weight"), "policy");
  assert.equal(paramGroup("loc2.bias"), "policy");
  assert.equal(paramGroup("base.weight"), "baseline");
  assert.equal(paramGroup("cls.weight"), "model");
  assert.equal(paramGroup("lstm.weight_hh"), "model");
  const t = resolveTrainConfig({ lr: 1e-3, baselineLr: 0.1 });
  assert.deepEqual(groupLrs(t), { model: 1e-3, policy: 1e-3, baseline: 0.1 });
  assert.deepEqual(groupLrs(t, 0.5), { model: 5e-4, policy: 5e-4, baseline: 0.05 });
  assert.throws(() => resolveTrainConfig({ policyLr: -1 }), /"policyLr" = -1/);
});

Deno.test("lrRanges covers the flat layout without gaps, one range per change of lr", () => {
  const layout = flatLayout(tinyConfig());
  const same = lrRanges(layout, { model: 1, policy: 1, baseline: 1 });
  assert.deepEqual(same, [{ offset: 0, length: layout.total, lr: 1 }]);
  const split = lrRanges(layout, { model: 1, policy: 2, baseline: 3 });
  assert.deepEqual(split.map((r) => r.lr), [1, 2, 3, 1]);
  let at = 0;
  for (const r of split) {
    assert.equal(r.offset, at);
    at += r.length;
  }
  assert.equal(at, layout.total);
  assert.equal(split[1].offset, layout.byName.get("loc1.weight")!.offset);
  assert.equal(split[2].offset, layout.byName.get("base.weight")!.offset);
});

Deno.test("cpu trainStep steps each group at its own lr; policy lr 0 leaves the policy as it was", async () => {
  const cfg = tinyConfig();
  const B = 3, T = cfg.glimpses;
  const batch = randomBatch(cfg, B, 1), noise = randomNoise(cfg, B, 2);
  const rewards = randomArray(T * B, 3, 0, 1);
  const train = resolveTrainConfig({ lr: 0.05, policyLr: 0, baselineLr: 0.2, lambda: 0.3 });
  const a = new CpuRam(cfg, 4), b = new CpuRam(cfg, 4);
  const want = a.lossAndGrads(batch, rewards, noise, { lambda: train.lambda });
  const before = cloneParams(a.params);
  const expected = cloneParams(a.params);
  const lrs = { model: 0.05, policy: 0, baseline: 0.2 };
  for (const [name, p] of expected) {
    const g = want.grads.get(name)!.data;
    const m = new Float32Array(g.length), v = new Float32Array(g.length);
    adamRef(p.data, g, m, v, 1, { lr: lrs[paramGroup(name)] });
  }
  await b.trainStep(batch, () => rewards, noise, train);
  const state = await b.getState();
  let policyGrad = 0;
  for (const [name, p] of expected) {
    assert.deepEqual(state.params.get(name)!.data, p.data, `param ${name}`);
    if (paramGroup(name) === "policy") {
      assert.deepEqual(state.params.get(name)!.data, before.get(name)!.data, `${name} moved`);
      for (const x of want.grads.get(name)!.data) policyGrad += Math.abs(x);
    }
  }
  assert.ok(policyGrad > 0, "the policy had a gradient, so lr 0 is what kept it still");
  assert.notDeepEqual(state.params.get("base.weight")!.data, before.get("base.weight")!.data);
});

gpuTest("webgpu honours per-group learning rates like the cpu reference", async (gpu) => {
  const cfg = tinyConfig({ glimpses: 4 });
  for (
    const train of [
      resolveTrainConfig({ lr: 1e-2, policyLr: 0, baselineLr: 3e-2, lambda: 0.5 }),
      resolveTrainConfig({ lr: 1e-3, policyLr: 5e-2, lambda: 0.5 }),
    ]
  ) {
    const cpu = new CpuRam(cfg, 7);
    const webgpu = await GpuRam.create(gpu, cfg, 7);
    try {
      const init = (await cpu.getState()).params;
      for (let step = 0; step < 3; step++) {
        const B = step === 2 ? 2 : 5;
        const batch = randomBatch(cfg, B, 100 + step);
        const noise = randomNoise(cfg, B, 200 + step);
        await cpu.trainStep(batch, classificationReward, noise, train);
        await webgpu.trainStep(batch, classificationReward, noise, train);
      }
      const [gs, cs] = [await webgpu.getState(), await cpu.getState()];
      for (const [name, w] of cs.params) {
        const g = gs.params.get(name)!.data;
        assertClose(g, w.data, {
          atol: 2e-5,
          rtol: 1e-3,
          label: `${name} (policyLr ${train.policyLr})`,
        });
        if (train.policyLr === 0 && paramGroup(name) === "policy") {
          assert.deepEqual(g, init.get(name)!.data, `webgpu moved ${name} at policy lr 0`);
        }
      }
      // The groups really differ: the policy moved by about its own lr per step, not the model's.
      if (train.policyLr === 5e-2) {
        const moved = Math.max(
          ...gs.params.get("loc2.bias")!.data.map((x, i) =>
            Math.abs(x - init.get("loc2.bias")!.data[i])
          ),
        );
        assert.ok(
          moved > 10 * train.lr,
          `loc2.bias moved ${moved}, not more than 10× lr ${train.lr}`,
        );
      }
    } finally {
      webgpu.dispose();
    }
  }
});

Deno.test("the BLAS cpu backend honours per-group learning rates like the reference", async () => {
  const blas = loadBlas();
  if (!blas) {
    console.log("skipped: no BLAS library opens (apt-get install libopenblas0-pthread)");
    return;
  }
  const cfg = tinyConfig({ glimpses: 4 });
  for (
    const train of [
      resolveTrainConfig({ lr: 1e-2, policyLr: 0, baselineLr: 3e-2, lambda: 0.5 }),
      resolveTrainConfig({ lr: 1e-3, policyLr: 5e-2, lambda: 0.5 }),
    ]
  ) {
    const ref = new CpuRam(cfg, 7);
    const fast: BlasRam = new BlasRam(cfg, 7, blas);
    const init = (await ref.getState()).params;
    for (let step = 0; step < 3; step++) {
      const B = step === 2 ? 2 : 5;
      const batch = randomBatch(cfg, B, 100 + step);
      const noise = randomNoise(cfg, B, 200 + step);
      await ref.trainStep(batch, classificationReward, noise, train);
      await fast.trainStep(batch, classificationReward, noise, train);
    }
    const fs = await fast.getState(), rs = await ref.getState();
    for (const [name, w] of rs.params) {
      const got = fs.params.get(name)!.data;
      assertClose(got, w.data, {
        atol: 2e-5,
        rtol: 1e-3,
        label: `${name} (policyLr ${train.policyLr})`,
      });
      if (train.policyLr === 0 && paramGroup(name) === "policy") {
        assert.deepEqual(got, init.get(name)!.data, `BLAS backend moved ${name} at policy lr 0`);
      }
    }
  }
});
