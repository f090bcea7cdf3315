import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import { loadBlas } from "../util/blas.ts";
import { GpuRam } from "../ram/gpu.ts";
import type { Batch, RamBackend, Rollout } from "../ram/backend.ts";
import { initParams } from "../ram/params.ts";
import {
  CONTROL_STREAM,
  controlLocations,
  parseControls,
  untrainedPolicy,
} from "../run/controls.ts";
import { Rng } from "../util/rng.ts";
import { assertClose } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";
import { randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

const cfg = tinyConfig({ glimpses: 4 });
const B = 5;

/** A trained-looking RAM: parameters moved away from their initial values by a few steps. */
async function trainedCpu(): Promise<CpuRam> {
  const ram = new CpuRam(cfg, 3);
  const reward = () => Promise.resolve(new Float32Array(cfg.glimpses * B).fill(0.5));
  const train = { lr: 0.05, lambda: 0.01 } as Parameters<CpuRam["trainStep"]>[3];
  for (let i = 0; i < 3; i++) {
    await ram.trainStep(randomBatch(cfg, B, 10 + i), reward, randomNoise(cfg, B, 20 + i), train);
  }
  return ram;
}

function locationsAt(r: Rollout, t: number): number[] {
  return [...r.locations.subarray(t * B * 2, (t + 1) * B * 2)];
}

/** Glimpse 1's outputs and the data: equal for any control (same l_1, parameters, images). */
function assertSameFirstGlimpse(got: Rollout, want: Rollout, what: string) {
  const H = cfg.hidden, C = cfg.classes;
  assert.deepEqual(locationsAt(got, 0), locationsAt(want, 0), `${what}: l_1`);
  assertClose(got.hidden.subarray(0, B * H), want.hidden.subarray(0, B * H), {
    atol: 1e-6,
    label: `${what}: h_1`,
  });
  assertClose(got.logp.subarray(0, B * C), want.logp.subarray(0, B * C), {
    atol: 1e-6,
    label: `${what}: log p_1`,
  });
  assert.deepEqual([...got.labels], [...want.labels], `${what}: labels`);
}

async function checkControls(ram: RamBackend, batch: Batch, start: Float32Array) {
  const T = cfg.glimpses;
  const idx = [...Array(B).keys()].map((i) => 100 + i);
  const policy = await ram.rollout(batch, { stochastic: false, start });

  // Given the policy's own locations, the rollout is the policy's: the override changes
  // nothing but where the glimpses go.
  const own = policy.locations.slice(B * 2);
  const replay = await ram.rollout(batch, { stochastic: false, start, locations: own });
  assertClose(replay.logp, policy.logp, { atol: 1e-6, label: "replay log p" });
  assertClose(replay.hidden, policy.hidden, { atol: 1e-6, label: "replay h" });

  const fixed = await ram.rollout(batch, {
    stochastic: false,
    start,
    locations: controlLocations("fixed", T, start, idx, 1),
  });
  assertSameFirstGlimpse(fixed, policy, "fixed");
  for (let t = 1; t < T; t++) {
    assert.deepEqual(locationsAt(fixed, t), [...start], `fixed: l_${t + 1} = l_1`);
  }
  assert.notDeepEqual(locationsAt(policy, 1), [...start], "the policy does move");

  const random = await ram.rollout(batch, {
    stochastic: false,
    start,
    locations: controlLocations("random", T, start, idx, 1),
  });
  assertSameFirstGlimpse(random, policy, "random");
  for (let b = 0; b < B; b++) {
    const draw = Rng.derive(1, CONTROL_STREAM, idx[b]).fillUniform(
      new Float32Array(2 * (T - 1)),
      -1,
      1,
    );
    for (let t = 1; t < T; t++) {
      assertClose(
        random.locations.subarray((t * B + b) * 2, (t * B + b) * 2 + 2),
        draw.subarray(2 * (t - 1), 2 * t),
        { atol: 0, label: `random: l_${t + 1} of image ${idx[b]}` },
      );
    }
  }
  return { policy, fixed, random };
}

Deno.test("controls: fixed repeats l_1, random draws per image, the rest of the rollout is the policy's", async () => {
  const ram = await trainedCpu();
  const batch = randomBatch(cfg, B, 1);
  const start = new Rng(2).fillUniform(new Float32Array(2 * B), -0.5, 0.5);
  await checkControls(ram, batch, start);
  // Random locations do not depend on the batch an image is in.
  const a = controlLocations("random", 4, new Float32Array(4), [7, 8], 1)!;
  const b = controlLocations("random", 4, new Float32Array(2), [8], 1)!;
  for (let t = 0; t < 3; t++) {
    assert.deepEqual([...a.subarray(t * 4 + 2, t * 4 + 4)], [...b.subarray(t * 2, t * 2 + 2)]);
  }
  await assert.rejects(
    () =>
      ram.rollout(batch, {
        stochastic: false,
        start,
        locations: new Float32Array(3 * B * 2).fill(2),
      }),
    /outside \[−1, 1\]/,
  );
});

Deno.test("controls: the untrained policy replaces loc1/loc2 by their initial values and nothing else", async () => {
  const ram = await trainedCpu();
  const trained = await ram.getState();
  const state = untrainedPolicy(trained, cfg, 3);
  const init = initParams(cfg, 3);
  for (const [name, t] of state.params) {
    const policy = name.startsWith("loc1.") || name.startsWith("loc2.");
    const want = policy ? init.get(name)! : trained.params.get(name)!;
    assert.deepEqual([...t.data], [...want.data], name);
    if (policy) assert.notDeepEqual([...t.data], [...trained.params.get(name)!.data], name);
  }
  const batch = randomBatch(cfg, B, 1), start = new Float32Array(2 * B);
  const before = await ram.rollout(batch, { stochastic: false, start });
  ram.setState(state);
  const after = await ram.rollout(batch, { stochastic: false, start });
  assertSameFirstGlimpse(after, before, "untrained");
  assert.notDeepEqual(locationsAt(after, 1), locationsAt(before, 1), "other l_2");
  assert.equal(controlLocations("untrained", 4, start, [0, 1, 2, 3, 4], 1), undefined);
});

Deno.test("controls: --control and --controls parse, unknown names are refused", () => {
  assert.deepEqual(parseControls(["untrained", "fixed"], false), ["fixed", "untrained"]);
  assert.deepEqual(parseControls(undefined, true), ["fixed", "random", "untrained"]);
  assert.deepEqual(parseControls(undefined, false), []);
  assert.throws(() => parseControls(["centre"], false), /--control centre: unknown control/);
});

gpuTest(
  "controls: the webgpu rollout with given locations matches the cpu reference",
  async (gpu) => {
    const cpu = await trainedCpu();
    const ram = await GpuRam.create(gpu, cfg, 3);
    try {
      ram.setState(await cpu.getState());
      for (const size of [B, 64]) {
        const batch = randomBatch(cfg, size, 5);
        const start = new Rng(6).fillUniform(new Float32Array(2 * size), -1, 1);
        const idx = [...Array(size).keys()];
        for (const c of ["fixed", "random"] as const) {
          const locations = controlLocations(c, cfg.glimpses, start, idx, 1);
          const want = await cpu.rollout(batch, { stochastic: false, start, locations });
          const got = await ram.rollout(batch, { stochastic: false, start, locations });
          assertClose(got.locations, want.locations, {
            atol: 1e-6,
            label: `${c} B=${size} locations`,
          });
          assertClose(got.logp, want.logp, {
            atol: 1e-4,
            rtol: 1e-4,
            label: `${c} B=${size} log p`,
          });
          assertClose(got.hidden, want.hidden, {
            atol: 1e-4,
            rtol: 1e-4,
            label: `${c} B=${size} h`,
          });
        }
        // The policy's rollout still works after a given one (the sample dispatch writes again).
        const want = await cpu.rollout(batch, { stochastic: false, start });
        const got = await ram.rollout(batch, { stochastic: false, start });
        assertClose(got.locations, want.locations, { atol: 1e-5, label: `policy B=${size}` });
      }
      await checkControls(ram, randomBatch(cfg, B, 1), new Float32Array(2 * B).fill(0.25));
    } finally {
      ram.dispose();
    }
  },
);

Deno.test("controls: the BLAS cpu rollout with given locations matches the cpu reference", async (t) => {
  const blas = loadBlas();
  if (!blas) {
    console.log("skipped: no BLAS library opens (apt-get install libopenblas0-pthread)");
    return;
  }
  const cpu = await trainedCpu();
  const ram = new BlasRam(cfg, 3, blas);
  ram.setState(await cpu.getState());
  const batch = randomBatch(cfg, B, 5);
  const start = new Rng(6).fillUniform(new Float32Array(2 * B), -1, 1);
  const idx = [...Array(B).keys()];
  for (const c of ["fixed", "random"] as const) {
    await t.step(c, async () => {
      const locations = controlLocations(c, cfg.glimpses, start, idx, 1);
      const want = await cpu.rollout(batch, { stochastic: false, start, locations });
      const got = await ram.rollout(batch, { stochastic: false, start, locations });
      assertClose(got.locations, want.locations, { atol: 1e-6, label: `${c} locations` });
      assertClose(got.logp, want.logp, { atol: 1e-4, rtol: 1e-4, label: `${c} log p` });
    });
  }
  await checkControls(ram, randomBatch(cfg, B, 1), new Float32Array(2 * B).fill(0.25));
});
