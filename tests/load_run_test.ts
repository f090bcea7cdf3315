import assert from "node:assert/strict";
import { loadRun } from "../run/load_run.ts";
import { CpuRam } from "../ram/cpu.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { MODEL_FILE, OPTIMIZER_FILE, saveCheckpoint } from "../run/checkpoint.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { clsConfigFor, createClassProbe, resolveClsRunConfig } from "../probe/cls.ts";
import { tinyConfig } from "./_ram_fixture.ts";
import { Rng } from "../util/rng.ts";
import type { ParamMap } from "../ram/backend.ts";

function runConfig(vae: boolean): RunConfig {
  return resolveRunConfig({
    dataset: "mnist-10k",
    limit: null,
    validation: 0,
    plateau: 0,
    reward: { spec: "classification", name: "classification", options: {} },
    model: tinyConfig(),
    train: { epochs: 1, batch: 4, seed: 3 },
    vae: vae ? { hidden: 6, latent: 2, pixels: 9 } : null,
  });
}

/** Writes a run with random (non-initial) RAM and probe weights; returns what was written. */
async function writeRun(dir: string, withVae: boolean) {
  const config = runConfig(withVae);
  const ram = new CpuRam(config.model, 11);
  const state = await ram.getState();
  const rng = new Rng(5);
  for (const t of state.params.values()) rng.fillUniform(t.data, -1, 1);
  let vae;
  if (withVae) {
    const v = new CpuVae(vaeModelConfig(config.model, config.vae!), 12);
    vae = await v.getState();
    for (const t of vae.params.values()) rng.fillUniform(t.data, -1, 1);
    for (const t of vae.adamV.values()) rng.fillUniform(t.data, 0, 1);
    vae.step = 17;
  }
  await saveCheckpoint(dir, state, { config, epoch: 1, step: 9, batch: 0 }, {}, vae);
  return { config, state, vae };
}

/** `bytes` with the first occurrence of `from` replaced by `to` (same length: offsets stay). */
function replaceBytes(bytes: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(from);
  assert.ok(at >= 0, `"${from}" not in the file`);
  const out = bytes.slice();
  out.set(new TextEncoder().encode(to), at);
  return out;
}

function assertSameParams(a: ParamMap, b: ParamMap): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, name);
}

Deno.test("loadRun opens the RAM and its VAE probe with the saved weights and Adam state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const written = await writeRun(dir, true);
    const run = await loadRun(dir, { backend: "cpu" });
    try {
      assert.equal(run.dir, dir);
      assert.deepEqual(run.config, written.config);
      assert.equal(run.meta.epoch, 1);
      assert.equal(run.meta.vaeStep, 17);
      assertSameParams(written.state.params, (await run.ram.getState()).params);
      assert.ok(run.vae);
      const vae = await run.vae.getState();
      assertSameParams(written.vae!.params, vae.params);
      assertSameParams(written.vae!.adamV, vae.adamV);
      assert.equal(vae.step, 17);
    } finally {
      run.close();
    }
    // Without the optimizer file: the same weights, a fresh optimiser.
    await Deno.remove(`${dir}/${OPTIMIZER_FILE}`);
    const bare = await loadRun(`${dir}/${MODEL_FILE}`, { backend: "cpu" });
    try {
      assert.equal(bare.checkpoint.optimizer, undefined);
      const vae = await bare.vae!.getState();
      assertSameParams(written.vae!.params, vae.params);
      assert.equal(vae.step, 0);
    } finally {
      bare.close();
    }
    await assert.rejects(
      loadRun(dir, { backend: "cpu", optimizer: true }),
      new RegExp(`Cannot read "${dir}/${OPTIMIZER_FILE}": no such file`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRun gives vae null for a run without a probe", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeRun(dir, false);
    const run = await loadRun(dir, { backend: "cpu" });
    try {
      assert.equal(run.vae, null);
      assert.equal(run.config.vae, null);
      assert.equal(run.meta.vaeStep, undefined);
    } finally {
      run.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRun: corrupt, truncated and other-version checkpoints fail with one line naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/${MODEL_FILE}`;
  const oneLine = (pattern: RegExp) => (e: unknown) => {
    const msg = (e as Error).message;
    assert.ok(!msg.includes("\n"), msg);
    assert.ok(msg.includes(file), msg);
    assert.match(msg, pattern);
    return true;
  };
  try {
    await writeRun(dir, true);
    const bytes = await Deno.readFile(file);
    // Another format version, as a future glimpse would write it.
    await Deno.writeFile(
      file,
      replaceBytes(bytes, '"format_version":"1"', '"format_version":"9"'),
    );
    await assert.rejects(loadRun(dir, { backend: "cpu" }), oneLine(/format version 9/));
    await Deno.writeFile(file, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(loadRun(dir, { backend: "cpu" }), oneLine(/truncated|bytes/));
    await Deno.writeFile(file, new TextEncoder().encode("not a checkpoint at all"));
    await assert.rejects(loadRun(dir, { backend: "cpu" }), oneLine(/header/));
    // A probe tensor of the wrong shape (same size).
    await Deno.writeFile(
      file,
      replaceBytes(
        bytes,
        '"vae.dec2.weight":{"dtype":"F32","shape":[9,6]',
        '"vae.dec2.weight":{"dtype":"F32","shape":[6,9]',
      ),
    );
    await assert.rejects(
      loadRun(dir, { backend: "cpu" }),
      oneLine(/VAE probe: tensor "vae\.dec2\.weight" has shape \[6,9\]/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(
    loadRun(`${dir}-missing`, { backend: "cpu" }),
    /Cannot read model ".*-missing": no such folder/,
  );
});

Deno.test("a class probe goes through the checkpoint commit: non-finite refused, openRun restores it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config: RunConfig = { ...runConfig(false), cls: resolveClsRunConfig({ start: 1 })! };
    const state = await new CpuRam(config.model, 11).getState();
    const probe = await createClassProbe(
      "cpu",
      undefined,
      clsConfigFor(config.model, config.cls!),
      4,
    );
    const cls = await probe.getState();
    probe.dispose();
    const rng = new Rng(6);
    for (const t of cls.params.values()) rng.fillUniform(t.data, -1, 1);
    cls.step = 23;
    const meta = { config, epoch: 1, step: 9, batch: 0 };
    await saveCheckpoint(dir, state, meta, {}, undefined, { cls });
    const good = await Deno.readFile(`${dir}/${MODEL_FILE}`);

    const name = [...cls.params.keys()][0];
    const bad = { ...cls, params: new Map(cls.params) };
    bad.params.set(name, { ...cls.params.get(name)!, data: cls.params.get(name)!.data.slice() });
    bad.params.get(name)!.data[0] = NaN;
    await assert.rejects(
      saveCheckpoint(dir, state, { ...meta, step: 10 }, {}, undefined, { cls: bad }),
      new RegExp(`^NonFiniteStateError: class probe parameter "${name}" holds NaN$`),
    );
    assert.deepEqual(await Deno.readFile(`${dir}/${MODEL_FILE}`), good, "the good one is kept");

    const run = await loadRun(dir, { backend: "cpu" });
    try {
      assert.ok(run.classProbe, "openRun opened the class probe");
      const back = await run.classProbe.getState();
      assertSameParams(back.params, cls.params);
      assert.equal(back.step, 23);
    } finally {
      run.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
