import assert from "node:assert/strict";
import { CpuVae } from "../probe/vae_cpu.ts";
import { createVae, VAE_NOISE_STREAM } from "../probe/vae.ts";
import {
  checkVaeParams,
  DEFAULT_VAE,
  initVaeParams,
  resolveVaeConfig,
  splitVaeParams,
  type VaeConfig,
  vaeConfigFor,
  vaeFlatLayout,
  vaeParamSpecs,
} from "../probe/vae_params.ts";
import { DEFAULT_RAM } from "../ram/config.ts";
import { initParams, PARAM_ALIGN } from "../ram/params.ts";
import { Rng } from "../util/rng.ts";
import { assertClose, finiteDiff, randomArray } from "./_assert.ts";

/** A probe small enough for finite differences; no size is a multiple of another. */
const tiny: VaeConfig = resolveVaeConfig({ input: 3, hidden: 5, latent: 2, pixels: 7, lr: 1e-2 });

/**
 * The probe's loss written out independently of probe/vae_cpu.ts, in float64: per row
 * BCE(σ(logits), clean[r % B]) summed over pixels + KL, mean over rows.
 */
function directLoss(
  cfg: VaeConfig,
  vae: CpuVae,
  hidden: Float32Array,
  clean: Float32Array,
  eps: Float32Array,
): number {
  const { input: I, hidden: Hd, latent: L, pixels: P } = cfg;
  const p = (n: string) => vae.params.get(n)!.data;
  const lin = (W: Float32Array, b: Float32Array, x: number[], out: number, relu: boolean) =>
    Array.from({ length: out }, (_, o) => {
      let s = b[o];
      for (let i = 0; i < x.length; i++) s += W[o * x.length + i] * x[i];
      return relu ? Math.max(0, s) : s;
    });
  const R = hidden.length / I, B = clean.length / P;
  let total = 0;
  for (let r = 0; r < R; r++) {
    const h = Array.from(hidden.subarray(r * I, r * I + I));
    const e = lin(p("vae.enc.weight"), p("vae.enc.bias"), h, Hd, true);
    const st = lin(p("vae.stats.weight"), p("vae.stats.bias"), e, 2 * L, false);
    const z: number[] = [];
    let kl = 0;
    for (let j = 0; j < L; j++) {
      const mu = st[j], lv = st[L + j];
      z.push(mu + Math.exp(lv / 2) * eps[r * L + j]);
      kl += -0.5 * (1 + lv - mu * mu - Math.exp(lv));
    }
    const d = lin(p("vae.dec1.weight"), p("vae.dec1.bias"), z, Hd, true);
    const x = lin(p("vae.dec2.weight"), p("vae.dec2.bias"), d, P, false);
    let bce = 0;
    for (let q = 0; q < P; q++) {
      const y = 1 / (1 + Math.exp(-x[q])), t = clean[(r % B) * P + q];
      bce -= t * Math.log(y) + (1 - t) * Math.log(1 - y);
    }
    total += bce + kl;
  }
  return total / R;
}

Deno.test("vae config: defaults, unknown keys and bad values are rejected with the key", () => {
  assert.deepEqual(resolveVaeConfig(), { ...DEFAULT_VAE });
  assert.equal(vaeConfigFor({ ...DEFAULT_RAM, hidden: 100 }).input, 100);
  assert.throws(() => resolveVaeConfig({ latnet: 3 }), /unknown vae config key "latnet"/);
  assert.throws(() => resolveVaeConfig({ latent: 0 }), /"latent" = 0: must be a positive/);
  assert.throws(() => resolveVaeConfig({ lr: -1 }), /"lr" = -1/);
});

