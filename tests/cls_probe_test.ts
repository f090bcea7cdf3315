import assert from "node:assert/strict";
import { CpuClassProbe } from "../probe/cls_cpu.ts";
import { GpuClassProbe } from "../probe/cls_gpu.ts";
import {
  type ClsConfig,
  clsFeatures,
  clsParamSpecs,
  resolveClsRunConfig,
} from "../probe/cls_params.ts";
import type { ParamMap } from "../ram/backend.ts";
import { assertClose, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";
import { loadBlas } from "../util/blas.ts";
import { blasLinear } from "../kernels/linear_blas.ts";

/** Small probes, one per glimpse mode, with and without the hidden layer; sizes coprime. */
function tiny(glimpse: ClsConfig["glimpse"], hidden: number): ClsConfig {
  return { input: 5, glimpses: 3, classes: 4, hidden, glimpse, lr: 1e-2 };
}
const CONFIGS: ClsConfig[] = (["shared", "embed", "separate"] as const).flatMap((g) => [
  tiny(g, 0),
  tiny(g, 7),
]);

function inputs(cfg: ClsConfig, B: number, seed: number) {
  const hidden = randomArray(cfg.glimpses * B * cfg.input, seed, 0, 2); // (T, B, H), ReLU-like
  const labels = Int32Array.from({ length: B }, (_, b) => (b * 3 + seed) % cfg.classes);
  return { hidden, labels };
}

/** The mean NLL written out from the parameters in float64, independently of cls_cpu.ts. */
function directLoss(cfg: ClsConfig, p: ParamMap, hidden: Float32Array, labels: Int32Array) {
  const { input: H, glimpses: T, classes: C } = cfg;
  const B = labels.length;
  const lin = (name: string, x: number[], relu: boolean) => {
    const W = p.get(`${name}.weight`)!.data, b = p.get(`${name}.bias`)!.data;
    return Array.from({ length: b.length }, (_, o) => {
      let s = b[o];
      for (let i = 0; i < x.length; i++) s += W[o * x.length + i] * x[i];
      return relu ? Math.max(0, s) : s;
    });
  };
  let total = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const h = Array.from(hidden.subarray((t * B + b) * H, (t * B + b + 1) * H));
      let x: number[];
      if (cfg.glimpse === "shared") x = h;
      else if (cfg.glimpse === "embed") {
        x = [...h, ...Array.from({ length: T }, (_, k) => (k === t ? 1 : 0))];
      } else {
        x = new Array(T * H).fill(0);
        h.forEach((v, i) => (x[t * H + i] = v));
      }
      const logits = cfg.hidden > 0
        ? lin("classprobe.out", lin("classprobe.fc1", x, true), false)
        : lin("classprobe.out", x, false);
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
      total += lse - logits[labels[b]];
    }
  }
  void C;
  return total / (T * B);
}

Deno.test("class probe backward matches finite differences for every parameter and mode", () => {
  for (const cfg of CONFIGS) {
    const probe = new CpuClassProbe(cfg, 3);
    const { hidden, labels } = inputs(cfg, 4, 1);
    const { grads, nll } = probe.lossAndGrads(hidden, labels);
    const what = `${cfg.glimpse} hidden ${cfg.hidden}`;
    assertClose([nll], [directLoss(cfg, probe.params, hidden, labels)], {
      atol: 1e-5,
      rtol: 1e-5,
      label: `${what} loss`,
    });
    for (const s of clsParamSpecs(cfg)) {
      const x = probe.params.get(s.name)!.data;
      const fd = finiteDiff(x, () => directLoss(cfg, probe.params, hidden, labels), 1e-4);
      const g = grads.get(s.name)!.data;
      assertClose(g, fd, { atol: 2e-4, rtol: 2e-3, label: `${what}: d loss / d ${s.name}` });
      assert.ok(g.some((v) => Math.abs(v) > 1e-4), `${what} ${s.name}: gradient is all zero`);
    }
  }
});

Deno.test("class probe features: embed appends onehot(t), separate puts h_t in block t", () => {
  const h = Float32Array.from([1, 2, 3, 4]); // (T=2, B=1, H=2)
  const base = { input: 2, glimpses: 2, classes: 2, hidden: 0, lr: 0 };
  assert.deepEqual([...clsFeatures({ ...base, glimpse: "embed" }, h)], [1, 2, 1, 0, 3, 4, 0, 1]);
  assert.deepEqual([...clsFeatures({ ...base, glimpse: "separate" }, h)], [1, 2, 0, 0, 0, 0, 3, 4]);
  // One glimpse given: every row is that glimpse.
  assert.deepEqual([...clsFeatures({ ...base, glimpse: "separate" }, h, 2)], [
    0,
    0,
    1,
    2,
    0,
    0,
    3,
    4,
  ]);
  assert.throws(() => clsFeatures({ ...base, glimpse: "shared" }, new Float32Array(6)), /T·B/);
  assert.throws(() => clsFeatures({ ...base, glimpse: "shared" }, h, 3), /glimpse 3/);
});

