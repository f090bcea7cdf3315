/**
 * What the reward sandbox costs per training step: one batch at the default shape (T=6 glimpses,
 * B=128 samples, C=10 classes) through a reward in this process (baseline) and through the
 * sandboxed plugin process (copy the four episode arrays into one frame, write it to the
 * process's stdin, run, read the float64 rewards back from its stdout, check them). Bytes moved
 * per call: probs 30 KiB + labels 0.5 KiB + predictions 3 KiB + locations 6 KiB in, rewards
 * 6 KiB out.
 *
 *   deno bench -A bench/rewards_bench.ts
 *
 * @module
 */
import { bindReward } from "../rewards/check.ts";
import classification from "../rewards/classification.ts";
import entropy from "../rewards/entropy.ts";
import saccade from "../examples/saccade_reward.ts";
import type { RewardDefinition } from "../rewards/define.ts";
import { loadReward } from "../rewards/loader.ts";
import type { ResolvedOptions } from "../rewards/options.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";
import { requestGpu } from "../gpu/device.ts";
import { GpuRam } from "../ram/gpu.ts";
import { resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { randomBatch, randomNoise } from "../tests/_ram_fixture.ts";
import { benchNeeds } from "./_needs.ts";

if (benchNeeds("bench/rewards_bench.ts", ["read", "run", "env"])) {
  const shape = { T: 6, B: 128, C: 10 };
  const ep = syntheticEpisodes({ ...shape, seed: 1 });
  const root = new URL("..", import.meta.url);
  const cases: { spec: string; def: RewardDefinition; opts: ResolvedOptions }[] = [
    { spec: "classification", def: classification, opts: {} },
    { spec: "entropy", def: entropy, opts: { beta: 0.5 } },
    { spec: "examples/saccade_reward.ts", def: saccade, opts: { weight: 0.05, radius: 0.5 } },
  ];

  for (const { spec, def, opts } of cases) {
    const inProcess = bindReward(def, opts, spec);
    // loading runs deno info and starts the plugin's process: allow for a busy machine
    const sandboxed = await loadReward(spec, { cwd: root.pathname, loadTimeoutMs: 60_000 });
    globalThis.addEventListener("unload", () => void sandboxed.close());
    for (let i = 0; i < 50; i++) await sandboxed.fn(ep); // warm the plugin process's JIT
    const group = `${spec} reward, T=${shape.T} B=${shape.B} C=${shape.C}`;
    Deno.bench({
      name: "in-process",
      group,
      baseline: true,
      async fn() {
        await inProcess(ep);
      },
    });
    Deno.bench({
      name: "sandboxed process",
      group,
      async fn() {
        await sandboxed.fn(ep);
      },
    });
  }

  // The share of a training step: the webgpu backend at the default config (batch 128, 6
  // glimpses, 28×28) with the entropy reward in-process and sandboxed. The step includes one
  // readback (≥ 10 ms on Deno's WebGPU) and runs the reward between forward and backward.
  const stepGroup = "training step, webgpu default config, entropy reward";
  try {
    const gpu = await requestGpu();
    const cfg = resolveRamConfig();
    const train = resolveTrainConfig();
    const ram = await GpuRam.create(gpu, cfg, 1);
    const batch = randomBatch(cfg, train.batch, 2);
    const noise = randomNoise(cfg, train.batch, 3);
    const inProcess = bindReward(entropy, { beta: 0.5 }, "entropy");
    const sandboxed = await loadReward("entropy", { loadTimeoutMs: 60_000 });
    globalThis.addEventListener("unload", () => void sandboxed.close());
    for (let i = 0; i < 3; i++) await ram.trainStep(batch, sandboxed.fn, noise, train);
    Deno.bench({
      name: `in-process (${gpu.description})`,
      group: stepGroup,
      baseline: true,
      n: 10,
      warmup: 2,
      async fn() {
        await ram.trainStep(batch, inProcess, noise, train);
      },
    });
    Deno.bench({
      name: "sandboxed",
      group: stepGroup,
      n: 10,
      warmup: 2,
      async fn() {
        await ram.trainStep(batch, sandboxed.fn, noise, train);
      },
    });
  } catch (e) {
    console.error(`${stepGroup}: skipped (${(e as Error).message})`);
  }
}
