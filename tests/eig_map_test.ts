import assert from "node:assert/strict";
import { eigMaps, gridCoordinate } from "../run/eig_map.ts";
import { CpuRam } from "../ram/cpu.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { Rng } from "../util/rng.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { tinyRunConfig } from "./_explain_fixture.ts";

function entropy(logp: Float32Array, row: number, C: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const lp = logp[row * C + c];
    h -= Math.exp(lp) * lp;
  }
  return h;
}

Deno.test("EIG map equals H_t − H_{t+1} of rollouts steered to each candidate when the probe imagines the input itself", async () => {
  const config = tinyRunConfig("entropy");
  const cfg = config.model, C = cfg.classes, T = cfg.glimpses;
  const ram = new CpuRam(cfg, 5);
  const state = await ram.getState();
  const rng = new Rng(9);
  for (const t of state.params.values()) rng.fillUniform(t.data, -0.6, 0.6);
  ram.setState(state);
  const input = rng.fillUniform(new Float32Array(784), 0.02, 0.98);
  // a probe whose decoder ignores z and returns the input: dec2 = 0, bias = logit(input)
  const vae = new CpuVae(vaeModelConfig(cfg, config.vae!), 6);
  const vs = await vae.getState();
  vs.params.get("vae.dec2.weight")!.data.fill(0);
  vs.params.get("vae.dec2.bias")!.data.set(input.map((v) => Math.log(v / (1 - v))));
  vae.setState(vs);

  const G = 5;
  const maps = await eigMaps(ram, vae, input, { samples: 3, grid: G });
  assert.equal(maps.length, T - 1);
  const mean = await ram.rollout(
    { size: 1, images: input, labels: new Int32Array(1) },
    { stochastic: false, start: new Float32Array(2) },
  );
  for (const m of maps) {
    const t = m.glimpse - 1; // the map is made after glimpse t (1-based) for glimpse t+1
    assert.ok(Math.abs(m.entropy - entropy(mean.logp, t - 1, C)) < 1e-5);
    assert.deepEqual(m.chosen, [mean.locations[2 * t], mean.locations[2 * t + 1]]);
    for (const [i, j] of [[0, 0], [2, 3], [4, 1]]) {
      // steer action t to the candidate: ε = (l − μ_t)/σ, every earlier action on its mean
      const policy = new Float32Array((T - 1) * 2);
      const l = [gridCoordinate(j, G), gridCoordinate(i, G)];
      for (let k = 0; k < 2; k++) {
        policy[2 * (t - 1) + k] = (l[k] - mean.locations[2 * t + k]) / cfg.sigma;
      }
      const steered = await ram.rollout(
        { size: 1, images: input, labels: new Int32Array(1) },
        { stochastic: true, start: new Float32Array(2), policy },
      );
      assert.ok(Math.abs(steered.locations[2 * t] - l[0]) < 1e-5);
      const want = entropy(steered.logp, t - 1, C) - entropy(steered.logp, t, C);
      const got = m.eig[i * G + j];
      assert.ok(
        Math.abs(got - want) < 1e-4,
        `glimpse ${m.glimpse} cell (${i}, ${j}): ${got} vs ${want}`,
      );
    }
    assert.equal(m.bestEig, Math.max(...m.eig));
  }
  assert.ok(maps.some((m) => Math.max(...m.eig) - Math.min(...m.eig) > 1e-3), "the map varies");
  ram.dispose();
  vae.dispose();
});

Deno.test("EIG map refuses a canvas model and bad options", async () => {
  const config = tinyRunConfig("entropy");
  const ram = new CpuRam({ ...config.model, height: 40, width: 40 }, 1);
  const vae = new CpuVae(vaeModelConfig(config.model, config.vae!), 1);
  await assert.rejects(
    eigMaps(ram, vae, new Float32Array(1600)),
    /40×40 input is not the probe's 784-pixel digit/,
  );
  const small = new CpuRam(config.model, 1);
  await assert.rejects(eigMaps(small, vae, new Float32Array(784), { grid: 0 }), /grid 0/);
});

Deno.test("EIG map figure blends each candidate's heat over its cell, from each tile's lowest to highest", async () => {
  const { eigMapFigure, heatColour, HEAT_ALPHA } = await import("../report/eig_map_figure.ts");
  const G = 2;
  const map = (glimpse: number, eig: number[]) => ({
    glimpse,
    samples: 1,
    grid: G,
    eig: Float32Array.from(eig),
    entropy: 1,
    chosen: [0, 0] as [number, number],
    best: [0.5, 0.5] as [number, number],
    bestEig: Math.max(...eig),
    chosenEig: eig[3],
  });
  const input = new Float32Array(784).fill(0.5);
  const fig = eigMapFigure(input, 28, 28, [
    map(2, [0, 0.2, 0.4, -0.1]),
    map(3, [0.8, 0.7, 0.7, 0.6]),
  ], 100);
  assert.deepEqual(heatColour(0), [68, 1, 84]);
  assert.deepEqual(heatColour(1), [253, 231, 37]);
  const px = (x: number, y: number) =>
    [0, 1, 2].map((c) => fig.raster.data[3 * (y * fig.raster.width + x) + c]);
  const blend = (v: number) =>
    heatColour(v).map((h) => Math.round((1 - HEAT_ALPHA) * 128 + HEAT_ALPHA * h));
  // tile 1 at x = 10, y = 22, cells of 50 pixels, scale −0.1 … 0.4
  assert.deepEqual(px(10 + 10, 22 + 10), blend(0.1 / 0.5));
  assert.deepEqual(px(10 + 60, 22 + 10), blend(0.3 / 0.5));
  assert.deepEqual(px(10 + 10, 22 + 60), blend(1));
  assert.deepEqual(px(10 + 60, 22 + 60), blend(0));
  // tile 2 at x = 120, scale 0.6 … 0.8
  assert.deepEqual(px(120 + 10, 22 + 10), blend(1));
  assert.deepEqual(px(120 + 60, 22 + 10), blend(0.5));
  assert.deepEqual(px(120 + 60, 22 + 60), blend(0));
  assert.ok(fig.texts.some((t) => t.text === "range -0.100 to 0.400"));
  assert.ok(fig.texts.some((t) => t.text === "glimpse 3"));
  assert.throws(() => eigMapFigure(input, 28, 28, []), /no maps/);
});