Deno.test("class probe beliefs are log-probabilities and training lowers the NLL", async () => {
  const cfg = { ...tiny("separate", 0), lr: 0.05 };
  const probe = new CpuClassProbe(cfg, 2);
  const { hidden, labels } = inputs(cfg, 8, 4);
  const first = await probe.trainStep(hidden, labels);
  let last = first;
  for (let i = 0; i < 60; i++) last = await probe.trainStep(hidden, labels);
  assert.ok(last.nll < 0.5 * first.nll, `NLL ${first.nll} → ${last.nll}`);
  const logp = await probe.beliefs(hidden);
  assert.equal(logp.length, cfg.glimpses * 8 * cfg.classes);
  for (let r = 0; r < logp.length / cfg.classes; r++) {
    let s = 0;
    for (let c = 0; c < cfg.classes; c++) s += Math.exp(logp[r * cfg.classes + c]);
    assertClose([s], [1], { atol: 1e-5, label: `row ${r} sums to 1` });
  }
  // Glimpse-t beliefs of single states equal the rollout's rows of glimpse t.
  const B = 8, H = cfg.input, C = cfg.classes;
  const g2 = await probe.beliefs(hidden.subarray(B * H, 2 * B * H), 2);
  assertClose(g2, logp.subarray(B * C, 2 * B * C), { atol: 0, label: "glimpse 2 rows" });
  assert.equal((await probe.getState()).step, 61);
});

Deno.test("class probe rejects bad labels and run configs with one line naming them", async () => {
  const probe = new CpuClassProbe(tiny("shared", 0), 1);
  await assert.rejects(
    () => probe.trainStep(new Float32Array(3 * 2 * 5), Int32Array.from([0, 9])),
    /label 9/,
  );
  await assert.rejects(
    () => probe.trainStep(new Float32Array(3 * 2 * 5), Int32Array.from([0])),
    /6 states for 1 labels/,
  );
  assert.throws(() => resolveClsRunConfig({ glimpse: "per" }), /cls config "glimpse"/);
  assert.throws(() => resolveClsRunConfig({ depth: 2 }), /unknown cls config key "depth"/);
  assert.equal(resolveClsRunConfig(undefined), null);
});

gpuTest("webgpu and cpu class probes agree over training steps in every mode", async (gpu) => {
  for (const cfg of CONFIGS) {
    const g = await GpuClassProbe.create(gpu, cfg, 9);
    const c = new CpuClassProbe(cfg, 9);
    const what = `${cfg.glimpse} hidden ${cfg.hidden}`;
    try {
      for (const [i, B] of [5, 5, 1, 3].entries()) {
        const { hidden, labels } = inputs(cfg, B, 20 + i);
        const want = await c.trainStep(hidden, labels);
        const got = await g.trainStep(hidden, labels);
        assertClose([got.nll], [want.nll], { atol: 1e-5, rtol: 1e-4, label: `${what} step ${i}` });
        assert.equal(got.accuracy, want.accuracy, `${what} step ${i} accuracy`);
        const [gs, cs] = [await g.getState(), await c.getState()];
        assert.equal(gs.step, cs.step);
        for (const [name, t] of cs.params) {
          assertClose(gs.params.get(name)!.data, t.data, {
            atol: 2e-5,
            rtol: 1e-3,
            label: `${what} ${name} after step ${i}`,
          });
        }
      }
      const { hidden } = inputs(cfg, 4, 99);
      assertClose(await g.beliefs(hidden), await c.beliefs(hidden), {
        atol: 1e-5,
        rtol: 1e-4,
        label: `${what} beliefs`,
      });
      // A state round-trip through the cpu probe reproduces the same beliefs.
      const other = new CpuClassProbe(cfg, 1);
      other.setState(await g.getState());
      assertClose(await other.beliefs(hidden), await c.beliefs(hidden), {
        atol: 1e-5,
        rtol: 1e-4,
        label: `${what} beliefs after setState`,
      });
    } finally {
      g.dispose();
    }
  }
});

const blas = loadBlas();
Deno.test({
  name:
    "the cpu backend's class probe on BLAS follows the reference over training steps in every mode",
  ignore: blas === null,
  fn: async () => {
    for (const cfg of CONFIGS) {
      const fast = new CpuClassProbe(cfg, 9, blasLinear(blas!.sgemm));
      const ref = new CpuClassProbe(cfg, 9);
      const what = `${cfg.glimpse} hidden ${cfg.hidden}`;
      for (const [i, B] of [5, 5, 1, 3].entries()) {
        const { hidden, labels } = inputs(cfg, B, 20 + i);
        const want = await ref.trainStep(hidden, labels);
        const got = await fast.trainStep(hidden, labels);
        assertClose([got.nll], [want.nll], { atol: 1e-5, rtol: 1e-4, label: `${what} step ${i}` });
        for (const [name, t] of (await ref.getState()).params) {
          assertClose((await fast.getState()).params.get(name)!.data, t.data, {
            atol: 2e-5,
            rtol: 1e-3,
            label: `${what} ${name} after step ${i}`,
          });
        }
      }
    }
  },
});
