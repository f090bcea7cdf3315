/**
 * The `train` and `eval` commands as a user runs them: `deno run -A cli.ts …` in a child
 * process, checking exit codes, stdout/stderr and the run folder.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, MODEL_FILE, OPTIMIZER_FILE } from "../run/checkpoint.ts";
import { METRICS_FILE } from "../run/trainer.ts";
import { assertUsageError, glimpse, ROOT, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_cli_", fn);

// Small and fast: 3 glimpses, 40 images, the CPU backend.
const SMALL = [
  "--dataset",
  "mnist-10k",
  "--backend",
  "cpu",
  "--glimpses",
  "3",
  "--limit",
  "40",
  "--batch",
  "16",
];

Deno.test("bad options give one clear line and exit code 1", async () => {
  assertUsageError(
    await glimpse("train", "--epochs", "-1"),
    /--epochs "-1": expected a non-negative integer/,
  );
  assertUsageError(
    await glimpse("train", "--batch", "0"),
    /--batch "0": expected a positive integer/,
  );
  assertUsageError(
    await glimpse("train", "--lr", "fast"),
    /--lr "fast": expected a positive number/,
  );
  assertUsageError(
    await glimpse("train", "--backend", "tpu"),
    /--backend "tpu": expected auto or webgpu or cpu/,
  );
  assertUsageError(
    await glimpse("train", "--backend", "cpu", "--dataset", "imagenet"),
    /Unknown dataset "imagenet"/,
  );
  assertUsageError(
    await glimpse("train", "--validation", "1.5"),
    /--validation "1.5": expected a fraction between 0 and 1 or a count of images/,
  );
  assertUsageError(
    await glimpse("train", "--schedule", "linear"),
    /--schedule "linear": expected one of constant, cosine/,
  );
  assertUsageError(
    await glimpse("train", "--test-every", "0"),
    /--test-every "0": expected a positive integer/,
  );
  assertUsageError(
    await glimpse("reproduce", "--plan", "--jobs", "two"),
    /--jobs "two": expected a whole number of at least 1/,
  );
  assertUsageError(
    await glimpse("eval", "--model", "runs/does-not-exist"),
    /"runs\/does-not-exist": no such folder/,
  );
  assertUsageError(
    await glimpse("eval", "--model", "runs/x", "--mc", "0"),
    /--mc "0": expected a positive integer/,
  );
  assertUsageError(
    await glimpse("eval", "--model", "runs/x", "--backend", "gpu"),
    /--backend "gpu"/,
  );
  const missing = await glimpse("eval");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /required option '--model <dir>' not specified/);
});

Deno.test("train writes the run folder, prints the saved config, and eval reproduces its test error", async () => {
  await withDir(async (dir) => {
    const out = `${dir}/run`;
    const r = await glimpse(
      "train",
      ...SMALL,
      "--verbose",
      "--epochs",
      "2",
      "--seed",
      "4",
      "--out",
      out,
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(r.stdout.trim().split("\n").length, 1, "stdout is one JSON object");
    assert.equal(result.out, out);
    assert.equal(result.epochs, 2);
    assert.equal(result.step, 2 * 3); // 40 images in batches of 16
    assert.equal(result.interrupted, false);
    assert.ok(result.images_per_second > 0);
    for (const k of ["nll", "baseline", "reinforce", "loss"]) {
      assert.equal(typeof result.losses[k], "number");
    }
    assert.ok(result.test_error >= 0 && result.test_error <= 1);

    // one summary line, then (--verbose) the printed config, which is the saved one
    assert.match(
      r.stderr,
      /training .*run: 3 glimpses of 8×8, rnn 256, 2 epochs of batch 16, .*seed 4/,
    );
    const start = r.stderr.indexOf("\n{\n") + 1;
    const end = r.stderr.indexOf("\n}\n", start) + 2;
    const printed = JSON.parse(r.stderr.slice(start, end));
    const saved = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(printed, saved);
    assert.equal(saved.model.glimpses, 3);
    assert.equal(saved.train.seed, 4);
    assert.equal(saved.limit, 40);
    assert.equal(saved.reward.name, "classification");
    const ckpt = await loadCheckpoint(out);
    assert.deepEqual(ckpt.meta.config, saved);
    const lines = (await Deno.readTextFile(`${out}/${METRICS_FILE}`)).trim().split("\n");
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[1]).test_error, result.test_error);

    const e = await glimpse("eval", "--model", out, "--backend", "cpu", "--json");
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.test_error, result.test_error, "eval agrees with train's final test error");
    assert.equal(ev.accuracy_per_glimpse.length, 3);
    assert.equal(ev.mode, "mean");
    assert.match(e.stderr, /test error \d+\.\d\d%/);
    assert.match(ev.backend_description, /^cpu \(/);
    assert.equal(ev.backend_reason, "--backend cpu");
    // The default, auto, says what it chose and why.
    const auto = await glimpse("eval", "--model", out, "--json");
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(JSON.parse(auto.stdout).backend_reason, /^auto: /);

    const mc = await glimpse(
      "eval",
      "--model",
      `${out}/${MODEL_FILE}`,
      "--backend",
      "cpu",
      "--mc",
      "2",
      "--json",
    );
    assert.equal(mc.code, 0, mc.stderr);
    assert.equal(JSON.parse(mc.stdout).rollouts, 2);

    // a finished run is not overwritten, and resuming it needs more epochs
    assertUsageError(
      await glimpse("train", ...SMALL, "--out", out),
      /holds a checkpoint already; pass --resume/,
    );
    assertUsageError(
      await glimpse("train", "--resume", "--out", out, "--backend", "cpu"),
      /has trained 2 of 2 epochs already/,
    );
    assertUsageError(
      await glimpse(
        "train",
        "--resume",
        "--out",
        out,
        "--backend",
        "cpu",
        "--epochs",
        "3",
        "--lr",
        "0.1",
      ),
      /--lr 0.1: .* was trained with 0.0003/,
    );
  });
});

Deno.test("Ctrl-C finishes the step, writes a checkpoint, and --resume completes the run", async () => {
  await withDir(async (dir) => {
    const out = `${dir}/run`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        "train",
        "--backend",
        "cpu",
        "--glimpses",
        "3",
        "--limit",
        "400",
        "--batch",
        "8",
        "--epochs",
        "2",
        "--out",
        out,
        "--verbose",
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait for the first progress line (training has started), then press Ctrl-C.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stderr = "";
    while (!/batch \d+\/50/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const status = await child.status;
    await child.stdout.cancel();
    assert.equal(status.code, 130, stderr);
    assert.match(stderr, /interrupted: checkpoint written to .* at epoch 0, batch \d+/);
    const ck = await loadCheckpoint(out, { optimizer: true });
    assert.equal(ck.meta.epoch, 0);
    assert.ok(ck.meta.batch > 0 && ck.meta.batch < 50, `stopped mid-epoch: ${ck.meta.batch}`);
    assert.equal(ck.meta.step, ck.meta.batch);
    await Deno.stat(`${out}/${OPTIMIZER_FILE}`);

    const r = await glimpse("train", "--resume", "--out", out, "--backend", "cpu", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`from epoch 0, batch ${ck.meta.batch}`));
    assert.match(r.stderr, /^resuming .*; --verbose prints it\)$/m, "one config line");
    assert.doesNotMatch(r.stderr, /^\{$/m, "no config dump without --verbose");
    const result = JSON.parse(r.stdout);
    assert.equal(result.epochs, 2);
    assert.equal(result.step, 2 * 50);
    const lines = (await Deno.readTextFile(`${out}/${METRICS_FILE}`)).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).epoch), [1, 2]);
    assert.equal(JSON.parse(lines[0]).images, 400, "the interrupted epoch counts all its images");
  });
});

Deno.test("every command's --help ends with examples that use its own options", async () => {
  for (
    const cmd of [["train"], ["eval"], ["probe"], ["explain"], ["compare"], ["rewards", "check"]]
  ) {
    const r = await glimpse(...cmd, "--help");
    assert.equal(r.code, 0, r.stderr);
    const [usage, examples] = r.stdout.split("\nExamples:\n");
    assert.ok(examples, `${cmd.join(" ")} --help has examples`);
    for (const line of examples.trimEnd().split("\n")) {
      assert.match(line, new RegExp(`^  deno task ${cmd.join(" ")}\\b`));
      for (const flag of line.match(/--[a-z-]+/g) ?? []) {
        assert.ok(usage.includes(flag), `${cmd.join(" ")}: example flag ${flag} is an option`);
      }
    }
  }
});
