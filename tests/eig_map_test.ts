import assert from "node:assert/strict";
import {
  eigMaps,
  gridCoordinate,
  headBelief,
  mutualInformation,
  steeredGains,
} from "../run/eig_map.ts";
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

Deno.test("mutual information: ln 2 for two equally likely images a glimpse tells apart, 0 for identical ones", () => {
  const ln = Math.log;
  // (S = 2, K = 3, C = 2): candidate 0 separates, 1 sees the same belief, 2 half-separates
  const p = [
    [[1, 0], [0.3, 0.7], [0.9, 0.1]], // sample 1
    [[0, 1], [0.3, 0.7], [0.5, 0.5]], // sample 2
  ];
  const logp = Float64Array.from(p.flat(2), ln);
  const { mi, expectedEntropy, predictiveEntropy } = mutualInformation(logp, 2, 3, 2);
  assert.equal(mi[0], Math.LN2);
  assert.equal(expectedEntropy[0], 0);
  assert.equal(mi[1], 0);
  const H = (q: number) => -(q * ln(q) + (1 - q) * ln(1 - q));
  // closed form: H(mean) − mean H
  assert.ok(Math.abs(mi[2] - (H(0.7) - (H(0.9) + H(0.5)) / 2)) < 1e-15);
  assert.ok(Math.abs(predictiveEntropy[2] - H(0.7)) < 1e-15);
  // many random beliefs: never negative (Jensen), and ≤ ln C
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const S = 5, K = 50, C = 4;
  const r = Float32Array.from({ length: S * K * C }, () => 4 * Math.log(rand()));
  for (const v of mutualInformation(r, S, K, C).mi) assert.ok(v >= 0 && v <= Math.log(C));
  // unnormalised rows are renormalised: the same beliefs scaled give the same answer
  assert.equal(mutualInformation(logp.map((v) => v - 3), 2, 3, 2).mi[0], Math.LN2);
  assert.throws(() => mutualInformation(logp, 2, 2, 2), /12 log-probabilities, not 2·2·2/);
});

Deno.test("EIG map is ln 2 where a glimpse tells two equally likely imagined images apart and 0 over shared background", async () => {
  // The probe imagines, with probability ½ each (the sign of z_0 ~ N(0, 1)), a 6×6 white square
  // in the top-left corner or nothing; the RAM's h_{t+1}[0] is the sum of what the glimpse sees
  // and the belief says class 1 when it is positive, class 0 when it is 0.
  const config = tinyRunConfig("entropy");
  const cfg = config.model;
  const ram = new CpuRam(cfg, 5);
  const state = await ram.getState();
  for (const t of state.params.values()) t.data.fill(0);
  const set = (name: string, i: number, v: number) => state.params.get(name)!.data[i] = v;
  const rho = state.params.get("fc1.weight")!.shape[1];
  for (let k = 0; k < rho; k++) set("fc1.weight", k, 1); // hg_0 = Σ ρ
  set("fc3.weight", 0, 1); // g_0 = hg_0
  set("i2h.weight", 0, 1); // h_0 = g_0
  ram.setState(state);
  const vae = new CpuVae(vaeModelConfig(cfg, config.vae!), 6);
  const vs = await vae.getState();
  for (const t of vs.params.values()) t.data.fill(0); // q(z | h) = N(0, I)
  vs.params.get("vae.dec1.weight")!.data[0] = 1e3; // d_0 = ReLU(1000 z_0)
  const dec2 = vs.params.get("vae.dec2.weight")!, hidden = dec2.shape[1];
  vs.params.get("vae.dec2.bias")!.data.fill(-30);
  for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) dec2.data[(y * 28 + x) * hidden] = 1e3;
  vae.setState(vs);
  const C = cfg.classes;
  const belief = (h: Float32Array, rows: number) => {
    const logp = new Float32Array(rows * C).fill(-1e4);
    for (let r = 0; r < rows; r++) {
      const one = h[r * cfg.hidden] > 1e-3;
      logp[r * C + (one ? 1 : 0)] = 0;
    }
    return logp;
  };
  const G = 4;
  const maps = await eigMaps(ram, vae, new Float32Array(784), {
    samples: 400,
    grid: G,
    belief,
  });
  for (const m of maps) {
    // the top-left candidate sees the square: ln 2 up to the sampled share of squares
    // (H(½ ± d) = ln 2 − 2d² + …; d ≈ 0.025 at S = 400)
    assert.ok(Math.abs(m.eig[0] - Math.LN2) < 0.01, `top-left ${m.eig[0]}`);
    assert.ok(m.eig[0] <= Math.LN2);
    assert.equal(m.expectedEntropy[0], 0);
    // the other corners see only background, the same in every imagined image: 0 up to rounding
    for (const c of [G - 1, G * (G - 1), G * G - 1]) assert.ok(m.eig[c] < 1e-12, `${m.eig[c]}`);
    assert.equal(m.bestEig, m.eig[0]);
  }
  ram.dispose();
  vae.dispose();
});

Deno.test("EIG map's simulated glimpse is the RAM's step: expected entropies equal rollouts steered to each candidate when the probe imagines the input itself", async () => {
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
  const real = await steeredGains(ram, input, 4, { grid: G });
  assert.equal(maps.length, T - 1);
  assert.equal(real.length, T - 1);
  const mean = await ram.rollout(
    { size: 1, images: input, labels: new Int32Array(1) },
    { stochastic: false, start: new Float32Array(2) },
  );
  for (const [n, m] of maps.entries()) {
    const t = m.glimpse - 1; // the map is made after glimpse t (1-based) for glimpse t+1
    assert.ok(Math.abs(m.entropy - entropy(mean.logp, t - 1, C)) < 1e-5);
    assert.deepEqual(m.chosen, [mean.locations[2 * t], mean.locations[2 * t + 1]]);
    // every imagined image is the input: nothing to learn about y, 0 everywhere up to rounding
    assert.ok(m.eig.every((v) => v >= 0 && v < 1e-12), `${Math.max(...m.eig)}`);
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
      const after = entropy(steered.logp, t, C);
      const cell = i * G + j;
      assert.ok(
        Math.abs(m.expectedEntropy[cell] - after) < 1e-4,
        `glimpse ${m.glimpse} cell (${i}, ${j}): ${m.expectedEntropy[cell]} vs ${after}`,
      );
      assert.equal(real[n].glimpse, m.glimpse);
      const drop = entropy(steered.logp, t - 1, C) - after;
      assert.ok(Math.abs(real[n].entropyDrop[cell] - drop) < 1e-4);
      const nll = steered.logp[t * C + 4] - steered.logp[(t - 1) * C + 4];
      assert.ok(Math.abs(real[n].nllDrop[cell] - nll) < 1e-4);
    }
  }
  // the default belief is the head: passing it explicitly changes nothing
  const head = headBelief(cfg, state.params);
  const again = await eigMaps(ram, vae, input, { samples: 3, grid: G, belief: head });
  assert.deepEqual(again.map((m) => m.expectedEntropy), maps.map((m) => m.expectedEntropy));
  await assert.rejects(steeredGains(ram, input, 10), /label 10 is not a class 0..9/);
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
    expectedEntropy: new Float32Array(eig.length),
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
