/**
 * The VAE probe's rows per image and share of images (probe/step.ts, `vae.rowsPerImage` and
 * `vae.imageFraction`): which glimpses are drawn, that the step is the probe's step on exactly
 * those rows on every backend, and the config.
 */
import assert from "node:assert/strict";
import { ProbeStep, VAE_ROWS_STREAM, vaeRowGlimpses } from "../probe/step.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { GpuVae } from "../probe/vae_gpu.ts";
import type { Vae } from "../probe/vae_api.ts";
import { resolveVaeConfig } from "../probe/vae_params.ts";
import { resolveVaeRunConfig, vaeImages } from "../probe/vae_config.ts";
import { resolveRunConfig } from "../run/run_config.ts";
import type { Batch, RamBackend, StepNoise } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import { loadBlas } from "../util/blas.ts";
import { blasLinear } from "../kernels/linear_blas.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const T = 4, H = 6, B = 5;
const CFG = resolveVaeConfig({ input: H, hidden: 7, latent: 3, pixels: 9, lr: 0.01 });
/** ProbeStep reads only the RAM's config when it is handed the states. */
const RAM = { config: { glimpses: T, hidden: H } } as unknown as RamBackend;
const NOISE: StepNoise = { start: new Float32Array(0), policy: new Float32Array(0) };

function batchInputs(seed: number) {
  const hidden = randomArray(T * B * H, seed, 0, 2); // (T, B, H)
  const clean = randomArray(B * CFG.pixels, seed + 1, 0, 1); // (B, P)
  const batch: Batch = { size: B, images: new Float32Array(0), labels: new Int32Array(B) };
  return { hidden, clean, batch };
}

async function step(p: ProbeStep, seed: number, epoch: number, k: number) {
  const { hidden, clean, batch } = batchInputs(seed);
  p.clean(B).set(clean);
  return (await p.step(batch, NOISE, epoch, k, { hidden })).vae!;
}

Deno.test("VAE rows: k distinct glimpses per image, the same for the same seed and batch", () => {
  const p = new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B, 3, null, 2);
  const g = p.vaeGlimpses(B, 2, 5)!;
  assert.deepEqual(g, p.vaeGlimpses(B, 2, 5), "same seed, epoch, batch: same glimpses");
  assert.deepEqual(
    g,
    vaeRowGlimpses(T, B, 2, Rng.derive(7, VAE_ROWS_STREAM, 3, 2, 5)),
    "drawn from the documented stream",
  );
  assert.notDeepEqual(g, p.vaeGlimpses(B, 2, 6), "another batch draws other glimpses");
  assert.notDeepEqual(
    g,
    new ProbeStep(RAM, new CpuVae(CFG, 1), 8, B, 3, null, 2).vaeGlimpses(B, 2, 5),
    "another seed draws other glimpses",
  );
  for (let b = 0; b < B; b++) {
    assert.notEqual(g[b], g[B + b], `image ${b}: its two glimpses are distinct`);
    for (const j of [0, 1]) assert.ok(g[j * B + b] >= 0 && g[j * B + b] < T);
  }
  assert.equal(new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B).vaeGlimpses(B, 2, 5), null);
  assert.throws(() => new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B, 3, null, T + 1), /1\.\.4/);
  assert.throws(() => new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B, 3, null, 0), /1\.\.4/);
});

Deno.test("VAE rows: every glimpse of every image is drawn with probability k/T", () => {
  for (const k of [1, 3]) {
    const Bn = 64, draws = 400;
    const counts = new Float64Array(T * Bn); // (T, B)
    for (let s = 0; s < draws; s++) {
      const g = vaeRowGlimpses(T, Bn, k, Rng.derive(1, s));
      for (let r = 0; r < g.length; r++) counts[g[r] * Bn + (r % Bn)]++;
    }
    // Per glimpse over all images: draws·B·k/T = 6,400 (k = 1) expected; sd ≈ 69 (k = 1).
    const want = draws * Bn * k / T;
    for (let t = 0; t < T; t++) {
      let n = 0;
      for (let b = 0; b < Bn; b++) n += counts[t * Bn + b];
      assert.ok(Math.abs(n - want) < 0.04 * want, `k ${k} glimpse ${t}: ${n} draws, want ${want}`);
    }
    // Per (glimpse, image) cell: a chi-square over T·B cells, df 255 (99.9th percentile ≈ 333).
    let chi = 0;
    const cell = draws * k / T, p = k / T;
    for (const c of counts) chi += (c - cell) ** 2 / (cell * (1 - p));
    assert.ok(chi < 340, `k ${k}: chi-square ${chi.toFixed(1)} over ${T * Bn} cells`);
  }
});

