/**
 * What the tests of the probes trained one step behind the RAM share (tests/probe_pipeline_test.ts,
 * tests/probe_beside_test.ts): a small run with both probes, training it with fresh probes, and
 * the bit-for-bit comparisons of their states and metrics.
 *
 * @module
 */
import assert from "node:assert/strict";
import { METRICS_FILE, train, type TrainerOptions } from "../run/trainer.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import type { RamBackend } from "../ram/backend.ts";
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { CpuClassProbe } from "../probe/cls_cpu.ts";
import { clsConfigFor } from "../probe/cls_params.ts";
import { type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { blobSplit, classificationReward, tinyConfig } from "./_ram_fixture.ts";
import { Rng } from "../util/rng.ts";

/** Side of the blob images. */
export const SIZE = 12;

/**
 * A run on the blob images (SIZE × SIZE, 2 classes) with the tiny RAM, in batches of `batch`:
 * the VAE probe from `vae` (null: none) over hidden 16, latent 3, lr 0.01; the class probe from
 * `cls` (null: none) at lr 0.01.
 */
export function blobRunConfig(
  epochs: number,
  vae: Record<string, unknown> | null,
  cls: Record<string, unknown> | null = null,
  batch = 8,
): RunConfig {
  return resolveRunConfig({
    dataset: "blobs",
    limit: null,
    validation: 0,
    plateau: 0,
    reward: { spec: "classification", name: "classification", options: {} },
    model: tinyConfig({ height: SIZE, width: SIZE, classes: 2 }),
    train: { epochs, batch, lr: 0.01, seed: 4 },
    vae: vae === null ? null : { hidden: 16, latent: 3, pixels: SIZE * SIZE, lr: 0.01, ...vae },
    cls: cls === null ? null : { lr: 0.01, ...cls },
  });
}

/**
 * Both probes, the VAE on 2 rows per image of half of each batch's images, the class probe from
 * epoch 2; batches of 8 (42 images: five full batches and a last one of 2 in every epoch), or of
 * `batch`.
 */
export function probeRunConfig(epochs: number, vaeLr = 0.01, batch = 8): RunConfig {
  const vae = { lr: vaeLr, rowsPerImage: 2, imageFraction: 0.5 };
  return blobRunConfig(epochs, vae, { start: 2 }, batch);
}

/** Runs `fn` in a fresh temporary folder, removed after. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Trains `ram` with fresh probes of `seed` whose products run on `ops`; returns the probes. */
export async function trainWithProbes(
  config: RunConfig,
  ram: RamBackend,
  out: string,
  { over = {}, seed = 4, ops = REF_LINEAR, images = 42 }: {
    over?: Partial<TrainerOptions>;
    seed?: number;
    ops?: LinearOps;
    /** Training images (blobs). */
    images?: number;
  } = {},
): Promise<{ vae: CpuVae; cls: CpuClassProbe }> {
  const vae = new CpuVae(vaeModelConfig(config.model, config.vae!), seed, ops);
  const cls = new CpuClassProbe(clsConfigFor(config.model, config.cls!), seed, ops);
  await train({
    backend: ram,
    data: { train: blobSplit(images, SIZE, 2) },
    config,
    reward: classificationReward,
    out,
    vae,
    cls,
    ...over,
  });
  return { vae, cls };
}

/** The same tensor names, each bit for bit. */
export function assertSameMaps(a: ParamMap, b: ParamMap, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${what}: ${name}`);
}

/** Parameters, Adam moments and step count bit for bit. */
export function assertSameState(a: TrainState, b: TrainState, what: string): void {
  assertSameMaps(a.params, b.params, what);
  assertSameMaps(a.adamM, b.adamM, `${what} Adam m`);
  assertSameMaps(a.adamV, b.adamV, `${what} Adam v`);
  assert.equal(a.step, b.step, `${what} steps`);
}

/** The run's metrics.jsonl lines, timings zeroed. */
export async function metrics(dir: string): Promise<Record<string, unknown>[]> {
  const lines = (await Deno.readTextFile(`${dir}/${METRICS_FILE}`)).trim().split("\n");
  return lines.map((l) => ({ ...JSON.parse(l), images_per_second: 0, seconds: 0 }));
}

/** Fresh cpu probes of `seed` for `config` (the reference products). */
export function makeProbes(config: RunConfig, seed = 3): { vae: CpuVae; cls: CpuClassProbe } {
  return {
    vae: new CpuVae(vaeModelConfig(config.model, config.vae!), seed),
    cls: new CpuClassProbe(clsConfigFor(config.model, config.cls!), seed),
  };
}

/**
 * Random probe-step inputs for batches of up to B: `next(n)` fills states (T, n, H), clean
 * targets (n, P) and labels (n) from one seeded stream and returns views of them and the batch.
 */
export function probeInputs(config: RunConfig, B: number, seed = 1) {
  const { glimpses: T, hidden: H } = config.model, P = SIZE * SIZE;
  const rng = new Rng(seed);
  const hidden = new Float32Array(T * B * H), clean = new Float32Array(B * P);
  const labels = new Int32Array(B);
  return {
    hidden,
    clean,
    labels,
    next(n: number) {
      rng.fillNormal(hidden);
      rng.fillUniform(clean, 0, 1);
      for (let b = 0; b < B; b++) labels[b] = rng.int(2);
      const h = hidden.subarray(0, T * n * H), c = clean.subarray(0, n * P);
      const batch = { size: n, images: new Float32Array(0), labels: labels.subarray(0, n) };
      return { h, c, batch };
    },
  };
}
