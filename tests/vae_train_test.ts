/**
 * The VAE probe trained alongside the RAM (run/trainer.ts) and on a frozen RAM
 * (probe/train.ts), on the cpu backend with tiny sizes.
 */
import assert from "node:assert/strict";
import { METRICS_FILE, train } from "../run/trainer.ts";
import { loadCheckpoint, MODEL_FILE, saveCheckpoint } from "../run/checkpoint.ts";
import type { RunConfig } from "../run/run_config.ts";
import { CpuRam } from "../ram/cpu.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { trainProbe } from "../probe/train.ts";
import { CpuClassProbe } from "../probe/cls_cpu.ts";
import { clsConfigFor } from "../probe/cls_params.ts";
import type { ParamMap } from "../ram/backend.ts";
import { blobSplit, classificationReward } from "./_ram_fixture.ts";
import { blobRunConfig, SIZE } from "./_probe_fixture.ts";

function probeFor(config: RunConfig, seed = config.train.seed): CpuVae {
  return new CpuVae(vaeModelConfig(config.model, config.vae!), seed);
}

function classProbeFor(config: RunConfig, seed = config.train.seed): CpuClassProbe {
  return new CpuClassProbe(clsConfigFor(config.model, config.cls!), seed);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readMetrics(dir: string): Promise<Record<string, number | null>[]> {
  return (await Deno.readTextFile(`${dir}/${METRICS_FILE}`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

function assertSameMaps(a: ParamMap, b: ParamMap, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${what}: ${name}`);
}

Deno.test("the probe trained alongside: its loss falls, it is saved under vae.* and metrics report it", async () => {
  await withDir(async (dir) => {
    const config = blobRunConfig(6, {});
    const vae = probeFor(config);
    const r = await train({
      backend: new CpuRam(config.model, 4),
      data: { train: blobSplit(40, SIZE, 1) },
      config,
      reward: classificationReward,
      out: dir,
      vae,
    });
    assert.equal(r.epochs, 6);
    const lines = await readMetrics(dir);
    const losses = lines.map((l) => l.vae_loss as number);
    assert.ok(losses.every((l) => Number.isFinite(l)), JSON.stringify(losses));
    assert.ok(losses[5] < 0.8 * losses[0], `probe loss ${losses[0]} → ${losses[5]}`);
    for (const l of lines) {
      assert.ok(Math.abs((l.vae_loss as number) - (l.vae_bce! + l.vae_kl!)) < 1e-6);
    }
    const ck = await loadCheckpoint(dir, { optimizer: true });
    assert.equal(ck.meta.vaeStep, 6 * 5); // 40 images in batches of 8, every step from epoch 1
    assert.ok(ck.vae);
    assertSameMaps((await vae.getState()).params, ck.vae.params, "saved probe");
    assert.equal(ck.vae.step, 30);
    assert.ok([...ck.params.keys()].every((n) => !n.startsWith("vae.")));
  });
});

Deno.test("--vae-start: the probe trains from that epoch only; without a probe no vae metrics", async () => {
  await withDir(async (dir) => {
    const config = blobRunConfig(3, { start: 3 });
    await train({
      backend: new CpuRam(config.model, 4),
      data: { train: blobSplit(16, SIZE, 1) },
      config,
      reward: classificationReward,
      out: `${dir}/a`,
      vae: probeFor(config),
    });
    const lines = await readMetrics(`${dir}/a`);
    assert.deepEqual(lines.map((l) => l.vae_loss === null), [true, true, false]);
    assert.equal((await loadCheckpoint(`${dir}/a`)).meta.vaeStep, 2);

    const off = blobRunConfig(1, null);
    await train({
      backend: new CpuRam(off.model, 4),
      data: { train: blobSplit(16, SIZE, 1) },
      config: off,
      reward: classificationReward,
      out: `${dir}/b`,
    });
    assert.equal((await readMetrics(`${dir}/b`))[0].vae_loss, null);
    assert.equal((await loadCheckpoint(`${dir}/b`)).vae, null);
    await assert.rejects(
      train({
        backend: new CpuRam(off.model, 4),
        data: { train: blobSplit(16, SIZE, 1) },
        config: off,
        reward: classificationReward,
        out: `${dir}/c`,
        vae: probeFor(config),
      }),
      /a VAE probe was given but the run config has none/,
    );
  });
});

for (const rows of [undefined, 1, 2]) {
  // undefined: a config before version 3, every row; 1, 2: rows drawn per image by seed.
  Deno.test(`a run with its probe stopped mid-epoch and resumed ends bit-identical to an uninterrupted one (rowsPerImage ${rows ?? "T"})`, async () => {
    await withDir(async (dir) => {
      const config = blobRunConfig(3, { start: 2, ...(rows ? { rowsPerImage: rows } : {}) });
      assert.equal(config.vae!.rowsPerImage, rows ?? config.model.glimpses);
      const data = () => ({ train: blobSplit(40, SIZE, 2) });
      await train({
        backend: new CpuRam(config.model, 4),
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/a`,
        vae: probeFor(config),
      });
      const stop = new AbortController();
      const part = await train({
        backend: new CpuRam(config.model, 4),
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/b`,
        vae: probeFor(config),
        stop: stop.signal,
        onStep: (p) => {
          if (p.step === 8) stop.abort(); // epoch 2, batch 3: the probe has taken 3 steps
        },
      });
      assert.equal(part.interrupted, true);
      const ck = await loadCheckpoint(`${dir}/b`, { optimizer: true });
      assert.equal(ck.meta.vaeStep, 3);
      // Other seeds: everything must come from the checkpoint.
      const vae = probeFor(config, 99);
      await train({
        backend: new CpuRam(config.model, 99),
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/b`,
        vae,
        resume: ck,
      });
      const a = await loadCheckpoint(`${dir}/a`, { optimizer: true });
      const b = await loadCheckpoint(`${dir}/b`, { optimizer: true });
      assertSameMaps(a.params, b.params, "RAM");
      assertSameMaps(a.vae!.params, b.vae!.params, "probe");
      assertSameMaps(a.vae!.adamM, b.vae!.adamM, "probe Adam m");
      assertSameMaps(a.vae!.adamV, b.vae!.adamV, "probe Adam v");
      assert.equal(b.vae!.step, a.vae!.step);
      const strip = (l: Record<string, unknown>) => ({ ...l, images_per_second: 0, seconds: 0 });
      assert.deepEqual(
        (await readMetrics(`${dir}/b`)).map(strip),
        (await readMetrics(`${dir}/a`)).map(strip),
      );
    });
  });
}

