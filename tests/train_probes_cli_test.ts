/**
 * `train` with both probes alongside (the default) and `eval --controls`, as a user runs them:
 * `deno run -A cli.ts …` in a child process on the cpu backend with tiny sizes on mnist-10k.
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../run/checkpoint.ts";
import { METRICS_FILE } from "../run/trainer.ts";
import type { ParamMap } from "../ram/backend.ts";
import { glimpse, type Output, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_probes_", fn);

function ok(r: Output): void {
  assert.equal(r.code, 0, r.stderr);
}

const SMALL = [
  "--dataset",
  "mnist-10k",
  "--backend",
  "cpu",
  "--glimpses",
  "2",
  "--limit",
  "30",
  "--batch",
  "15",
  "--seed",
  "3",
];

function assertSameMaps(a: ParamMap, b: ParamMap, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${what}: ${name}`);
}

async function metrics(dir: string): Promise<Record<string, number | null>[]> {
  const text = await Deno.readTextFile(`${dir}/${METRICS_FILE}`);
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("train trains both probes alongside, --resume continues them exactly, eval --controls reads the class probe", async () => {
  await withDir(async (dir) => {
    // One run of 2 epochs, and one of 1 epoch resumed to 2: the same parameters, bit for bit.
    ok(await glimpse("train", ...SMALL, "--epochs", "2", "--out", `${dir}/a`));
    ok(await glimpse("train", ...SMALL, "--epochs", "1", "--out", `${dir}/b`));
    ok(
      await glimpse("train", "--resume", "--out", `${dir}/b`, "--epochs", "2", "--backend", "cpu"),
    );
    const a = await loadCheckpoint(`${dir}/a`, { optimizer: true });
    const b = await loadCheckpoint(`${dir}/b`, { optimizer: true });
    assert.ok(a.cls && b.cls && a.vae && b.vae, "both probes saved");
    assert.equal(a.meta.config.cls?.start, 1);
    assert.equal(a.meta.clsStep, 4); // 2 epochs of 30 images in batches of 15
    assert.equal(a.meta.vaeStep, 4);
    assert.equal(b.meta.clsStep, 4);
    assertSameMaps(a.params, b.params, "RAM");
    assertSameMaps(a.cls.params, b.cls.params, "class probe");
    assertSameMaps(a.cls.adamM, b.cls.adamM, "class probe Adam m");
    assertSameMaps(a.cls.adamV, b.cls.adamV, "class probe Adam v");
    assertSameMaps(a.vae.params, b.vae.params, "VAE probe");
    const lines = await metrics(`${dir}/a`);
    for (const l of lines) {
      assert.ok(l.cls_nll! > 0 && Number.isFinite(l.cls_nll), `cls_nll ${l.cls_nll}`);
      assert.ok(l.cls_accuracy! >= 0 && l.cls_accuracy! <= 1);
      assert.ok(Number.isFinite(l.vae_loss));
    }
    // Run b's epoch 1 was its last one before the resume, so it has a test error; a has not.
    const strip = (l: Record<string, unknown>) => ({
      ...l,
      images_per_second: 0,
      seconds: 0,
      test_error: l.epoch === 2 ? l.test_error : null,
    });
    assert.deepEqual((await metrics(`${dir}/b`)).map(strip), lines.map(strip));

    // --cls-start 2 and --no-cls.
    ok(await glimpse("train", ...SMALL, "--epochs", "2", "--cls-start", "2", "--out", `${dir}/c`));
    assert.deepEqual((await metrics(`${dir}/c`)).map((l) => l.cls_nll === null), [true, false]);
    assert.equal((await loadCheckpoint(`${dir}/c`)).meta.clsStep, 2);
    ok(await glimpse("train", ...SMALL, "--epochs", "1", "--no-cls", "--out", `${dir}/d`));
    assert.equal((await loadCheckpoint(`${dir}/d`)).cls, null);
    assert.equal((await metrics(`${dir}/d`))[0].cls_nll, null);
    const refused = await glimpse(
      "train",
      "--resume",
      "--out",
      `${dir}/a`,
      "--epochs",
      "3",
      "--no-cls",
      "--backend",
      "cpu",
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--no-cls: .* trains the class probe/);

    // eval --controls: the policy beside the three controls, all read through the class probe.
    const e = await glimpse(
      "eval",
      "--model",
      `${dir}/a`,
      "--backend",
      "cpu",
      "--controls",
      "--json",
    );
    ok(e);
    const json = JSON.parse(e.stdout);
    const controls = json.controls as { name: string; beliefs: string; accuracy: number[] }[];
    assert.deepEqual(controls.map((c) => c.name), ["policy", "fixed", "random", "untrained"]);
    for (const c of controls) {
      assert.equal(c.beliefs, "class probe");
      assert.equal(c.accuracy.length, 2);
      assert.ok(c.accuracy.every((v) => v >= 0 && v <= 1));
    }
    // Glimpse 1 looks at the same place in every placement: the same beliefs there.
    assert.ok(controls.every((c) => c.accuracy[0] === controls[0].accuracy[0]));
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/a/controls.json`));
    assert.deepEqual(saved, json.controls);
    assert.match(await Deno.readTextFile(`${dir}/a/controls.md`), /untrained/);
  });
});