Deno.test("VAE rows: the subsampled step is the probe's step on the drawn rows; k = T is every row", async () => {
  for (const k of [1, 2, T]) {
    const viaStep = new CpuVae(CFG, 3), direct = new CpuVae(CFG, 3);
    const p = new ProbeStep(RAM, viaStep, 11, B, 5, null, k);
    for (let i = 0; i < 3; i++) {
      const { hidden, clean } = batchInputs(20 + i);
      const got = await step(p, 20 + i, 1, i);
      const g = p.vaeGlimpses(B, 1, i);
      const rows = new Float32Array(k * B * H);
      for (let r = 0; r < k * B; r++) {
        const t = g ? g[r] : Math.floor(r / B);
        rows.set(hidden.subarray((t * B + r % B) * H, (t * B + r % B + 1) * H), r * H);
      }
      const eps = Rng.derive(11, 5, 1, i).fillNormal(new Float32Array(k * B * CFG.latent));
      const want = await direct.trainStep(rows, clean, eps);
      assert.deepEqual(got, want, `k ${k} step ${i}`);
    }
    const [a, b] = [await viaStep.getState(), await direct.getState()];
    for (const [name, t] of a.params) assert.deepEqual(t.data, b.params.get(name)!.data, name);
  }
});

Deno.test("VAE images: a share f of a batch is the probe's step on the drawn rows of its first ⌈f·n⌉ images", async () => {
  for (const [k, f] of [[1, 0.5], [2, 0.5], [T, 0.3], [1, 1]]) {
    const viaStep = new CpuVae(CFG, 3), direct = new CpuVae(CFG, 3);
    const p = new ProbeStep(RAM, viaStep, 11, B, 5, null, k, f);
    const n = p.vaeImages(B);
    assert.equal(n, Math.ceil(f * B));
    for (let i = 0; i < 3; i++) {
      const { hidden, clean } = batchInputs(40 + i);
      const got = await step(p, 40 + i, 1, i);
      const g = p.vaeGlimpses(n, 1, i);
      if (k < T) {
        assert.deepEqual(g, vaeRowGlimpses(T, n, k, Rng.derive(11, VAE_ROWS_STREAM, 5, 1, i)));
      }
      const rows = new Float32Array(k * n * H);
      for (let r = 0; r < k * n; r++) {
        const t = g ? g[r] : Math.floor(r / n), b = r % n;
        rows.set(hidden.subarray((t * B + b) * H, (t * B + b + 1) * H), r * H);
      }
      const eps = Rng.derive(11, 5, 1, i).fillNormal(new Float32Array(k * n * CFG.latent));
      const want = await direct.trainStep(rows, clean.subarray(0, n * CFG.pixels), eps);
      assert.deepEqual(got, want, `k ${k} f ${f} step ${i}`);
    }
    const [a, b] = [await viaStep.getState(), await direct.getState()];
    for (const [name, t] of a.params) assert.deepEqual(t.data, b.params.get(name)!.data, name);
  }
  assert.throws(() => new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B, 3, null, 1, 0), /\(0, 1\]/);
  assert.throws(() => new ProbeStep(RAM, new CpuVae(CFG, 1), 7, B, 3, null, 1, 1.5), /\(0, 1\]/);
  assert.deepEqual(
    [
      vaeImages(128, 0.5),
      vaeImages(127, 0.5),
      vaeImages(5, 1),
      vaeImages(1, 0.01),
      vaeImages(10, 0.3),
      vaeImages(3, 1e-12),
    ],
    [64, 64, 5, 1, 3, 1],
  );
});

/**
 * Three steps of ProbeStep with k rows per image of a share f of the images on `vae`; the losses
 * and the final state.
 */
