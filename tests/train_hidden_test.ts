/**
 * TrainStepOptions.hidden: the states a training step hands the probes are exactly those of a
 * stochastic rollout with the same noise before the step (so the probes need no second forward
 * pass), on the reference cpu backend, the BLAS cpu backend and webgpu, rnn and lstm cores.
 */
import assert from "node:assert/strict";
import type { RamBackend } from "../ram/backend.ts";
import { CpuRam } from "../ram/cpu.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import { GpuRam } from "../ram/gpu.ts";
import { type RamConfig, resolveTrainConfig } from "../ram/config.ts";
import { loadBlas } from "../util/blas.ts";
import { gpuTest } from "./_gpu.ts";
import { classificationReward, randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

const train = resolveTrainConfig({ lr: 0.01 });

/**
 * Two steps on `ram`: before each, a rollout with the step's noise; the step's states must be
 * bit-identical to it, and the second step's must differ from the first rollout's (the
 * parameters moved, so the test would notice states that were not this step's).
 */
async function checkStates(ram: RamBackend, cfg: RamConfig, B: number): Promise<void> {
  const batch = randomBatch(cfg, B, 21);
  let previous: Float32Array | null = null;
  for (let s = 0; s < 2; s++) {
    const noise = randomNoise(cfg, B, 30 + s);
    const rollout = await ram.rollout(batch, {
      stochastic: true,
      start: noise.start,
      policy: noise.policy,
    });
    const hidden = new Float32Array(cfg.glimpses * B * cfg.hidden).fill(NaN);
    await ram.trainStep(batch, classificationReward, noise, train, { hidden });
    assert.ok(rollout.hidden.some((v) => v !== 0), "states are not all zero");
    assert.deepEqual(hidden, rollout.hidden, `${ram.name} ${cfg.core} step ${s + 1}`);
    if (previous) assert.notDeepEqual(hidden, previous, "the second step's states are its own");
    previous = hidden;
  }
  await assert.rejects(
    ram.trainStep(batch, classificationReward, randomNoise(cfg, B, 9), train, {
      hidden: new Float32Array(3),
    }),
    /hidden-state buffer has 3 values, expected T·B·H/,
  );
}

const blas = loadBlas();

for (const core of ["rnn", "lstm"] as const) {
  const cfg = tinyConfig({ core });
  Deno.test(`training step hands out its forward states (reference cpu, ${core})`, async () => {
    await checkStates(new CpuRam(cfg, 3), cfg, 5);
  });
  Deno.test({
    name: `training step hands out its forward states (BLAS cpu, ${core})`,
    ignore: blas === null,
    fn: () => checkStates(new BlasRam(cfg, 3, blas!), cfg, 5),
  });
  gpuTest(`training step hands out its forward states (webgpu, ${core})`, async (gpu) => {
    const ram = await GpuRam.create(gpu, cfg, 3);
    try {
      await checkStates(ram, cfg, 5);
    } finally {
      ram.dispose();
    }
  });
}