Deno.test("vae params: PyTorch names and shapes, aligned flat layout, seeded init in bounds", () => {
  const specs = vaeParamSpecs(DEFAULT_VAE);
  assert.deepEqual(specs.map((s) => [s.name, s.shape]), [
    ["vae.enc.weight", [256, 256]],
    ["vae.enc.bias", [256]],
    ["vae.stats.weight", [32, 256]],
    ["vae.stats.bias", [32]],
    ["vae.dec1.weight", [256, 16]],
    ["vae.dec1.bias", [256]],
    ["vae.dec2.weight", [784, 256]],
    ["vae.dec2.bias", [784]],
  ]);
  const layout = vaeFlatLayout(tiny);
  let end = 0;
  for (const e of layout.entries) {
    assert.equal(e.offset % PARAM_ALIGN, 0, `${e.name} offset`);
    assert.ok(e.offset >= end, `${e.name} overlaps the tensor before it`);
    end = e.offset + e.size;
  }
  assert.ok(layout.total >= end && layout.total % PARAM_ALIGN === 0);

  const a = initVaeParams(tiny, 3), b = initVaeParams(tiny, 3), c = initVaeParams(tiny, 4);
  for (const s of vaeParamSpecs(tiny)) {
    const x = a.get(s.name)!.data;
    assert.deepEqual(x, b.get(s.name)!.data, `${s.name} is not deterministic`);
    assert.notDeepEqual(x, c.get(s.name)!.data, `${s.name} ignores the seed`);
    const weight = vaeParamSpecs(tiny).find((w) => w.name === s.name.replace(".bias", ".weight"))!;
    const bound = 1 / Math.sqrt(weight.shape[1]); // nn.Linear: 1/√fan_in for weight and bias
    assert.equal(s.bound, bound, `${s.name} bound`);
    assert.ok(x.every((v) => Math.abs(v) <= bound), `${s.name} exceeds ±${bound}`);
  }
  // The probe draws from its own stream: same seed, not the RAM's numbers.
  const ram = initParams({ ...DEFAULT_RAM, hidden: 3 }, 3);
  assert.notEqual(a.get("vae.enc.weight")!.data[0], ram.get("fc1.weight")!.data[0]);
});

Deno.test("vae params: checks name the tensor; split by the vae. prefix", () => {
  const p = initVaeParams(tiny, 1);
  checkVaeParams(tiny, p, "probe");
  const wrong = new Map(p);
  wrong.set("vae.dec1.bias", { shape: [4], data: new Float32Array(4) });
  assert.throws(() => checkVaeParams(tiny, wrong, "probe"), /probe: tensor "vae.dec1.bias" has/);
  const missing = new Map(p);
  missing.delete("vae.enc.weight");
  assert.throws(() => checkVaeParams(tiny, missing, "probe"), /missing tensor "vae.enc.weight"/);
  const extra = new Map(p);
  extra.set("fc1.bias", { shape: [1], data: new Float32Array(1) });
  assert.throws(() => checkVaeParams(tiny, extra, "probe"), /unexpected tensors "fc1.bias"/);
  const { ram, vae } = splitVaeParams(extra);
  assert.deepEqual([...ram.keys()], ["fc1.bias"]);
  assert.equal(vae!.size, p.size);
  assert.equal(splitVaeParams(ram).vae, null);
});

/** T = 2 glimpses of B = 3 samples: six rows sharing three clean targets. */
function tinyInputs(seed: number, T = 2, B = 3, cfg = tiny) {
  const R = T * B;
  return {
    hidden: randomArray(R * cfg.input, seed, -1.5, 1.5), // (T, B, input)
    clean: randomArray(B * cfg.pixels, seed + 1, 0, 1), // (B, pixels)
    eps: new Rng(seed + 2).fillNormal(new Float32Array(R * cfg.latent)), // (R, L)
  };
}

Deno.test("cpu vae loss is mean over rows of BCE summed over pixels + KL, targets shared r % B", () => {
  const vae = new CpuVae(tiny, 5);
  const { hidden, clean, eps } = tinyInputs(10);
  const r = vae.lossAndGrads(hidden, clean, eps);
  assertClose([r.loss], [directLoss(tiny, vae, hidden, clean, eps)], {
    atol: 1e-5,
    rtol: 1e-5,
    label: "loss",
  });
  assertClose([r.loss], [r.bce + r.kl], { atol: 1e-6, label: "loss = bce + kl" });
  assert.ok(r.kl > 0 && r.bce > 0);
});

