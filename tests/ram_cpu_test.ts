import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import type { RamConfig } from "../ram/config.ts";
import { returnsFromRewards } from "../ram/returns.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

/**
 * Which loss term reaches each module under the design's detaches: the NLL reaches the glimpse
 * net, the core and the classifier; the policy reads h detached, so only REINFORCE reaches
 * loc1/loc2; the baseline reads h detached and is a constant inside the advantage, so only
 * the baseline MSE reaches base.
 */
function termOf(name: string): "nll" | "reinforce" | "baseline" {
  if (name.startsWith("loc")) return "reinforce";
  if (name.startsWith("base")) return "baseline";
  return "nll";
}

function gradientCheck(cfg: RamConfig): void {
  const B = 3, lambda = 1; // λ = 1 so REINFORCE gradients are well above float32 noise
  const ram = new CpuRam(cfg, 7);
  const batch = randomBatch(cfg, B, 11);
  const noise = randomNoise(cfg, B, 12);
  const rewards = randomArray(cfg.glimpses * B, 13, -1, 2);
  const first = ram.lossAndGrads(batch, rewards, noise, { lambda });
  // With the actions fixed (they are constants of the loss) the loss is a function of θ.
  const opts = { lambda, actions: first.actions };
  const eps = 1e-3;
  let checked = 0;
  for (const [name, t] of ram.params) {
    const want = first.grads.get(name)!.data;
    const term = termOf(name);
    const got: number[] = [], exp: number[] = [];
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      t.data[i] = v + eps;
      const up = ram.lossAndGrads(batch, rewards, noise, opts);
      t.data[i] = v - eps;
      const down = ram.lossAndGrads(batch, rewards, noise, opts);
      t.data[i] = v;
      // With the actions fixed, the policy and the baseline cannot move the NLL.
      if (term !== "nll") assert.equal(up.nll, down.nll, `${name}[${i}] moved the NLL`);
      got.push((up[term] - down[term]) / (2 * eps));
      exp.push(want[i]);
      checked++;
    }
    assertClose(exp, got, { atol: 1e-4, rtol: 1e-2, label: `${cfg.core} ${name} (${term})` });
  }
  assert.ok(checked > 500, `${checked} entries checked`);
}

Deno.test("whole-model gradient (rnn core) matches finite differences in every entry", () => {
  gradientCheck(tinyConfig());
});

Deno.test("whole-model gradient (lstm core) matches finite differences in every entry", () => {
  gradientCheck(tinyConfig({ core: "lstm" }));
});

Deno.test("gradients of detached paths are zero where the design says so", () => {
  const cfg = tinyConfig();
  const ram = new CpuRam(cfg, 3);
  const B = 2;
  const batch = randomBatch(cfg, B, 1);
  const noise = randomNoise(cfg, B, 2);
  // λ = 0 removes REINFORCE: loc1/loc2 get nothing, everything else still learns.
  const r0 = ram.lossAndGrads(batch, new Float32Array(cfg.glimpses * B), noise, { lambda: 0 });
  for (const [name, t] of r0.grads) {
    const zero = t.data.every((v) => v === 0);
    assert.equal(zero, name.startsWith("loc"), `${name}: zero gradient = ${zero} with λ = 0`);
  }
});

Deno.test("a reward at glimpse t changes the policy gradient of actions before t only", () => {
  const cfg = tinyConfig({ glimpses: 4 });
  const T = cfg.glimpses, B = 3;
  const ram = new CpuRam(cfg, 5);
  const batch = randomBatch(cfg, B, 21);
  const noise = randomNoise(cfg, B, 22);
  const base = ram.lossAndGrads(batch, new Float32Array(T * B), noise, { lambda: 1 });
  for (let t = 1; t <= T; t++) {
    const rewards = new Float32Array(T * B);
    for (let b = 0; b < B; b++) rewards[(t - 1) * B + b] = 1;
    const r = ram.lossAndGrads(batch, rewards, noise, { lambda: 1 });
    for (let s = 1; s < T; s++) {
      const step = (x: Float32Array) => x.subarray((s - 1) * B * 2, s * B * 2);
      const changed = step(r.dmu).some((v, i) => Math.abs(v - step(base.dmu)[i]) > 1e-6);
      assert.equal(changed, s < t, `reward at glimpse ${t}: action a_${s} changed=${changed}`);
      const G = r.returns.subarray((s - 1) * B, s * B);
      assert.deepEqual([...G], new Array(B).fill(s < t ? 1 : 0), `G for a_${s}, reward at ${t}`);
    }
    // A reward at the first glimpse follows no action: the policy gradient is unchanged.
    if (t === 1) {
      for (const m of ["loc1.weight", "loc2.weight", "loc2.bias"]) {
        assert.deepEqual(r.grads.get(m)!.data, base.grads.get(m)!.data, m);
      }
    }
  }
});

