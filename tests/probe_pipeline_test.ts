/**
 * The cpu probes in a Worker one step behind the RAM (probe/pipeline.ts, run/trainer.ts) give
 * bit for bit the probes, Adam state and metrics of the sequential path, across a stop and
 * resume too, and their failures read as the sequential path's.
 */
import assert from "node:assert/strict";
import type { TrainerOptions } from "../run/trainer.ts";
import { loadCheckpoint } from "../run/checkpoint.ts";
import type { RunConfig } from "../run/run_config.ts";
import { CpuRam } from "../ram/cpu.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { ProbePipeline } from "../probe/pipeline.ts";
import { ProbeStep } from "../probe/step.ts";
import { VAE_NOISE_STREAM } from "../probe/vae.ts";
import { blasLinear, type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { loadBlas } from "../util/blas.ts";
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
import { glimpse } from "./_cli.ts";

const blas = loadBlas();
const LINEARS: [string, LinearOps][] = [
  ["reference", REF_LINEAR],
  ...(blas ? [["blas", blasLinear(blas.sgemm)] as [string, LinearOps]] : []),
];

/** Trains with fresh probes of `seed` on `ops` and the reference RAM; returns them. */
function run(
  config: RunConfig,
  ops: LinearOps,
  out: string,
  over: Partial<TrainerOptions> = {},
  seed = 4,
) {
  return trainWithProbes(config, new CpuRam(config.model, seed), out, { over, seed, ops });
}

for (const [name, ops] of LINEARS) {
  Deno.test(`probes in a Worker (${name} products) match the sequential path bit for bit, across a stop and resume`, async () => {
    await withDir(async (dir) => {
      const config = probeRunConfig(3);
      const seq = await run(config, ops, `${dir}/seq`, { probeWorker: false });
      const piped = await run(config, ops, `${dir}/piped`);
      // The host's probes hold the Worker's final state, and so do the checkpoints.
      assertSameState(await piped.vae.getState(), await seq.vae.getState(), "VAE probe");
      assertSameState(await piped.cls.getState(), await seq.cls.getState(), "class probe");
      assert.equal((await seq.vae.getState()).step, 18);
      const a = await loadCheckpoint(`${dir}/seq`, { optimizer: true });
      const b = await loadCheckpoint(`${dir}/piped`, { optimizer: true });
      assertSameState(b.vae!, a.vae!, "saved VAE probe");
      assertSameState(b.cls!, a.cls!, "saved class probe");
      assertSameMaps(b.params, a.params, "RAM");
      const want = await metrics(`${dir}/seq`);
      assert.deepEqual(await metrics(`${dir}/piped`), want);
      assert.ok(want.every((l) => typeof l.vae_loss === "number"));

      // Stopped mid-epoch (the probe step of batch 3 still in flight when asked) and resumed
      // with probes of another seed: everything comes from the checkpoint.
      const stop = new AbortController();
      await run(config, ops, `${dir}/resumed`, {
        stop: stop.signal,
        onStep: (p) => {
          if (p.step === 9) stop.abort(); // epoch 2, batch 3
        },
      });
      const ck = await loadCheckpoint(`${dir}/resumed`, { optimizer: true });
      assert.equal(ck.meta.vaeStep, 9);
      assert.equal(ck.meta.clsStep, 3);
      const resumed = await run(config, ops, `${dir}/resumed`, { resume: ck }, 99);
      assertSameState(await resumed.vae.getState(), await seq.vae.getState(), "resumed VAE probe");
      assertSameState(
        await resumed.cls.getState(),
        await seq.cls.getState(),
        "resumed class probe",
      );
      assert.deepEqual(await metrics(`${dir}/resumed`), want);
    });
  });
}

Deno.test("a probe that goes non-finite in the Worker fails the run with the sequential path's error", async () => {
  await withDir(async (dir) => {
    const config = probeRunConfig(2, 1e30);
    const fail = async (probeWorker: boolean) => {
      try {
        await run(config, REF_LINEAR, `${dir}/${probeWorker}`, { probeWorker });
      } catch (err) {
        return (err as Error).message;
      }
      assert.fail(`a VAE probe with lr 1e30 trained (probeWorker ${probeWorker})`);
    };
    const want = await fail(false);
    assert.match(
      want,
      /^train: training went non-finite at epoch 1, batch \d \(step \d\): the VAE probe's loss became (NaN|Infinity); lower the VAE probe's lr \(config vae\.lr, 1e\+30\); no checkpoint was written$/,
    );
    assert.equal(await fail(true), want);
  });
});

Deno.test("ProbePipeline: steps a copy of the probes as ProbeStep does; the caller's buffers are free at once", async () => {
  const config = probeRunConfig(1);
  const ram = new CpuRam(config.model, 3);
  const B = 5, make = () => makeProbes(config);
  const host = make(), ref = make();
  const step = new ProbeStep(ram, ref.vae, 3, B, VAE_NOISE_STREAM, ref.cls, 2);
  const pipe = await ProbePipeline.open<number>({
    ram: config.model,
    vae: host.vae,
    cls: host.cls,
    seed: 3,
    maxBatch: B,
    stream: VAE_NOISE_STREAM,
    vaeRowsPerImage: 2,
  });
  assert.ok(pipe);
  try {
    const inputs = probeInputs(config, B), { hidden, labels } = inputs;
    const got = [], want = [];
    for (let k = 0; k < 4; k++) {
      const n = k === 3 ? 2 : B;
      const { h, c, batch } = inputs.next(n);
      want.push(await step.step(batch, { start: h, policy: h }, 1, k, { hidden: h, clean: c }));
      got.push(await pipe.post(h, c, labels, n, 1, k, { vae: true, cls: true }, k));
      hidden.fill(NaN); // the Worker has its own copy
    }
    got.push(await pipe.settle());
    assert.equal(got[0], null);
    assert.deepEqual(got.slice(1).map((o) => o!.tag), [0, 1, 2, 3]);
    assert.deepEqual(got.slice(1).map((o) => o!.result), want);
    assert.equal(await pipe.settle(), null);
    await pipe.syncTo();
    assertSameState(await host.vae.getState(), await ref.vae.getState(), "VAE probe");
    assertSameState(await host.cls.getState(), await ref.cls.getState(), "class probe");
  } finally {
    pipe.close();
  }
  await assert.rejects(pipe.syncTo(), /probe pipeline: closed/);
  // What fails in the Worker while opening fails open().
  await assert.rejects(
    ProbePipeline.open({
      ram: { ...config.model, hidden: config.model.hidden + 1 },
      vae: host.vae,
      cls: null,
      seed: 3,
      maxBatch: B,
      stream: VAE_NOISE_STREAM,
      vaeRowsPerImage: 2,
    }),
    /^Error: VAE probe: it reads \d+ values per state, the RAM's hidden size is \d+$/,
  );
  // Products a Worker cannot rebuild: the caller steps the probes itself.
  const other = new CpuVae(vaeModelConfig(config.model, config.vae!), 3, { ...REF_LINEAR });
  const none = await ProbePipeline.open({
    ram: config.model,
    vae: other,
    cls: null,
    seed: 3,
    maxBatch: B,
    stream: VAE_NOISE_STREAM,
    vaeRowsPerImage: 2,
  });
  assert.equal(none, null);
});

Deno.test("train --no-probe-worker: the same run folder as with the Worker, bar timings", async () => {
  await withDir(async (dir) => {
    const args = ["--dataset", "mnist-10k", "--backend", "cpu", "--glimpses", "2", "--limit"];
    const small = [...args, "30", "--batch", "8", "--epochs", "2", "--cls-start", "2"];
    for (const [name, extra] of [["piped", []], ["seq", ["--no-probe-worker"]]] as const) {
      const r = await glimpse("train", ...small, ...extra, "--out", `${dir}/${name}`);
      assert.equal(r.code, 0, r.stderr);
    }
    const a = await loadCheckpoint(`${dir}/seq`, { optimizer: true });
    const b = await loadCheckpoint(`${dir}/piped`, { optimizer: true });
    assertSameState(b.vae!, a.vae!, "VAE probe");
    assertSameState(b.cls!, a.cls!, "class probe");
    assert.equal(b.cls!.step, 4);
    assert.deepEqual(await metrics(`${dir}/piped`), await metrics(`${dir}/seq`));
  });
});