Deno.test("cpu vae backward matches finite differences of the whole loss for every parameter", () => {
  const vae = new CpuVae(tiny, 6);
  const { hidden, clean, eps } = tinyInputs(20);
  const { grads } = vae.lossAndGrads(hidden, clean, eps);
  for (const s of vaeParamSpecs(tiny)) {
    const x = vae.params.get(s.name)!.data;
    const fd = finiteDiff(x, () => directLoss(tiny, vae, hidden, clean, eps), 1e-3);
    const g = grads.get(s.name)!.data;
    assertClose(g, fd, { atol: 2e-4, rtol: 2e-3, label: `d loss / d ${s.name}` });
    assert.ok(g.some((v) => Math.abs(v) > 1e-4), `${s.name}: gradient is all zero`);
  }
});

Deno.test("cpu vae step is lossAndGrads then Adam: the first step moves each weight by about lr", async () => {
  const vae = new CpuVae(tiny, 7);
  const { hidden, clean, eps } = tinyInputs(30);
  const before = await vae.getState();
  const want = vae.lossAndGrads(hidden, clean, eps);
  const got = await vae.trainStep(hidden, clean, eps);
  assert.deepEqual(got, { loss: want.loss, bce: want.bce, kl: want.kl });
  const after = await vae.getState();
  assert.equal(after.step, 1);
  for (const s of vaeParamSpecs(tiny)) {
    const p0 = before.params.get(s.name)!.data, p1 = after.params.get(s.name)!.data;
    const g = want.grads.get(s.name)!.data;
    for (let i = 0; i < p0.length; i++) {
      // Adam's first bias-corrected step is −lr·g/(|g| + ε): −lr·sign(g) where g is not tiny.
      if (Math.abs(g[i]) > 1e-5) {
        assertClose([p1[i] - p0[i]], [-tiny.lr * Math.sign(g[i])], {
          atol: 1e-5,
          rtol: 1e-2,
          label: `${s.name}[${i}] step`,
        });
      }
    }
  }
});

Deno.test("cpu vae reconstructs from μ (no noise) and its MSE is per row against clean r % B", async () => {
  const vae = new CpuVae(tiny, 8);
  const { hidden, clean, eps } = tinyInputs(40);
  const recon = await vae.reconstruct(hidden);
  assert.equal(recon.length, 6 * tiny.pixels);
  assert.ok(recon.every((v) => v > 0 && v < 1));
  // Decoding μ equals a training forward with ε = 0: the BCE of recon against clean.
  const zero = vae.lossAndGrads(hidden, clean, new Float32Array(eps.length));
  let bce = 0;
  for (let r = 0; r < 6; r++) {
    for (let q = 0; q < tiny.pixels; q++) {
      const y = recon[r * tiny.pixels + q], t = clean[(r % 3) * tiny.pixels + q];
      bce -= t * Math.log(y) + (1 - t) * Math.log(1 - y);
    }
  }
  assertClose([bce / 6], [zero.bce], { atol: 1e-4, rtol: 1e-5, label: "BCE of reconstruction" });
  const mse = await vae.reconstructionError(hidden, clean);
  assert.equal(mse.length, 6);
  for (let r = 0; r < 6; r++) {
    let s = 0;
    for (let q = 0; q < tiny.pixels; q++) {
      s += (recon[r * tiny.pixels + q] - clean[(r % 3) * tiny.pixels + q]) ** 2;
    }
    assertClose([mse[r]], [s / tiny.pixels], { atol: 1e-7, rtol: 1e-5, label: `mse row ${r}` });
  }
});