Deno.test("probe on a frozen RAM: its loss falls and the RAM's parameters stay bit-identical", async () => {
  await withDir(async (dir) => {
    const config = blobRunConfig(2, null);
    const ram = new CpuRam(config.model, 4);
    await train({
      backend: ram,
      data: { train: blobSplit(24, SIZE, 3) },
      config,
      reward: classificationReward,
      out: dir,
    });
    const before = await Deno.readFile(`${dir}/${MODEL_FILE}`);
    const ramBefore = (await ram.getState()).params;
    const withVae = { ...config, vae: blobRunConfig(1, {}).vae };
    const vae = probeFor(withVae);
    const epochs = await trainProbe({
      ram,
      vae,
      split: blobSplit(24, SIZE, 3),
      epochs: 5,
      batch: 8,
      seed: 4,
    });
    assert.equal(epochs.length, 5);
    assert.equal(epochs[4].vaeStep, 15);
    assert.ok(epochs[4].vae_loss! < 0.8 * epochs[0].vae_loss!, JSON.stringify(epochs));
    assertSameMaps(ramBefore, (await ram.getState()).params, "RAM after probe");
    // A second call continues the probe (fresh batches, steps counted on).
    const more = await trainProbe({
      ram,
      vae,
      split: blobSplit(24, SIZE, 3),
      epochs: 1,
      batch: 8,
      seed: 4,
    });
    assert.equal(more[0].vaeStep, 18);

    // Written back as `probe` does: the RAM's tensors byte for byte as they were.
    const ck = await loadCheckpoint(dir, { optimizer: true });
    await saveCheckpoint(
      dir,
      { params: ck.params, adamM: ck.optimizer!.adamM, adamV: ck.optimizer!.adamV, step: 0 },
      { ...ck.meta, config: withVae },
      ck.optimizer!.trainer,
      await vae.getState(),
    );
    const after = await loadCheckpoint(dir, { optimizer: true });
    const old = await loadCheckpoint(`${dir}/${MODEL_FILE}`);
    assertSameMaps(ck.params, after.params, "RAM in the checkpoint");
    assertSameMaps(ck.params, old.params, "RAM reloaded");
    assert.equal(after.vae!.step, 18);
    assert.ok(before.length < (await Deno.readFile(`${dir}/${MODEL_FILE}`)).length);
  });
});

