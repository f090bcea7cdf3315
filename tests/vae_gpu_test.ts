import assert from "node:assert/strict";
import { CpuVae } from "../probe/vae_cpu.ts";
import { GpuVae } from "../probe/vae_gpu.ts";
import { createVae } from "../probe/vae.ts";
import { resolveVaeConfig, type VaeConfig } from "../probe/vae_params.ts";
import type { ParamMap } from "../ram/backend.ts";
import { Rng } from "../util/rng.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

function assertParamsClose(got: ParamMap, want: ParamMap, what: string, atol = 2e-5) {
  assert.deepEqual([...got.keys()], [...want.keys()], `${what}: names`);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    assert.deepEqual(g.shape, w.shape, `${what}: ${name} shape`);
    assertClose(g.data, w.data, { atol, rtol: 1e-3, label: `${what} ${name}` });
  }
}

function inputs(cfg: VaeConfig, T: number, B: number, seed: number, scale = 1.5) {
  const R = T * B;
  return {
    hidden: randomArray(R * cfg.input, seed, -scale, scale), // (T, B, input)
    clean: randomArray(B * cfg.pixels, seed + 1, 0, 1), // (B, pixels)
    eps: new Rng(seed + 2).fillNormal(new Float32Array(R * cfg.latent)), // (R, L)
  };
}

/** Trains both probes side by side, comparing the loss parts and every tensor after each step. */
async function agree(
  gpuVae: GpuVae,
  cpuVae: CpuVae,
  cfg: VaeConfig,
  steps: { T: number; B: number; scale?: number }[],
  seed: number,
) {
  assertParamsClose((await gpuVae.getState()).params, (await cpuVae.getState()).params, "init", 0);
  for (const [i, { T, B, scale }] of steps.entries()) {
    const { hidden, clean, eps } = inputs(cfg, T, B, seed + 10 * i, scale);
    const want = await cpuVae.trainStep(hidden, clean, eps);
    const got = await gpuVae.trainStep(hidden, clean, eps);
    for (const key of ["loss", "bce", "kl"] as const) {
      assertClose([got[key]], [want[key]], { atol: 1e-4, rtol: 1e-4, label: `step ${i} ${key}` });
    }
    const [g, c] = [await gpuVae.getState(), await cpuVae.getState()];
    assert.equal(g.step, c.step);
    assertParamsClose(g.params, c.params, `after step ${i}`);
    assertParamsClose(g.adamM, c.adamM, `adam m after step ${i}`, 1e-5);
    assertParamsClose(g.adamV, c.adamV, `adam v after step ${i}`, 1e-6);
  }
}

gpuTest(
  "webgpu and cpu VAE probes agree over training steps (odd sizes, short batch, batch 1)",
  async (gpu) => {
    // No size is a multiple of a workgroup or of 4.
    const cfg = resolveVaeConfig({ input: 10, hidden: 13, latent: 3, pixels: 29, lr: 1e-2 });
    const gpuVae = await GpuVae.create(gpu, cfg, 5);
    const cpuVae = new CpuVae(cfg, 5);
    try {
      await agree(gpuVae, cpuVae, cfg, [
        { T: 3, B: 5 },
        { T: 3, B: 5 },
        { T: 3, B: 2 }, // a short last batch uses its own program
        { T: 3, B: 1 },
        { T: 3, B: 5, scale: 40 }, // large states: saturated ReLUs, logits far from 0
      ], 100);
      const { hidden, clean } = inputs(cfg, 3, 4, 900);
      const tol = { atol: 1e-5, rtol: 1e-4 };
      assertClose(await gpuVae.reconstruct(hidden), await cpuVae.reconstruct(hidden), {
        ...tol,
        label: "reconstruct",
      });
      assertClose(
        await gpuVae.reconstructionError(hidden, clean),
        await cpuVae.reconstructionError(hidden, clean),
        { ...tol, label: "reconstruction error" },
      );
    } finally {
      gpuVae.dispose();
    }
  },
);

gpuTest("webgpu and cpu VAE probes agree at the default sizes (256 → 16 → 784)", async (gpu) => {
  const cfg = resolveVaeConfig();
  const gpuVae = await createVae("webgpu", gpu, cfg, 2) as GpuVae;
  const cpuVae = new CpuVae(cfg, 2);
  try {
    await agree(gpuVae, cpuVae, cfg, [{ T: 6, B: 7 }, { T: 6, B: 7 }], 300);
    const { hidden, clean } = inputs(cfg, 6, 3, 990);
    assertClose(
      await gpuVae.reconstructionError(hidden, clean),
      await cpuVae.reconstructionError(hidden, clean),
      { atol: 1e-5, rtol: 1e-4, label: "reconstruction error" },
    );
  } finally {
    gpuVae.dispose();
  }
});

gpuTest("webgpu VAE state loads into a fresh probe and is validated", async (gpu) => {
  const cfg = resolveVaeConfig({ input: 6, hidden: 9, latent: 2, pixels: 11 });
  const a = await GpuVae.create(gpu, cfg, 1), b = await GpuVae.create(gpu, cfg, 2);
  try {
    const { hidden, clean, eps } = inputs(cfg, 2, 3, 50);
    await a.trainStep(hidden, clean, eps);
    b.setState(await a.getState());
    const [ra, rb] = [await a.trainStep(hidden, clean, eps), await b.trainStep(hidden, clean, eps)];
    assert.deepEqual(ra, rb);
    const [sa, sb] = [await a.getState(), await b.getState()];
    assert.equal(sb.step, 2);
    assertParamsClose(sb.params, sa.params, "after loading", 0);
    const bad = await a.getState();
    bad.params.set("vae.dec2.bias", { shape: [3], data: new Float32Array(3) });
    assert.throws(() => b.setState(bad), /VAE parameters: tensor "vae.dec2.bias" has shape \[3\]/);
    await assert.rejects(
      () => a.trainStep(hidden, clean, eps.subarray(2)),
      /webgpu vae: noise holds 10 values, expected 6·2 = 12/,
    );
  } finally {
    a.dispose();
    b.dispose();
  }
});
