import assert from "node:assert/strict";
import {
  checkParams,
  flatLayout,
  flattenParams,
  initParams,
  PARAM_ALIGN,
  paramSpecs,
  unflattenParams,
} from "../ram/params.ts";
import { DEFAULT_RAM, resolveRamConfig } from "../ram/config.ts";

Deno.test("parameter names and shapes are the PyTorch peer's, in its order", () => {
  // shared/peer/ram_torch.py: fc1 (64→128), fc2 (2→128), fc3, fc4 (128→256), i2h, h2h (256),
  // loc1 (256→128), loc2 (128→2), base (256→1), cls (256→10); nn.Linear weights are [out, in].
  const want: [string, number[]][] = [];
  const lin = (m: string, i: number, o: number) =>
    want.push([`${m}.weight`, [o, i]], [`${m}.bias`, [o]]);
  lin("fc1", 64, 128);
  lin("fc2", 2, 128);
  lin("fc3", 128, 256);
  lin("fc4", 128, 256);
  lin("i2h", 256, 256);
  lin("h2h", 256, 256);
  lin("loc1", 256, 128);
  lin("loc2", 128, 2);
  lin("base", 256, 1);
  lin("cls", 256, 10);
  assert.deepEqual(paramSpecs(DEFAULT_RAM).map((s) => [s.name, s.shape]), want);
});

Deno.test("the lstm core uses nn.LSTMCell names and shapes and a 1/√H bound", () => {
  const cfg = resolveRamConfig({ core: "lstm", hidden: 32, glimpseOut: 48 });
  const core = paramSpecs(cfg).filter((s) => s.name.startsWith("lstm."));
  assert.deepEqual(core.map((s) => [s.name, s.shape]), [
    ["lstm.weight_ih", [128, 48]],
    ["lstm.weight_hh", [128, 32]],
    ["lstm.bias_ih", [128]],
    ["lstm.bias_hh", [128]],
  ]);
  for (const s of core) assert.equal(s.bound, 1 / Math.sqrt(32));
  assert.ok(!paramSpecs(cfg).some((s) => s.name.startsWith("i2h") || s.name.startsWith("h2h")));
});

Deno.test("init is U(−1/√fan_in, 1/√fan_in) per tensor, seeded and deterministic", () => {
  const p = initParams(DEFAULT_RAM, 1);
  for (const s of paramSpecs(DEFAULT_RAM)) {
    const t = p.get(s.name)!;
    // A bias shares its module's bound: 1/√(in features of the weight).
    const fanIn = p.get(s.name.replace(/\.bias$/, ".weight"))!.shape[1];
    assert.equal(s.bound, 1 / Math.sqrt(fanIn), s.name);
    let mean = 0, sq = 0, max = 0;
    for (const v of t.data) {
      mean += v;
      sq += v * v;
      max = Math.max(max, Math.abs(v));
    }
    const n = t.data.length;
    mean /= n;
    const variance = sq / n - mean * mean;
    assert.ok(max <= s.bound, `${s.name}: |w| ${max} exceeds bound ${s.bound}`);
    if (n >= 10000) {
      // U(−k, k): mean 0, variance k²/3, and the extremes come close to k.
      const se = s.bound / Math.sqrt(3 * n);
      assert.ok(Math.abs(mean) < 5 * se, `${s.name}: mean ${mean} (se ${se})`);
      const ratio = variance / (s.bound ** 2 / 3);
      assert.ok(Math.abs(ratio - 1) < 0.03, `${s.name}: variance ratio ${ratio}`);
      assert.ok(max > 0.99 * s.bound, `${s.name}: max ${max} of bound ${s.bound}`);
    }
  }
  // Biases are not zero-initialised (PyTorch's Linear): h2h.bias spans its bound 1/16.
  assert.ok(p.get("h2h.bias")!.data.some((v) => Math.abs(v) > 0.5 / 16), "h2h.bias range");
  const again = initParams(DEFAULT_RAM, 1), other = initParams(DEFAULT_RAM, 2);
  for (const [name, t] of p) assert.deepEqual(again.get(name)!.data, t.data, name);
  assert.notDeepEqual(other.get("cls.weight")!.data, p.get("cls.weight")!.data);
});

Deno.test("flat layout: aligned, disjoint offsets in spec order, and a lossless round trip", async () => {
  const { VIEW_ALIGN } = await import("../gpu/tensor.ts");
  assert.equal(PARAM_ALIGN, VIEW_ALIGN, "parameters must bind as gpu/tensor.ts views");
  const cfg = resolveRamConfig({ hidden: 33, classes: 7, policyHidden: 5 });
  const layout = flatLayout(cfg);
  let end = 0;
  for (const e of layout.entries) {
    assert.equal(e.offset % PARAM_ALIGN, 0, `${e.name} offset ${e.offset}`);
    assert.equal(e.offset % 4, 0);
    assert.ok(e.offset >= end, `${e.name} overlaps the previous tensor`);
    assert.equal(e.size, e.shape.reduce((a, b) => a * b, 1));
    end = e.offset + e.size;
  }
  assert.ok(layout.total >= end && layout.total % PARAM_ALIGN === 0);
  assert.deepEqual(layout.entries.map((e) => e.name), paramSpecs(cfg).map((s) => s.name));
  assert.equal(flatLayout(cfg, 4).byName.get("fc1.bias")!.offset, 128 * 64);
  assert.throws(() => flatLayout(cfg, 6), /align 6 must be a positive multiple of 4/);
  const p = initParams(cfg, 3);
  const flat = flattenParams(p, layout);
  assert.equal(flat.length, layout.total);
  const back = unflattenParams(flat, layout);
  for (const [name, t] of p) {
    assert.deepEqual(back.get(name)!.data, t.data, name);
    assert.deepEqual(back.get(name)!.shape, t.shape, name);
  }
  // Padding between tensors stays zero (Adam on the whole buffer leaves it at zero).
  const used = new Uint8Array(layout.total);
  for (const e of layout.entries) used.fill(1, e.offset, e.offset + e.size);
  for (let i = 0; i < flat.length; i++) if (!used[i]) assert.equal(flat[i], 0);
});

Deno.test("checkParams names missing, misshapen and unexpected tensors", () => {
  const cfg = resolveRamConfig({ hidden: 16 });
  const p = initParams(cfg, 1);
  checkParams(cfg, p, "test");
  const extra = new Map(p).set("fc9.weight", { shape: [1], data: new Float32Array(1) });
  assert.throws(() => checkParams(cfg, extra, "ckpt"), /ckpt: unexpected tensors "fc9.weight"/);
  const missing = new Map(p);
  missing.delete("base.bias");
  assert.throws(() => checkParams(cfg, missing, "ckpt"), /missing tensor "base.bias"/);
  const bad = new Map(p).set("cls.bias", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => checkParams(cfg, bad, "ckpt"), /"cls.bias" has shape \[3\].*expected \[10\]/);
});
