/**
 * The cpu probes trained in the gaps of the RAM's lanes (probe/beside.ts, run/trainer.ts): their
 * parts give bit for bit the sequential probe step, one step behind, across a stop and resume;
 * a failing part is reported as the sequential step's error; the lanes run the parts once each,
 * in order, with the host's lane holding fewer rows, and still train as one lane does.
 */
import assert from "node:assert/strict";
import type { TrainerOptions } from "../run/trainer.ts";
import { loadCheckpoint } from "../run/checkpoint.ts";
import { CpuRam } from "../ram/cpu.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import { laneSplit, MIN_HOST_ROWS } from "../ram/blas_lanes.ts";
import { resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import type { BesideWork } from "../ram/backend.ts";
import { vaeConfigFor } from "../probe/vae_params.ts";
import { clsConfigFor } from "../probe/cls_params.ts";
import { ProbeStep } from "../probe/step.ts";
import { ProbeBeside, probeCostRows } from "../probe/beside.ts";
import { VAE_NOISE_STREAM } from "../probe/vae.ts";
import { loadBlas } from "../util/blas.ts";
import { assertClose } from "./_assert.ts";
import { classificationReward, randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";
import {
  assertSameMaps,
  assertSameState,
  makeProbes,
  metrics,
  probeInputs,
  probeRunConfig,
  trainWithProbes,
  withDir,
} from "./_probe_fixture.ts";

const blas = loadBlas();

/** The reference RAM, saying its steps hide beside work (it runs the parts after each step). */
class BesideRam extends CpuRam {
  parts: string[] = [];
  hidesBeside(): boolean {
    return true;
  }
  override trainStep(...a: Parameters<CpuRam["trainStep"]>) {
    const beside = a[4]?.beside;
    const log = (part: keyof Omit<BesideWork, "rows">) => () => {
      this.parts.push(part);
      beside![part]();
    };
    if (beside) {
      a[4] = {
        ...a[4],
        beside: {
          rows: beside.rows,
          forward: log("forward"),
          backward: log("backward"),
          adam: log("adam"),
        },
      };
    }
    return super.trainStep(...a);
  }
}

Deno.test("probes beside the RAM's lanes match the sequential path bit for bit, across a stop and resume", async () => {
  await withDir(async (dir) => {
    const config = probeRunConfig(3);
    const seq = await trainWithProbes(config, new CpuRam(config.model, 4), `${dir}/seq`, {
      over: { probeWorker: false },
    });
    const ram = new BesideRam(config.model, 4);
    const side = await trainWithProbes(config, ram, `${dir}/side`);
    // Every step handed its lanes the probes' parts, in order: the step before's where one
    // waited (an epoch's first step finds none: the last finishes before the metrics).
    assert.equal(ram.parts.length, 3 * 3 * 6);
    for (let i = 0; i < ram.parts.length; i++) {
      assert.equal(ram.parts[i], ["forward", "backward", "adam"][i % 3], `part ${i}`);
    }
    assertSameState(await side.vae.getState(), await seq.vae.getState(), "VAE probe");
    assertSameState(await side.cls.getState(), await seq.cls.getState(), "class probe");
    const a = await loadCheckpoint(`${dir}/seq`, { optimizer: true });
    const b = await loadCheckpoint(`${dir}/side`, { optimizer: true });
    assertSameState(b.vae!, a.vae!, "saved VAE probe");
    assertSameState(b.cls!, a.cls!, "saved class probe");
    assertSameMaps(b.params, a.params, "RAM");
    const want = await metrics(`${dir}/seq`);
    assert.deepEqual(await metrics(`${dir}/side`), want);

    // Stopped mid-epoch with a probe step waiting, then resumed with probes of another seed.
    const stop = new AbortController();
    await trainWithProbes(config, new BesideRam(config.model, 4), `${dir}/resumed`, {
      over: {
        stop: stop.signal,
        onStep: (p) => {
          if (p.step === 9) stop.abort(); // epoch 2, batch 3
        },
      },
    });
    const ck = await loadCheckpoint(`${dir}/resumed`, { optimizer: true });
    assert.equal(ck.meta.vaeStep, 9);
    const resumed = await trainWithProbes(
      config,
      new BesideRam(config.model, 4),
      `${dir}/resumed`,
      { over: { resume: ck }, seed: 99 },
    );
    assertSameState(await resumed.vae.getState(), await seq.vae.getState(), "resumed VAE probe");
    assertSameState(await resumed.cls.getState(), await seq.cls.getState(), "resumed class probe");
    assert.deepEqual(await metrics(`${dir}/resumed`), want);
  });
});

Deno.test("a probe that goes non-finite beside the lanes fails the run with the sequential path's error", async () => {
  await withDir(async (dir) => {
    const config = probeRunConfig(2, 1e30);
    const fail = async (ram: CpuRam, over: Partial<TrainerOptions>) => {
      try {
        await trainWithProbes(config, ram, `${dir}/${ram.constructor.name}`, { over });
      } catch (err) {
        return (err as Error).message;
      }
      assert.fail("a VAE probe with lr 1e30 trained");
    };
    const want = await fail(new CpuRam(config.model, 4), { probeWorker: false });
    assert.match(want, /the VAE probe's loss became (NaN|Infinity); lower the VAE probe's lr/);
    assert.equal(await fail(new BesideRam(config.model, 4), {}), want);
  });
});

for (const share of [1, 0.5]) {
  Deno.test(`ProbeStep.phased and ProbeBeside give ProbeStep.step's results bit for bit (VAE on ${share} of the images)`, async () => {
    const config = probeRunConfig(1);
    const ram = new CpuRam(config.model, 3);
    const B = 5, make = () => makeProbes(config);
    const ref = make(), mine = make();
    const step = new ProbeStep(ram, ref.vae, 3, B, VAE_NOISE_STREAM, ref.cls, 2, share);
    const probe = new ProbeStep(ram, mine.vae, 3, B, VAE_NOISE_STREAM, mine.cls, 2, share);
    const side = new ProbeBeside<number>({ probe, ram: config.model, maxBatch: B });
    const inputs = probeInputs(config, B), { hidden, clean, labels } = inputs;
    const got = [], want = [];
    const both = { vae: true, cls: true };
    assert.equal(side.work(B, { vae: false, cls: false }), undefined, "no probe: no work beside");
    const first = side.work(B, both)!; // nothing waits yet: parts that do nothing, rows all the same
    first.forward();
    first.backward();
    first.adam();
    for (let k = 0; k < 5; k++) {
      const n = k === 4 ? 2 : B;
      const { h, c, batch } = inputs.next(n);
      want.push(await step.step(batch, { start: h, policy: h }, 1, k, { hidden: h, clean: c }));
      // Steps 1 and 3 run their parts beside (as a RAM step would), the others when taken; step 2
      // only its forward beside.
      const work = side.work(n, both)!;
      assert.equal(work.rows, side.work(n, both)!.rows, "rows depend on B and the probes only");
      assert.ok(work.rows > 0);
      if (k === 1 || k === 3) {
        work.forward();
        work.backward();
        work.adam();
        const again = side.work(n, both)!; // parts already run do not run again
        again.forward();
        again.backward();
        again.adam();
      } else if (k === 2) work.forward();
      got.push(side.post(h, c, labels, n, 1, k, both, k));
      hidden.fill(NaN); // ProbeBeside keeps its own copy
      clean.fill(NaN);
    }
    got.push(side.settle());
    assert.equal(got[0], null);
    assert.deepEqual(got.slice(1).map((o) => o!.tag), [0, 1, 2, 3, 4]);
    assert.deepEqual(got.slice(1).map((o) => o!.result), want);
    assert.equal(side.settle(), null);
    assertSameState(await mine.vae.getState(), await ref.vae.getState(), "VAE probe");
    assertSameState(await mine.cls.getState(), await ref.cls.getState(), "class probe");
  });
}

Deno.test("probeCostRows: the probes' cost in RAM rows grows with their work", () => {
  const ram = resolveRamConfig({});
  const vae = vaeConfigFor(ram), cls = clsConfigFor(ram);
  const both = probeCostRows(ram, vae, 1, cls, 128);
  assert.ok(both > 20 && both < 80, `default probes cost ${both} rows`);
  assert.ok(probeCostRows(ram, vae, 6, cls, 128) > 4 * both, "six rows per image cost more");
  assert.ok(probeCostRows(ram, null, 1, cls, 128) < probeCostRows(ram, vae, 1, null, 128));
  assert.ok(probeCostRows(ram, vae, 1, cls, 64) < both);
  const half = probeCostRows(ram, vae, 1, cls, 128, 0.5);
  assert.ok(half < both && half > probeCostRows(ram, null, 1, cls, 128), "half the images");
  assert.equal(probeCostRows(ram, vae, 1, cls, 128, 1), both);
  assert.equal(probeCostRows(ram, null, 1, null, 128), 0);
});

Deno.test("lane splits with work beside: the host's lane takes that many rows fewer, at least MIN_HOST_ROWS", () => {
  assert.deepEqual(laneSplit(128, 2, 42), [0, 43, 128]);
  assert.deepEqual(laneSplit(128, 2, 0), [0, 64, 128]);
  assert.deepEqual(laneSplit(128, 2, 500), [0, MIN_HOST_ROWS, 128]);
  assert.deepEqual(laneSplit(128, 4, 20), [0, 17, 54, 91, 128]);
  assert.deepEqual(laneSplit(50, 2, 20), [0, 50], "one lane: nothing to split");
  assert.deepEqual(laneSplit(128, 2, -5), [0, 64, 128]);
});

Deno.test({
  name: "cpu lanes run work beside in the gaps, once each and in order, and train as one lane",
  ignore: blas === null,
  fn: async () => {
    const cfg = tinyConfig({ glimpses: 4 });
    const one = new BlasRam(cfg, 3, blas!), two = new BlasRam(cfg, 3, blas!, { lanes: 2 });
    const train = resolveTrainConfig({ lr: 1e-2 });
    const tol = { atol: 2e-5, rtol: 1e-3 };
    try {
      assert.equal(two.hidesBeside(70), true);
      assert.equal(two.hidesBeside(40), false);
      assert.equal(one.hidesBeside(70), false);
      // 70 rows split unevenly (the host's lane 15 of them beside 40 rows' work); 40 on one lane.
      for (const [k, B] of [70, 40, 70].entries()) {
        const parts: string[] = [];
        const beside: BesideWork = {
          rows: 40,
          forward: () => parts.push("forward"),
          backward: () => parts.push("backward"),
          adam: () => parts.push("adam"),
        };
        const batch = randomBatch(cfg, B, 40 + k), noise = randomNoise(cfg, B, 50 + k);
        const a = await one.trainStep(batch, classificationReward, noise, train);
        const b = await two.trainStep(batch, classificationReward, noise, train, { beside });
        assert.deepEqual(parts, ["forward", "backward", "adam"], `step ${k}`);
        assertClose([b.loss], [a.loss], { ...tol, label: `step ${k} loss` });
      }
      const [sa, sb] = [await one.getState(), await two.getState()];
      for (const [name, t] of sa.params) {
        assertClose(sb.params.get(name)!.data, t.data, { ...tol, label: name });
      }
    } finally {
      one.dispose();
      two.dispose();
    }
  },
});

Deno.test({
  name:
    "cpu lanes with the probes beside: a stopped and resumed run is the uninterrupted one, bit for bit",
  ignore: blas === null,
  fn: async () => {
    await withDir(async (dir) => {
      // 130 images in batches of 64 (64, 64, 2): the full batches split over 2 lanes, the host's
      // lane the shorter for the probes' parts.
      const config = probeRunConfig(2, 0.01, 64);
      const lanes = () => new BlasRam(config.model, 4, blas!, { lanes: 2 });
      const o = { images: 130 };
      const whole = lanes();
      const a = await trainWithProbes(config, whole, `${dir}/whole`, o);
      const stop = new AbortController();
      const first = lanes();
      await trainWithProbes(config, first, `${dir}/resumed`, {
        ...o,
        over: {
          stop: stop.signal,
          onStep: (p) => {
            if (p.step === 1) stop.abort(); // epoch 1, batch 1: batch 2 resumes with nothing waiting
          },
        },
      });
      const ck = await loadCheckpoint(`${dir}/resumed`, { optimizer: true });
      assert.equal(ck.meta.step, 1);
      const again = lanes();
      const b = await trainWithProbes(config, again, `${dir}/resumed`, {
        ...o,
        over: { resume: ck },
        seed: 99,
      });
      try {
        assertSameState(await again.getState(), await whole.getState(), "RAM");
        assertSameState(await b.vae.getState(), await a.vae.getState(), "VAE probe");
        assertSameState(await b.cls.getState(), await a.cls.getState(), "class probe");
      } finally {
        for (const r of [whole, first, again]) r.dispose();
      }
    });
  },
});