Deno.test("both probes alongside (class probe from epoch 2): stopped mid-epoch and resumed, bit-identical", async () => {
  await withDir(async (dir) => {
    const config = blobRunConfig(3, {}, { start: 2 });
    const data = () => ({ train: blobSplit(40, SIZE, 2) });
    const cls = classProbeFor(config);
    await train({
      backend: new CpuRam(config.model, 4),
      data: data(),
      config,
      reward: classificationReward,
      out: `${dir}/a`,
      vae: probeFor(config),
      cls,
    });
    const lines = await readMetrics(`${dir}/a`);
    assert.deepEqual(lines.map((l) => l.cls_nll === null), [true, false, false]);
    assert.ok(
      lines[2].cls_nll! < lines[1].cls_nll!,
      `class probe NLL ${lines[1].cls_nll} → ${lines[2].cls_nll}`,
    );
    const stop = new AbortController();
    await train({
      backend: new CpuRam(config.model, 4),
      data: data(),
      config,
      reward: classificationReward,
      out: `${dir}/b`,
      vae: probeFor(config),
      cls: classProbeFor(config),
      stop: stop.signal,
      onStep: (p) => {
        if (p.step === 8) stop.abort(); // epoch 2, batch 3
      },
    });
    const ck = await loadCheckpoint(`${dir}/b`, { optimizer: true });
    assert.equal(ck.meta.clsStep, 3);
    assert.equal(ck.meta.vaeStep, 8);
    await train({
      backend: new CpuRam(config.model, 99),
      data: data(),
      config,
      reward: classificationReward,
      out: `${dir}/b`,
      vae: probeFor(config, 99),
      cls: classProbeFor(config, 99),
      resume: ck,
    });
    const a = await loadCheckpoint(`${dir}/a`, { optimizer: true });
    const b = await loadCheckpoint(`${dir}/b`, { optimizer: true });
    assertSameMaps(a.params, b.params, "RAM");
    assertSameMaps(a.cls!.params, b.cls!.params, "class probe");
    assertSameMaps(a.cls!.adamM, b.cls!.adamM, "class probe Adam m");
    assertSameMaps(a.cls!.adamV, b.cls!.adamV, "class probe Adam v");
    assertSameMaps((await cls.getState()).params, a.cls!.params, "saved class probe");
    assertSameMaps(a.vae!.params, b.vae!.params, "VAE probe");
    const strip = (l: Record<string, unknown>) => ({ ...l, images_per_second: 0, seconds: 0 });
    assert.deepEqual((await readMetrics(`${dir}/b`)).map(strip), lines.map(strip));
    await assert.rejects(
      train({
        backend: new CpuRam(config.model, 4),
        data: data(),
        config,
        reward: classificationReward,
        out: `${dir}/c`,
        vae: probeFor(config),
      }),
      /has a class probe \(cls\) but no probe was given/,
    );
  });
});
