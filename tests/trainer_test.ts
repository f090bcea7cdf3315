import assert from "node:assert/strict";
import { type EpochMetrics, limitSplit, METRICS_FILE, train } from "../run/trainer.ts";
import { evaluate } from "../run/evaluate.ts";
import { loadCheckpoint, MODEL_FILE } from "../run/checkpoint.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import type { RamBackend } from "../ram/backend.ts";
import { CpuRam } from "../ram/cpu.ts";
import { loadDataset } from "../datasets/load.ts";
import { classificationReward, FAKE_CONFIG, FakeRam, fakeSplit } from "./_fake_ram.ts";

function runConfig(train: Record<string, unknown>, extra: Record<string, unknown> = {}): RunConfig {
  return resolveRunConfig({
    dataset: "fake",
    limit: null,
    validation: 0,
    plateau: 0,
    reward: { spec: "classification", name: "classification", options: {} },
    model: FAKE_CONFIG,
    train,
    ...extra,
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readMetrics(dir: string): Promise<EpochMetrics[]> {
  const text = await Deno.readTextFile(`${dir}/${METRICS_FILE}`);
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

async function paramsOf(backend: RamBackend): Promise<Map<string, Float32Array>> {
  const s = await backend.getState();
  return new Map([...s.params].map(([n, t]) => [n, t.data]));
}

Deno.test("training lowers the loss, raises accuracy and writes a metrics line per epoch", async () => {
  await withDir(async (dir) => {
    const data = { train: fakeSplit(50), test: fakeSplit(20, 9) };
    const backend = new FakeRam();
    const before = await evaluate(backend, data.train, { batch: 8 });
    const config = runConfig({ epochs: 4, batch: 8, lr: 0.05, seed: 3 });
    const steps: number[] = [];
    const r = await train({
      backend,
      data,
      config,
      reward: classificationReward,
      out: dir,
      onStep: (p) => steps.push(p.step),
    });
    assert.equal(r.interrupted, false);
    assert.equal(r.epochs, 4);
    // 50 images in batches of 8: six full batches and the last partial one of 2, kept
    assert.equal(r.step, 4 * 7);
    assert.deepEqual(backend.sizes.slice(0, 7), [8, 8, 8, 8, 8, 8, 2]);
    assert.deepEqual(steps, Array.from({ length: 28 }, (_, i) => i + 1));
    const lines = await readMetrics(dir);
    assert.equal(lines.length, 4);
    assert.deepEqual(lines, r.metrics);
    for (const m of lines) {
      for (
        const k of [
          "epoch",
          "step",
          "nll",
          "baseline",
          "reinforce",
          "loss",
          "mean_reward",
          "train_accuracy",
          "validation_accuracy",
          "test_error",
          "images",
          "images_per_second",
          "seconds",
          "lr",
          "reward",
        ]
      ) assert.ok(k in m, `metrics line lacks ${k}`);
      assert.equal(m.images, 50);
      assert.equal(m.reward, "classification");
      assert.ok(m.images_per_second > 0 && m.seconds > 0);
    }
    assert.ok(lines[3].loss < lines[0].loss, `loss fell: ${lines.map((l) => l.loss)}`);
    assert.equal(lines[0].test_error, null, "test error only after the last epoch");
    assert.equal(typeof lines[3].test_error, "number");
    assert.equal(r.testError, lines[3].test_error);
    const after = await evaluate(backend, data.train, { batch: 8 });
    assert.ok(after.error < 0.2 && after.error < before.error, `${before.error} → ${after.error}`);
    const ck = await loadCheckpoint(dir, { optimizer: true });
    assert.equal(ck.meta.epoch, 4);
    assert.equal(ck.meta.step, 28);
    assert.equal(ck.meta.batch, 0);
  });
});

Deno.test("every epoch sees every image once, in a seeded order that changes per epoch", async () => {
  await withDir(async (dir) => {
    const split = fakeSplit(30);
    const config = runConfig({ epochs: 2, batch: 7, lr: 0.01, seed: 11 });
    await train({
      backend: new FakeRam(),
      data: { train: split },
      config,
      reward: classificationReward,
      out: dir,
    });
    const e1 = split.filled.slice(0, 30), e2 = split.filled.slice(30, 60);
    assert.equal(split.filled.length, 60);
    assert.deepEqual([...e1].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
    assert.deepEqual([...e2].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
    assert.notDeepEqual(e1, e2, "the shuffle differs between epochs");
    assert.notDeepEqual(e1, Array.from({ length: 30 }, (_, i) => i), "the data is shuffled");

    const again = fakeSplit(30);
    const dir2 = `${dir}/again`;
    await train({
      backend: new FakeRam(),
      data: { train: again },
      config,
      reward: classificationReward,
      out: dir2,
    });
    assert.deepEqual(again.filled, split.filled, "same seed, same order");
    const other = fakeSplit(30);
    await train({
      backend: new FakeRam(),
      data: { train: other },
      config: runConfig({ epochs: 2, batch: 7, lr: 0.01, seed: 12 }),
      reward: classificationReward,
      out: `${dir}/other`,
    });
    assert.notDeepEqual(other.filled, split.filled, "another seed, another order");
  });
});

for (
  const [kind, make] of [
    ["fake", (seed: number) => new FakeRam(FAKE_CONFIG, seed)],
    ["cpu", (seed: number) => new CpuRam(FAKE_CONFIG, seed)],
  ] as const
) {
  Deno.test(`a run stopped mid-epoch and resumed ends exactly where an uninterrupted run ends (${kind})`, async () => {
    await withDir(async (dir) => {
      const data = () => ({
        train: fakeSplit(45),
        validation: fakeSplit(10, 5),
        test: fakeSplit(12, 9),
      });
      const config = runConfig({ epochs: 3, batch: 8, lr: 0.02, seed: 5 });
      const straight = make(1);
      await train({
        backend: straight,
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/a`,
      });

      // Stop after step 9: epoch 2, batch 3 of 6.
      const ac = new AbortController();
      const first = make(1);
      const part = await train({
        backend: first,
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/b`,
        stop: ac.signal,
        onStep: (p) => {
          if (p.step === 9) ac.abort();
        },
      });
      assert.equal(part.interrupted, true);
      assert.equal(part.step, 9);
      assert.equal(part.epochs, 1);
      assert.equal(part.batch, 3);
      assert.equal(part.testError, null);
      assert.equal((await readMetrics(`${dir}/b`)).length, 1);

      const ck = await loadCheckpoint(`${dir}/b`, { optimizer: true });
      assert.deepEqual([ck.meta.epoch, ck.meta.batch, ck.meta.step], [1, 3, 9]);
      const resumed = make(99); // other init: all of it must come from the checkpoint
      const rest = await train({
        backend: resumed,
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/b`,
        resume: ck,
      });
      assert.equal(rest.interrupted, false);
      assert.equal(rest.step, 3 * 6);
      const a = await paramsOf(straight), b = await paramsOf(resumed);
      for (const [name, t] of a) assert.deepEqual(b.get(name), t, `${name} differs after resume`);
      const ma = await readMetrics(`${dir}/a`), mb = await readMetrics(`${dir}/b`);
      assert.equal(mb.length, 3);
      const strip = (m: EpochMetrics) => ({ ...m, images_per_second: 0, seconds: 0 });
      assert.deepEqual(mb.map(strip), ma.map(strip), "same metrics, the resumed epoch included");
      assert.equal(rest.testError, ma[2].test_error);
    });
  });
}

Deno.test("resume drops metrics lines of epochs the checkpoint does not hold", async () => {
  await withDir(async (dir) => {
    const config = runConfig({ epochs: 2, batch: 10, lr: 0.01, seed: 2 });
    await train({
      backend: new FakeRam(),
      data: { train: fakeSplit(20) },
      config,
      reward: classificationReward,
      out: dir,
    });
    const ck = await loadCheckpoint(dir, { optimizer: true });
    // A line of an epoch 3 that never reached the checkpoint (e.g. a crash while saving).
    await Deno.writeTextFile(`${dir}/${METRICS_FILE}`, '{"epoch":3}\n', { append: true });
    await train({
      backend: new FakeRam(),
      data: { train: fakeSplit(20) },
      config: { ...config, train: { ...config.train, epochs: 3 } },
      reward: classificationReward,
      out: dir,
      resume: ck,
    });
    const lines = await readMetrics(dir);
    assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3]);
    assert.equal(typeof lines[2].loss, "number");
  });
});

Deno.test("the plateau schedule halves the learning rate when validation stalls", async () => {
  await withDir(async (dir) => {
    const lrs: number[] = [];
    const config = runConfig({ epochs: 4, batch: 10, lr: 1e-12, seed: 1 }, {
      plateau: 1,
      validation: 0.2,
    });
    const r = await train({
      backend: new FakeRam(),
      data: { train: fakeSplit(20), validation: fakeSplit(10, 4) },
      config,
      reward: classificationReward,
      out: dir,
      onLr: (lr) => lrs.push(lr),
    });
    // lr 1e-12 leaves validation accuracy unchanged: epoch 1 sets the best, epochs 2, 3, 4 stall
    assert.deepEqual(r.metrics.map((m) => m.lr), [1e-12, 1e-12, 5e-13, 2.5e-13]);
    assert.deepEqual(lrs, [5e-13, 2.5e-13, 1.25e-13]);
    assert.ok(r.metrics.every((m) => typeof m.validation_accuracy === "number"));
    // and the lowered rate survives a resume
    const ck = await loadCheckpoint(dir, { optimizer: true });
    assert.equal(ck.optimizer!.trainer.lr, 1.25e-13);
  });
});

Deno.test("the cosine schedule trains epoch e of E at lr·½(1 + cos(π(e−1)/E)), the same after a resume", async () => {
  await withDir(async (dir) => {
    const config = runConfig({ epochs: 4, batch: 10, lr: 0.01, schedule: "cosine", seed: 1 });
    const seen: number[] = [];
    const backend = new FakeRam();
    const orig = backend.trainStep.bind(backend);
    backend.trainStep = (...args: Parameters<FakeRam["trainStep"]>) => {
      seen.push(args[3].lr);
      return orig(...args);
    };
    const stop = new AbortController();
    const data = { train: fakeSplit(20) };
    const first = await train({
      backend,
      data,
      config,
      reward: classificationReward,
      out: dir,
      stop: stop.signal,
      onEpoch: (m) => m.epoch === 2 && stop.abort(),
    });
    assert.equal(first.epochs, 2);
    const resume = await loadCheckpoint(dir, { optimizer: true });
    const r = await train({
      backend,
      data,
      config,
      reward: classificationReward,
      out: dir,
      resume,
    });
    const want = [1, 2, 3, 4].map((e) => 0.01 * 0.5 * (1 + Math.cos(Math.PI * (e - 1) / 4)));
    assert.deepEqual((await readMetrics(dir)).map((m) => m.lr), want);
    assert.deepEqual(r.metrics.map((m) => m.lr), want.slice(2));
    // two steps per epoch (20 images, batch 10), each at its epoch's rate
    assert.deepEqual(seen, want.flatMap((lr) => [lr, lr]));
    assert.throws(() => runConfig({ schedule: "linear" }), /schedule.*constant, cosine/);
  });
});

Deno.test("testEvery adds a test error to every n-th epoch's metrics; training is unchanged", async () => {
  const run = async (testEvery?: number) => {
    let out: { errors: (number | null)[]; params: Map<string, Float32Array> } | undefined;
    await withDir(async (dir) => {
      const backend = new FakeRam();
      const r = await train({
        backend,
        data: { train: fakeSplit(20), test: fakeSplit(10, 9) },
        config: runConfig({ epochs: 4, batch: 10, lr: 0.05, seed: 2 }),
        reward: classificationReward,
        out: dir,
        testEvery,
      });
      out = { errors: r.metrics.map((m) => m.test_error), params: await paramsOf(backend) };
    });
    return out!;
  };
  const every2 = await run(2), plain = await run();
  assert.deepEqual(every2.errors.map((e) => typeof e), ["object", "number", "object", "number"]);
  assert.deepEqual(plain.errors.map((e) => typeof e), ["object", "object", "object", "number"]);
  assert.equal(every2.errors[3], plain.errors[3]);
  assert.deepEqual(every2.params, plain.params);
});

Deno.test("epochs 0 writes the initial checkpoint and evaluates it", async () => {
  await withDir(async (dir) => {
    const backend = new FakeRam();
    const r = await train({
      backend,
      data: { train: fakeSplit(20), test: fakeSplit(10, 9) },
      config: runConfig({ epochs: 0, batch: 8 }),
      reward: classificationReward,
      out: dir,
    });
    assert.equal(r.step, 0);
    assert.equal(typeof r.testError, "number");
    const ck = await loadCheckpoint(`${dir}/${MODEL_FILE}`);
    assert.equal(ck.meta.epoch, 0);
    const init = await paramsOf(backend);
    assert.deepEqual(ck.params.get("cls.weight")!.data, init.get("cls.weight"));
  });
});

Deno.test("a diverging loss stops training with a clear error", async () => {
  await withDir(async (dir) => {
    const backend = new FakeRam();
    const orig = backend.trainStep.bind(backend);
    let n = 0;
    backend.trainStep = async (...args) => {
      const r = await orig(...args);
      return ++n === 3 ? { ...r, loss: NaN } : r;
    };
    await assert.rejects(
      train({
        backend,
        data: { train: fakeSplit(40) },
        config: runConfig({ epochs: 1, batch: 8, lr: 0.1 }),
        reward: classificationReward,
        out: dir,
      }),
      /training went non-finite at epoch 1, batch 3 \(step 3\): the loss is NaN; lower option lr \(0\.1\); no checkpoint was written/,
    );
  });
});

Deno.test("limitSplit keeps a class-balanced prefix", () => {
  const split = fakeSplit(40); // class 0 then class 1
  const small = limitSplit(split, 7);
  assert.equal(small.size, 7);
  assert.deepEqual([...small.labels], [0, 1, 0, 1, 0, 1, 0]);
  const x = new Float32Array(2 * 16);
  small.fill([1, 2], 0, x);
  assert.deepEqual(split.filled, [20, 1], "image 1 of class 1, then image 1 of class 0");
  assert.equal(limitSplit(split, 40), split);
  assert.equal(limitSplit(split, 100), split);
});

Deno.test("evaluation modes: mean from the centre, stochastic, and Monte Carlo averaging", async () => {
  const backend = new FakeRam();
  const split = fakeSplit(21);
  const starts: number[][] = [];
  const orig = backend.rollout.bind(backend);
  backend.rollout = (batch, o) => {
    starts.push([o.stochastic ? 1 : 0, ...(o.start ?? [])]);
    return orig(batch, o);
  };
  const mean = await evaluate(backend, split, { batch: 8 });
  assert.equal(mean.samples, 21);
  assert.equal(mean.mode, "mean");
  assert.equal(starts.length, 3, "batches of 8, 8 and 5");
  assert.ok(starts.every((s) => s[0] === 0 && s.slice(1).every((v) => v === 0)), "centre start");
  assert.equal(mean.accuracy.length, FAKE_CONFIG.glimpses);
  assert.ok(Math.abs(mean.error - (1 - mean.accuracy[2])) < 1e-12);
  starts.length = 0;
  const mc = await evaluate(backend, split, { batch: 8, mc: 4, seed: 2 });
  assert.equal(mc.mode, "stochastic");
  assert.equal(mc.rollouts, 4);
  assert.equal(starts.length, 12);
  assert.ok(starts.every((s) => s[0] === 1), "stochastic rollouts");
  assert.notDeepEqual(starts[0], starts[3], "each rollout draws its own start");
  assert.ok(starts[0].slice(1).some((v) => v !== 0));
  // the fake's classifier ignores locations, so every mode gives the same answer
  assert.equal(mc.error, mean.error);
  assert.ok(Math.abs(mc.nll - mean.nll) < 1e-6);
  await assert.rejects(evaluate(backend, split, { mc: 0 }), /mc = 0/);
});

Deno.test("a tiny seeded run on real MNIST digits learns well above chance", async () => {
  await withDir(async (dir) => {
    const ds = await loadDataset("mnist-10k");
    const images = limitSplit(ds.train, 200); // 20 of each digit
    const config = runConfig({ epochs: 15, batch: 10, lr: 1e-3, seed: 1 }, {
      dataset: "mnist-10k",
      limit: 200,
    });
    // A small RAM with a wide two-scale retina, so 300 steps are enough (about 2 s on a CPU).
    const model = {
      ...config.model,
      height: 28,
      width: 28,
      classes: 10,
      patch: 12,
      scales: 2,
      glimpses: 3,
      hidden: 64,
      glimpseOut: 64,
      glimpseHidden: 32,
      locationHidden: 32,
      policyHidden: 32,
    };
    const cfg = { ...config, model };
    const ram = new CpuRam(model, 1);
    const before = await evaluate(ram, images, { batch: 10 });
    const r = await train({
      backend: ram,
      data: { train: images },
      config: cfg,
      reward: classificationReward,
      out: dir,
    });
    const after = await evaluate(ram, images, { batch: 10 });
    const nll = r.metrics.map((m) => m.nll);
    assert.ok(nll.at(-1)! < 0.7 * nll[0], `nll fell: ${nll.map((x) => x.toFixed(2))}`);
    assert.ok(
      r.metrics.at(-1)!.train_accuracy > 0.4,
      `train accuracy ${r.metrics.at(-1)!.train_accuracy}`,
    );
    assert.ok(before.error > 0.8, `untrained error ${before.error}`);
    assert.ok(
      after.error < 0.45,
      `error on the 200 images after training: ${after.error} (chance 0.9)`,
    );
  });
});