Deno.test("returns of the loss match ram/returns.ts and the reported parts add up", () => {
  const cfg = tinyConfig();
  const B = 4, T = cfg.glimpses;
  const ram = new CpuRam(cfg, 9);
  const rewards = randomArray(T * B, 3, 0, 1);
  const r = ram.lossAndGrads(randomBatch(cfg, B, 1), rewards, randomNoise(cfg, B, 2));
  assert.deepEqual(r.returns, returnsFromRewards(T, B, rewards));
  assert.equal(r.loss, r.nll + r.baseline + r.reinforce);
  let total = 0;
  for (const v of rewards) total += v;
  assertClose([r.reward], [total / B], { label: "mean episode reward" });
  assert.equal(r.actions.length, (T - 1) * B * 2);
  assert.equal(r.baselines.length, (T - 1) * B);
});

Deno.test("rollout follows the mean policy from the centre and matches the training forward", async () => {
  const cfg = tinyConfig();
  const B = 3, T = cfg.glimpses, C = cfg.classes;
  const ram = new CpuRam(cfg, 4);
  const batch = randomBatch(cfg, B, 8);
  const ro = await ram.rollout(batch, { stochastic: false });
  assert.deepEqual([...ro.locations.subarray(0, 2 * B)], new Array(2 * B).fill(0));
  assert.equal(ro.hidden.length, T * B * cfg.hidden);
  assert.equal(ro.logp.length, T * B * C);
  for (let i = 0; i < T * B; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += ro.probs[i * C + c];
    assertClose([s], [1], { atol: 1e-5, label: "probabilities sum to 1" });
  }
  // Stochastic rollout with the training noise sees the same locations as the training step.
  const noise = randomNoise(cfg, B, 9);
  const sto = await ram.rollout(batch, {
    stochastic: true,
    start: noise.start,
    policy: noise.policy,
  });
  const train = ram.lossAndGrads(batch, new Float32Array(T * B), noise);
  for (let i = 0; i < (T - 1) * B * 2; i++) {
    const want = Math.min(1, Math.max(-1, train.actions[i]));
    assert.equal(sto.locations[2 * B + i], want, `l_{t+1} = clamp(a_t) at ${i}`);
  }
  await assert.rejects(() => ram.rollout(batch, { stochastic: true }), /needs options.policy/);
});

Deno.test("trainStep names what is wrong with a bad reward or batch", async () => {
  const cfg = tinyConfig();
  const ram = new CpuRam(cfg, 1);
  const batch = randomBatch(cfg, 2, 1);
  const noise = randomNoise(cfg, 2, 2);
  const train = {
    epochs: 1,
    batch: 2,
    lr: 1e-3,
    lambda: 0.01,
    seed: 1,
    policyLr: null,
    baselineLr: null,
    schedule: "constant" as const,
  };
  await assert.rejects(
    () => ram.trainStep(batch, () => new Float32Array(5), noise, train),
    /reward function returned 5 values, expected a Float32Array of T·B = 3·2/,
  );
  await assert.rejects(
    () => ram.trainStep(batch, (e) => new Float32Array(e.T * e.B).fill(NaN), noise, train),
    /reward \[0\] \(glimpse 1, sample 0\) is NaN/,
  );
  await assert.rejects(
    () => ram.trainStep({ ...batch, size: 3 }, () => new Float32Array(6), noise, train),
    /batch images have 288 values/,
  );
  const state = await ram.getState();
  assert.equal(state.step, 0, "failed steps leave Adam untouched");
});

Deno.test("state round-trips and setState rejects mismatched shapes", async () => {
  const cfg = tinyConfig();
  const a = new CpuRam(cfg, 1), b = new CpuRam(cfg, 2);
  const batch = randomBatch(cfg, 2, 1);
  const train = {
    epochs: 1,
    batch: 2,
    lr: 1e-2,
    lambda: 0.01,
    seed: 1,
    policyLr: null,
    baselineLr: null,
    schedule: "constant" as const,
  };
  await a.trainStep(batch, (e) => new Float32Array(e.T * e.B), randomNoise(cfg, 2, 3), train);
  const s = await a.getState();
  assert.equal(s.step, 1);
  b.setState(s);
  assert.deepEqual(await b.getState(), s);
  const ra = await a.rollout(batch, { stochastic: false });
  const rb = await b.rollout(batch, { stochastic: false });
  assert.deepEqual(rb.logp, ra.logp);
  s.params.get("cls.weight")!.shape = [2, 8];
  assert.throws(() => b.setState(s), /tensor "cls.weight" has shape \[2,8\].*expected \[3,8\]/);
});