async function run(vae: Vae, k: number, f = 1) {
  const p = new ProbeStep(RAM, vae, 11, B, 5, null, k, f);
  const losses = [];
  for (let i = 0; i < 3; i++) losses.push((await step(p, 30 + i, 2, i)).loss);
  return { losses, state: await vae.getState() };
}

async function assertAgree(vae: Vae, what: string) {
  for (const [k, f] of [[1, 1], [2, 1], [1, 0.5]]) {
    const want = await run(new CpuVae(CFG, 3), k, f);
    const got = await run(vae, k, f);
    const label = `${what} k ${k} f ${f}`;
    assertClose(got.losses, want.losses, { atol: 1e-4, rtol: 1e-4, label: `${label} loss` });
    for (const [name, t] of want.state.params) {
      assertClose(got.state.params.get(name)!.data, t.data, {
        atol: 1e-4,
        rtol: 1e-3,
        label: `${label} ${name}`,
      });
    }
    vae.setState({ ...(await new CpuVae(CFG, 3).getState()) });
  }
}

const blas = loadBlas();
Deno.test({
  name: "VAE rows: the cpu probe on BLAS follows the reference on subsampled steps",
  ignore: blas === null,
  fn: () => assertAgree(new CpuVae(CFG, 3, blasLinear(blas!.sgemm)), "blas"),
});

gpuTest("VAE rows: webgpu and cpu probes agree on subsampled steps", async (gpu) => {
  const vae = await GpuVae.create(gpu, CFG, 3);
  try {
    await assertAgree(vae, "webgpu");
  } finally {
    vae.dispose();
  }
});

/** A run config's keys besides the model's and the probes'. */
const RUN_BASE = {
  dataset: "mnist-10k",
  limit: null,
  validation: 0,
  plateau: 0,
  reward: { spec: "classification", name: "classification", options: {} },
};

Deno.test("VAE rows: config default 1, older configs read as every row, more than T refused", () => {
  assert.equal(resolveVaeRunConfig({})!.rowsPerImage, 1);
  assert.throws(() => resolveVaeRunConfig({ rowsPerImage: 0 }), /"rowsPerImage" = 0/);
  assert.throws(() => resolveVaeRunConfig({ rowsPerImage: 1.5 }), /"rowsPerImage" = 1.5/);
  const base = { ...RUN_BASE, model: { glimpses: 5 } };
  assert.equal(resolveRunConfig({ ...base, version: 3, vae: {} }).vae!.rowsPerImage, 1);
  assert.equal(resolveRunConfig({ ...base, version: 2, vae: {} }).vae!.rowsPerImage, 5);
  assert.equal(resolveRunConfig({ ...base, vae: { start: 2 } }).vae!.rowsPerImage, 5);
  assert.equal(
    resolveRunConfig({ ...base, version: 2, vae: { rowsPerImage: 2 } }).vae!.rowsPerImage,
    2,
  );
  assert.throws(
    () => resolveRunConfig({ ...base, version: 3, vae: { rowsPerImage: 6 } }),
    /run config: vae config "rowsPerImage" = 6: the model has only 5 glimpses/,
  );
});

Deno.test("VAE images: config default 0.5, configs before version 4 read as every image, bad shares refused", () => {
  assert.equal(resolveVaeRunConfig({})!.imageFraction, 0.5);
  assert.equal(resolveVaeRunConfig({ imageFraction: 1 })!.imageFraction, 1);
  for (const bad of [0, -0.5, 1.5, NaN, "0.5"]) {
    assert.throws(
      () => resolveVaeRunConfig({ imageFraction: bad }),
      /vae config "imageFraction" = .*: must be a share of the batch in \(0, 1\]/,
    );
  }
  const base = RUN_BASE;
  assert.equal(resolveRunConfig({ ...base, version: 4, vae: {} }).vae!.imageFraction, 0.5);
  for (const version of [1, 2, 3]) {
    assert.equal(resolveRunConfig({ ...base, version, vae: {} }).vae!.imageFraction, 1);
  }
  assert.equal(
    resolveRunConfig({ ...base, version: 3, vae: { imageFraction: 0.25 } }).vae!.imageFraction,
    0.25,
  );
});
