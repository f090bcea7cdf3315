import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import { resolveRamConfig, type TrainConfig } from "../ram/config.ts";
import type { StepResult } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import { adamRef } from "../kernels/adam_ref.ts";
import { cloneParams } from "../ram/params.ts";
import { randomArray } from "./_assert.ts";
import {
  blobImages,
  classificationReward,
  randomBatch,
  randomNoise,
  sliceBatch,
  tinyConfig,
} from "./_ram_fixture.ts";

Deno.test("trainStep is lossAndGrads followed by one Adam step with the TrainConfig's lr and λ", async () => {
  const cfg = tinyConfig();
  const B = 3, T = cfg.glimpses;
  const batch = randomBatch(cfg, B, 1), noise = randomNoise(cfg, B, 2);
  const rewards = randomArray(T * B, 3, 0, 1);
  const train: TrainConfig = {
    epochs: 1,
    batch: B,
    lr: 0.05,
    lambda: 0.3,
    seed: 1,
    policyLr: null,
    baselineLr: null,
    schedule: "constant",
  };
  const a = new CpuRam(cfg, 4), b = new CpuRam(cfg, 4);
  const want = a.lossAndGrads(batch, rewards, noise, { lambda: train.lambda });
  const params = cloneParams(a.params);
  const m = cloneParams(params), v = cloneParams(params);
  for (const [name, p] of params) {
    m.get(name)!.data.fill(0);
    v.get(name)!.data.fill(0);
    adamRef(p.data, want.grads.get(name)!.data, m.get(name)!.data, v.get(name)!.data, 1, {
      lr: train.lr,
    });
  }
  let seen = 0;
  const got = await b.trainStep(
    batch,
    (e) => {
      seen++;
      assert.equal(e.T * e.B * e.C, e.probs.length);
      return rewards;
    },
    noise,
    train,
  );
  assert.equal(seen, 1, "the reward function is called once per step");
  for (const k of ["nll", "baseline", "reinforce", "loss", "accuracy", "reward"] as const) {
    assert.equal(got[k], want[k], k);
  }
  const state = await b.getState();
  assert.equal(state.step, 1);
  for (const [name, p] of params) {
    assert.deepEqual(state.params.get(name)!.data, p.data, `param ${name}`);
    assert.deepEqual(state.adamM.get(name)!.data, m.get(name)!.data, `m ${name}`);
  }
});

/** A few steps of training on random data and noise; returns the results and final state. */
async function shortRun(seed: number) {
  const cfg = tinyConfig({ core: "rnn" });
  const ram = new CpuRam(cfg, seed);
  const train: TrainConfig = {
    epochs: 1,
    batch: 4,
    lr: 1e-2,
    lambda: 0.01,
    seed,
    policyLr: null,
    baselineLr: null,
    schedule: "constant",
  };
  const results: StepResult[] = [];
  for (let s = 0; s < 4; s++) {
    const noise = randomNoise(cfg, 4, 100 + s);
    results.push(await ram.trainStep(randomBatch(cfg, 4, s), classificationReward, noise, train));
  }
  return { results, state: await ram.getState() };
}

Deno.test("same seed, same run; another seed, another run", async () => {
  const a = await shortRun(3), b = await shortRun(3), c = await shortRun(4);
  assert.deepEqual(b.results, a.results);
  assert.equal(b.state.step, 4);
  for (const [name, t] of a.state.params) {
    assert.deepEqual(b.state.params.get(name)!.data, t.data, name);
    assert.deepEqual(b.state.adamV.get(name)!.data, a.state.adamV.get(name)!.data, name);
  }
  assert.notDeepEqual(
    c.state.params.get("cls.weight")!.data,
    a.state.params.get("cls.weight")!.data,
  );
});

for (const core of ["rnn", "lstm"] as const) {
  Deno.test(`a tiny RAM (${core} core) learns left-vs-right blobs: loss falls, held-out accuracy well above chance`, async () => {
    // 12×12 images, a bright 2×2 blob in the left (0) or right (1) half; retina 4×4 at two scales.
    const cfg = resolveRamConfig({
      height: 12,
      width: 12,
      patch: 4,
      scales: 2,
      scale: 2,
      glimpses: 3,
      glimpseHidden: 16,
      locationHidden: 8,
      glimpseOut: 16,
      hidden: 16,
      policyHidden: 8,
      classes: 2,
      core,
    });
    const data = blobImages(200, 12, 10), test = blobImages(100, 12, 11);
    const ram = new CpuRam(cfg, 1);
    const train: TrainConfig = {
      epochs: 12,
      batch: 20,
      lr: 1e-2,
      lambda: 0.01,
      seed: 1,
      policyLr: null,
      baselineLr: null,
      schedule: "constant",
    };
    const rng = new Rng(1);
    const nll: number[] = [], baseline: number[] = [];
    for (let s = 0; s < 120; s++) {
      const i = (s * 20) % 200;
      const noise = {
        start: rng.fillUniform(new Float32Array(40), -1, 1),
        policy: rng.fillNormal(new Float32Array((cfg.glimpses - 1) * 40)),
      };
      const r = await ram.trainStep(
        sliceBatch(data, i, i + 20),
        classificationReward,
        noise,
        train,
      );
      for (const v of Object.values(r)) assert.ok(Number.isFinite(v), `step ${s}: ${r}`);
      nll.push(r.nll);
      baseline.push(r.baseline);
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [nll0, nll1] = [mean(nll.slice(0, 10)), mean(nll.slice(-10))];
    assert.ok(nll0 > 0.6, `starts near ln 2: ${nll0}`);
    assert.ok(nll1 < 0.5 * nll0, `NLL ${nll0} → ${nll1}`);
    const [b0, b1] = [mean(baseline.slice(0, 10)), mean(baseline.slice(-10))];
    assert.ok(b1 < b0, `baseline MSE ${b0} → ${b1}`);
    const ro = await ram.rollout(test, { stochastic: false });
    let correct = 0;
    for (let b = 0; b < test.size; b++) {
      if (ro.predictions[(cfg.glimpses - 1) * test.size + b] === test.labels[b]) correct++;
    }
    assert.ok(correct / test.size >= 0.8, `held-out accuracy ${correct / test.size}`);
  });
}
