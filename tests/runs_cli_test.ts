/**
 * Runs that are never lost, end to end: one writer per run folder, kill -9 then --resume,
 * non-finite training that keeps (or leaves) nothing bad behind, bad checkpoint files that are
 * refused instead of hanging, a model too large for the adapter refused up front.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, MODEL_FILE } from "../run/checkpoint.ts";
import { LOCK_FILE } from "../run/run_lock.ts";
import { assertUsageError, glimpse, ROOT, withTempDir } from "./_cli.ts";
import { testGpu } from "./_gpu.ts";

/** The small MNIST subset (tests never train on the official 60k set). */
const DATASET = "mnist-10k";
const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_runs_", fn);
/** A small cpu run whose epochs take a few seconds (so it can be caught mid-run). */
const SLOW = [
  "--backend",
  "cpu",
  "--dataset",
  DATASET,
  "--glimpses",
  "3",
  "--limit",
  "400",
  "--batch",
  "8",
  "--no-vae",
];

function spawnTrain(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "train", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test("a second training on the same --out is refused; after kill -9, --resume takes the stale lock over and finishes", async () => {
  await withDir(async (dir) => {
    const out = `${dir}/run`;
    const first = spawnTrain(...SLOW, "--epochs", "30", "--out", out);
    try {
      await waitFor("the first epoch's checkpoint", () => exists(`${out}/${MODEL_FILE}`));
      assertUsageError(
        await glimpse("train", ...SLOW, "--epochs", "30", "--resume", "--out", out),
        new RegExp(
          `Cannot use run folder "${out}": a training \\(pid ${first.pid} on .*\\) holds it`,
        ),
      );
    } finally {
      first.kill("SIGKILL");
      await first.status;
    }
    assert.ok(await exists(`${out}/${LOCK_FILE}`), "kill -9 leaves the lock");
    const saved = await loadCheckpoint(out, { optimizer: true });
    const r = await glimpse(
      "train",
      "--resume",
      "--out",
      out,
      "--backend",
      "cpu",
      "--epochs",
      String(saved.meta.epoch + 1),
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`taking over the lock of a training pid ${first.pid}`));
    assert.match(r.stderr, new RegExp(`from epoch ${saved.meta.epoch}, batch ${saved.meta.batch}`));
    const result = JSON.parse(r.stdout);
    assert.equal(result.epochs, saved.meta.epoch + 1);
    assert.equal(result.step, (saved.meta.epoch + 1) * 50);
    assert.ok(!(await exists(`${out}/${LOCK_FILE}`)), "the lock is released");
    for await (const e of Deno.readDir(out)) assert.ok(!e.name.endsWith(".tmp"), e.name);
  });
});

Deno.test("--lr 1e9 stops within two steps naming the RAM and the lr, and leaves no run folder behind", async () => {
  await withDir(async (dir) => {
    const out = `${dir}/run`;
    const r = await glimpse(
      "train",
      "--backend",
      "cpu",
      "--dataset",
      DATASET,
      "--glimpses",
      "2",
      "--limit",
      "32",
      "--batch",
      "16",
      "--epochs",
      "1",
      "--lr",
      "1e9",
      "--out",
      out,
    );
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trimEnd().split("\n").at(-1)!;
    // The probes read the step's own forward states (taken before its update), so the RAM that
    // diverged in step 1's update is caught by step 2's loss, or by a probe if one reads it first.
    assert.match(
      last,
      /^glimpse: train: training went non-finite at epoch 1, batch [12] \(step [12]\): RAM parameter "[\w.]+" (holds NaN|reached [\d.e+]+; the (VAE|class) probe's loss became NaN); lower option lr \(1000000000\); no checkpoint was written$/,
    );
    assert.ok(!(await exists(out)), "a run that wrote no checkpoint leaves no folder");
    // … so the same --out can be used again at once
    const again = await glimpse(
      "train",
      "--backend",
      "cpu",
      "--dataset",
      DATASET,
      "--glimpses",
      "2",
      "--limit",
      "32",
      "--batch",
      "16",
      "--epochs",
      "1",
      "--no-vae",
      "--out",
      out,
    );
    assert.equal(again.code, 0, again.stderr);
  });
});

Deno.test("eval --model refuses a FIFO model.safetensors at once instead of blocking", async () => {
  await withDir(async (dir) => {
    const mk = await new Deno.Command("mkfifo", { args: [`${dir}/${MODEL_FILE}`] }).output();
    assert.ok(mk.success);
    const r = await glimpse("eval", "--model", dir, "--backend", "cpu");
    assertUsageError(r, new RegExp(`"${dir}/${MODEL_FILE}": is a FIFO \\(named pipe\\)`));
  });
});

Deno.test("--glimpses 1000 on webgpu is refused before training, naming the option to lower", async () => {
  if (!(await testGpu())) return;
  await withDir(async (dir) => {
    const out = `${dir}/run`;
    const r = await glimpse(
      "train",
      "--backend",
      "webgpu",
      "--dataset",
      DATASET,
      "--limit",
      "16",
      "--glimpses",
      "1000",
      "--out",
      out,
    );
    const last = r.stderr.trimEnd().split("\n").at(-1)!;
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      last,
      /^glimpse: webgpu: the "[\w ]+" buffer needs [\d.]+ MiB \(glimpses 1000, batch 128\), over this adapter's max\w+ of [\d.]+ MiB; lower option glimpses or batch/,
    );
    assert.ok(!(await exists(out)));
  });
});

Deno.test("a plugin that blows its memory mid-run ends the run with one line and leaves the last checkpoint resumable", async () => {
  await withDir(async (dir) => {
    // Rewards like classification's until call 60 (epoch 1 is 50 batches of 8), then memory
    // outside V8's heap without bound: the sandbox's resident-memory watch stops it.
    const plugin = `${dir}/greedy.ts`;
    await Deno.writeTextFile(
      plugin,
      `let calls = 0;
export default { name: "greedy", description: "grows its memory at call 60", options: {},
  reward({ T, B, labels, predictions }) {
    if (++calls >= 60) {
      const keep = [];
      for (;;) keep.push(new Uint8Array(64 * 2 ** 20).fill(1));
    }
    const r = new Float32Array(T * B);
    for (let b = 0; b < B; b++) r[(T - 1) * B + b] = predictions[(T - 1) * B + b] === labels[b] ? 1 : 0;
    return r;
  } };
`,
    );
    const out = `${dir}/run`;
    const r = await glimpse("train", ...SLOW, "--epochs", "3", "--reward", plugin, "--out", out);
    assert.notEqual(r.code, 0, "the run did not fail");
    const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("glimpse:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /greedy/);
    assert.match(lines[0], /memory/);
    const ckpt = await loadCheckpoint(out, { optimizer: true });
    assert.equal(ckpt.meta.epoch, 1, "the checkpoint of epoch 1 is the one kept");
    assert.equal(await exists(`${out}/${LOCK_FILE}`), false, "the lock is released");
  });
});
