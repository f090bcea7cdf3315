import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import { GpuRam } from "../ram/gpu.ts";
import { resolveTrainConfig } from "../ram/config.ts";
import type { ParamMap } from "../ram/backend.ts";
import { assertClose } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";
import { classificationReward, randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";
import { RamProgram, TIME_BATCH_ALIGN } from "../ram/gpu_program.ts";
import { ramKernels } from "../ram/gpu.ts";
import { flatLayout } from "../ram/params.ts";
import { tensor } from "../gpu/tensor.ts";

function assertParamsClose(got: ParamMap, want: ParamMap, what: string, atol = 2e-5) {
  for (const [name, w] of want) {
    const g = got.get(name);
    assert.ok(g, `${what}: ${name} missing`);
    assert.deepEqual(g.shape, w.shape, `${what}: ${name} shape`);
    assertClose(g.data, w.data, { atol, rtol: 1e-3, label: `${what} ${name}` });
  }
}

for (const core of ["rnn", "lstm"] as const) {
  gpuTest(`webgpu and cpu backends agree over the first training steps (${core})`, async (gpu) => {
    const cfg = tinyConfig({ core, glimpses: 4 });
    const train = resolveTrainConfig({ lr: 1e-2, lambda: 0.5 });
    const cpu = new CpuRam(cfg, 7);
    const webgpu = await GpuRam.create(gpu, cfg, 7);
    try {
      assertParamsClose((await webgpu.getState()).params, (await cpu.getState()).params, "init", 0);
      // Rewards that pay at every glimpse exercise the credit assignment too.
      const reward = (e: Parameters<typeof classificationReward>[0]) => {
        const r = classificationReward(e);
        for (let i = 0; i < e.T * e.B; i++) r[i] += 0.1 * e.probs[i * e.C];
        return r;
      };
      for (let step = 0; step < 4; step++) {
        // A short last batch uses its own program; B = 64 takes the time-batched backward.
        const B = step === 3 ? 2 : step === 1 ? TIME_BATCH_ALIGN : 5;
        const batch = randomBatch(cfg, B, 100 + step);
        const noise = randomNoise(cfg, B, 200 + step);
        const want = await cpu.trainStep(batch, reward, noise, train);
        const got = await webgpu.trainStep(batch, reward, noise, train);
        for (const key of ["nll", "baseline", "reinforce", "loss", "accuracy", "reward"] as const) {
          assertClose([got[key]], [want[key]], {
            atol: 1e-4,
            rtol: 1e-3,
            label: `step ${step} ${key}`,
          });
        }
        const [gs, cs] = [await webgpu.getState(), await cpu.getState()];
        assert.equal(gs.step, cs.step);
        assertParamsClose(gs.params, cs.params, `after step ${step}`);
        assertParamsClose(gs.adamM, cs.adamM, `adam m after step ${step}`, 1e-5);
      }
      for (const [stochastic, B] of [[false, 3], [true, 3], [true, TIME_BATCH_ALIGN]] as const) {
        const batch = randomBatch(cfg, B, 300);
        const noise = randomNoise(cfg, B, 301);
        const opts = stochastic
          ? { stochastic, start: noise.start, policy: noise.policy }
          : { stochastic };
        const [g, c] = [await webgpu.rollout(batch, opts), await cpu.rollout(batch, opts)];
        const tol = { atol: 1e-4, rtol: 1e-3 };
        assertClose(g.logp, c.logp, { ...tol, label: `rollout logp (stochastic ${stochastic})` });
        assertClose(g.locations, c.locations, { ...tol, label: "rollout locations" });
        assertClose(g.hidden, c.hidden, { ...tol, label: "rollout hidden" });
        assert.deepEqual([...g.predictions], [...c.predictions]);
        // hidden: false reads no states back and changes nothing else
        const bare = await webgpu.rollout(batch, { ...opts, hidden: false });
        assert.equal(bare.hidden.length, 0);
        assert.deepEqual([...bare.logp], [...g.logp]);
      }
    } finally {
      webgpu.dispose();
    }
  });
}

gpuTest(
  "webgpu and cpu agree with a single glimpse (no actions), per-glimpse and time-batched",
  async (gpu) => {
    for (const core of ["rnn", "lstm"] as const) {
      const cfg = tinyConfig({ core, glimpses: 1 });
      const train = resolveTrainConfig({ lr: 1e-2 });
      const cpu = new CpuRam(cfg, 5);
      const webgpu = await GpuRam.create(gpu, cfg, 5);
      try {
        for (const B of [3, TIME_BATCH_ALIGN]) {
          const batch = randomBatch(cfg, B, 40 + B), noise = randomNoise(cfg, B, 41);
          const want = await cpu.trainStep(batch, classificationReward, noise, train);
          const got = await webgpu.trainStep(batch, classificationReward, noise, train);
          assertClose([got.loss], [want.loss], { atol: 1e-4, rtol: 1e-3, label: `${core} B=${B}` });
          const [gs, cs] = [await webgpu.getState(), await cpu.getState()];
          assertParamsClose(gs.params, cs.params, `${core} T=1 B=${B}`);
        }
      } finally {
        webgpu.dispose();
      }
    }
  },
);

gpuTest("webgpu state round trip restores parameters, moments and step", async (gpu) => {
  const cfg = tinyConfig();
  const a = await GpuRam.create(gpu, cfg, 3);
  const b = await GpuRam.create(gpu, cfg, 4);
  try {
    const train = resolveTrainConfig({ lr: 1e-2 });
    await a.trainStep(randomBatch(cfg, 4, 1), classificationReward, randomNoise(cfg, 4, 2), train);
    b.setState(await a.getState());
    const [sa, sb] = [await a.getState(), await b.getState()];
    assert.equal(sb.step, 1);
    assertParamsClose(sb.params, sa.params, "params", 0);
    assertParamsClose(sb.adamV, sa.adamV, "adam v", 0);
    // Both continue identically.
    const batch = randomBatch(cfg, 4, 5), noise = randomNoise(cfg, 4, 6);
    const ra = await a.trainStep(batch, classificationReward, noise, train);
    const rb = await b.trainStep(batch, classificationReward, noise, train);
    assert.deepEqual(ra, rb);
  } finally {
    a.dispose();
    b.dispose();
  }
});

gpuTest(
  "webgpu rejects a reward of the wrong length, leaves the parameters alone and starts clean",
  async (gpu) => {
    const cfg = tinyConfig();
    const ram = await GpuRam.create(gpu, cfg, 3);
    try {
      const before = await ram.getState();
      await assert.rejects(
        ram.trainStep(
          randomBatch(cfg, 4, 1),
          () => new Float32Array(3),
          randomNoise(cfg, 4, 2),
          resolveTrainConfig(),
        ),
        /webgpu backend: .*expected .*T·B = 3·4/,
      );
      await assert.rejects(
        ram.trainStep(
          randomBatch(cfg, 4, 1),
          (e) => new Float32Array(e.T * e.B).fill(NaN),
          randomNoise(cfg, 4, 2),
          resolveTrainConfig(),
        ),
        /glimpse 1, sample 0/,
      );
      assertParamsClose((await ram.getState()).params, before.params, "untouched", 0);
      assert.equal((await ram.getState()).step, 0);
      // Nothing of the rejected steps leaks into the next one: it matches a fresh cpu step.
      const cpu = new CpuRam(cfg, 3);
      const train = resolveTrainConfig({ lr: 1e-2 });
      const batch = randomBatch(cfg, 4, 7), noise = randomNoise(cfg, 4, 8);
      await cpu.trainStep(batch, classificationReward, noise, train);
      await ram.trainStep(batch, classificationReward, noise, train);
      assertParamsClose((await ram.getState()).params, (await cpu.getState()).params, "next");
    } finally {
      ram.dispose();
    }
  },
);

gpuTest(
  "batch sizes on the view boundary take the time-batched heads and backward",
  async (gpu) => {
    const cfg = tinyConfig({ glimpses: 4 });
    const layout = flatLayout(cfg);
    const flat = {
      layout,
      params: tensor(gpu, [layout.total], "p"),
      grads: tensor(gpu, [layout.total], "g"),
    };
    const k = await ramKernels(gpu);
    const batched = new RamProgram(gpu, cfg, k, flat, TIME_BATCH_ALIGN, 0.01);
    const perGlimpse = new RamProgram(gpu, cfg, k, flat, 5, 0.01);
    try {
      assert.equal(batched.timeBatched, true);
      assert.equal(perGlimpse.timeBatched, false);
      // Classifier, log-softmax (T each), log π and baseline (T − 1 each) become one dispatch each.
      const T = cfg.glimpses;
      assert.equal(batched.forward.length, perGlimpse.forward.length - (2 * T + 2 * (T - 1) - 4));
      assert.ok(
        batched.backwardLoss.length < perGlimpse.backwardLoss.length / 1.5,
        `${batched.backwardLoss.length} vs ${perGlimpse.backwardLoss.length} backward dispatches`,
      );
    } finally {
      batched.destroy();
      perGlimpse.destroy();
      flat.params.buffer.destroy();
      flat.grads.buffer.destroy();
    }
  },
);