Deno.test("cpu vae rejects sizes that do not fit, naming what was wrong", async () => {
  const vae = await createVae("cpu", undefined, tiny, 1);
  const { hidden, clean, eps } = tinyInputs(50);
  await assert.rejects(
    () => vae.trainStep(hidden.subarray(1), clean, eps),
    /hidden states hold 17 values, not a positive multiple of the probe's input size 3/,
  );
  await assert.rejects(
    () => vae.trainStep(hidden, new Float32Array(4 * 7), eps),
    /28 target values are not B images of 7 pixels with B dividing the 6 rows/,
  );
  await assert.rejects(
    () => vae.trainStep(hidden, clean, eps.subarray(1)),
    /noise holds 11 values, expected 6·2 = 12/,
  );
  await assert.rejects(() => createVae("webgpu", undefined, tiny, 1), /needs a WebGPU device/);
});

Deno.test("cpu vae state round-trips and is validated", async () => {
  const a = new CpuVae(tiny, 1), b = new CpuVae(tiny, 2);
  const { hidden, clean, eps } = tinyInputs(60);
  await a.trainStep(hidden, clean, eps);
  b.setState(await a.getState());
  const [ra, rb] = [await a.trainStep(hidden, clean, eps), await b.trainStep(hidden, clean, eps)];
  assert.deepEqual(ra, rb);
  assert.deepEqual((await a.getState()).params, (await b.getState()).params);
  const bad = await a.getState();
  bad.adamV.delete("vae.stats.bias");
  assert.throws(() => b.setState(bad), /VAE Adam second moments: missing tensor "vae.stats.bias"/);
});

Deno.test("cpu vae learns a toy problem: loss and per-glimpse MSE fall, later glimpses know more", async () => {
  // Three 16-pixel "digits"; h_1 is noise, h_2 carries a noisy code of the digit. The probe
  // should learn to reconstruct from h_2 and fall back to the average digit from h_1.
  const cfg = resolveVaeConfig({ input: 6, hidden: 24, latent: 3, pixels: 16, lr: 1e-2 });
  const vae = new CpuVae(cfg, 3);
  const digits = [0, 1, 2].map((k) =>
    Float32Array.from({ length: 16 }, (_, q) => (q % 3 === k || q >> 2 === k ? 1 : 0))
  );
  const T = 2, B = 12, rng = new Rng(9);
  const batch = () => {
    const hidden = new Float32Array(T * B * cfg.input), clean = new Float32Array(B * 16);
    for (let b = 0; b < B; b++) {
      const k = rng.int(3);
      clean.set(digits[k], b * 16);
      for (let i = 0; i < cfg.input; i++) {
        hidden[b * cfg.input + i] = rng.normal(); // glimpse 1: nothing about the digit
        hidden[(B + b) * cfg.input + i] = (i === k ? 2 : 0) + 0.1 * rng.normal();
      }
    }
    return { hidden, clean };
  };
  const test = batch();
  const mseOf = async () => {
    const e = await vae.reconstructionError(test.hidden, test.clean);
    const per = [0, 0];
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) per[t] += e[t * B + b] / B;
    return per;
  };
  const mse0 = await mseOf();
  const losses: number[] = [];
  for (let step = 0; step < 300; step++) {
    const { hidden, clean } = batch();
    const eps = Rng.derive(1, VAE_NOISE_STREAM, 0, step).fillNormal(
      new Float32Array(T * B * cfg.latent),
    );
    losses.push((await vae.trainStep(hidden, clean, eps)).loss);
  }
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  const mse1 = await mseOf();
  // Glimpse 1's rows cannot beat the BCE of the average digit, so the loss keeps a high floor.
  assert.ok(last < 0.85 * first, `loss fell only from ${first} to ${last}`);
  assert.ok(mse1[1] < 0.5 * mse0[1], `glimpse 2 MSE ${mse0[1]} → ${mse1[1]}`);
  assert.ok(
    mse1[1] < 0.5 * mse1[0],
    `glimpse 2 (${mse1[1]}) not better than glimpse 1 (${mse1[0]})`,
  );
});
