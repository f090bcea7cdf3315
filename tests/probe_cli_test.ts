/**
 * `train` with the VAE probe, `probe` and `eval`'s EIG files as a user runs them:
 * `deno run -A cli.ts …` in a child process on the cpu backend with tiny sizes.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, MODEL_FILE, OPTIMIZER_FILE } from "../run/checkpoint.ts";
import { EIG_CSV_COLUMNS } from "../report/eig.ts";
import { METRICS_FILE } from "../run/trainer.ts";
import { glimpse, type Output, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_probe_", fn);

function ok(r: Output): void {
  assert.equal(r.code, 0, r.stderr);
}

/** Exit code 1, nothing on stdout, one `glimpse: …` line on stderr matching `pattern`. */
function assertOneLineError(r: Output, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^glimpse: /);
  assert.match(lines[0], pattern);
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
];

Deno.test("train --no-vae, then probe: the RAM stays bit-identical, the probe is added, then continued", async () => {
  await withDir(async (dir) => {
    ok(await glimpse("train", ...SMALL, "--epochs", "1", "--no-vae", "--out", dir));
    const before = await loadCheckpoint(dir, { optimizer: true });
    assert.equal(before.vae, null);
    const p1 = await glimpse(
      "probe",
      "--model",
      dir,
      "--epochs",
      "2",
      "--backend",
      "cpu",
      "--json",
    );
    ok(p1);
    const j1 = JSON.parse(p1.stdout);
    assert.equal(j1.vae_step, 4); // 2 epochs of 30 images in batches of 15
    assert.ok(Number.isFinite(j1.vae_loss));
    const after = await loadCheckpoint(dir, { optimizer: true });
    for (const [name, t] of before.params) {
      assert.deepEqual(after.params.get(name)!.data, t.data, `${name} changed`);
      assert.deepEqual(
        after.optimizer!.adamM.get(name)!.data,
        before.optimizer!.adamM.get(name)!.data,
      );
    }
    assert.equal(after.meta.step, before.meta.step);
    assert.equal(after.meta.config.vae?.start, 2); // it would train alongside from epoch 2 on
    assert.equal(after.meta.vaeStep, 4);
    const p2 = await glimpse(
      "probe",
      "--model",
      dir,
      "--epochs",
      "1",
      "--backend",
      "cpu",
      "--json",
    );
    ok(p2);
    assert.equal(JSON.parse(p2.stdout).vae_step, 6);
    assert.match(p2.stderr, /continuing the VAE probe/);
    // A resumed run trains it alongside from there.
    ok(await glimpse("train", "--resume", "--out", dir, "--epochs", "2", "--backend", "cpu"));
    const resumed = await loadCheckpoint(dir, { optimizer: true });
    assert.equal(resumed.meta.vaeStep, 8);
    const lines = (await Deno.readTextFile(`${dir}/${METRICS_FILE}`)).trim().split("\n");
    assert.equal(JSON.parse(lines[0]).vae_loss, null);
    assert.ok(Number.isFinite(JSON.parse(lines[1]).vae_loss));
  });
});

Deno.test("probe on a run without optimizer.safetensors writes none", async () => {
  await withDir(async (dir) => {
    ok(await glimpse("train", ...SMALL, "--epochs", "1", "--no-vae", "--out", dir));
    await Deno.remove(`${dir}/${OPTIMIZER_FILE}`);
    ok(await glimpse("probe", "--model", dir, "--epochs", "1", "--backend", "cpu"));
    await assert.rejects(Deno.stat(`${dir}/${OPTIMIZER_FILE}`), Deno.errors.NotFound);
    assert.equal((await loadCheckpoint(dir)).meta.vaeStep, 2);
  });
});

Deno.test("eval prints the EIG table and writes eig.md, eig.csv, eig.json with reconstruction MSE", async () => {
  await withDir(async (dir) => {
    ok(await glimpse("train", ...SMALL, "--epochs", "1", "--out", `${dir}/run`));
    const r = await glimpse("eval", "--model", `${dir}/run`, "--backend", "cpu", "--json");
    ok(r);
    // Both probes train alongside by default: the class probe's columns come first.
    assert.match(r.stderr, /\| glimpse \| probe acc \| probe H_t \|/);
    const json = JSON.parse(r.stdout);
    assert.equal(json.eig.rows.length, 2);
    assert.equal(json.eig.samples, json.samples);
    const csv = (await Deno.readTextFile(`${dir}/run/eig.csv`)).trim().split("\n");
    assert.deepEqual(csv[0].split(","), [...EIG_CSV_COLUMNS]);
    assert.equal(csv.length, 3);
    for (const [t, line] of csv.slice(1).entries()) {
      const cells = line.split(",").map(Number);
      assert.equal(cells[0], t + 1);
      assert.ok(cells.every(Number.isFinite), line); // recon_mse included: the run has a probe
      assert.ok(cells[7] > 0 && cells[7] < 1, `recon MSE ${cells[7]}`);
      assert.ok(Math.abs(cells[1] - json.accuracy_per_glimpse[t]) < 1e-12);
    }
    const md = await Deno.readTextFile(`${dir}/run/eig.md`);
    assert.match(md, /recon MSE/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/run/eig.json`)), json.eig);

    // --out elsewhere; a run without probes has only the head's columns and no recon_mse.
    const noProbes = ["--no-vae", "--no-cls"];
    ok(await glimpse("train", ...SMALL, "--epochs", "0", ...noProbes, "--out", `${dir}/bare`));
    const e = await glimpse(
      "eval",
      "--model",
      `${dir}/bare`,
      "--backend",
      "cpu",
      "--out",
      `${dir}/o`,
    );
    ok(e);
    assert.match(e.stderr, /\| glimpse \| head acc \| head H_t \|/);
    const bare = (await Deno.readTextFile(`${dir}/o/eig.csv`)).trim().split("\n");
    const mse = EIG_CSV_COLUMNS.indexOf("recon_mse");
    assert.ok(bare.slice(1).every((l) => l.split(",")[mse] === ""), bare.join("\n"));
    await assert.rejects(Deno.stat(`${dir}/bare/eig.csv`), Deno.errors.NotFound);
  });
});

Deno.test("probe and eval refuse a corrupt or other-version checkpoint in one line naming the file", async () => {
  await withDir(async (dir) => {
    ok(await glimpse("train", ...SMALL, "--epochs", "0", "--out", dir));
    const file = `${dir}/${MODEL_FILE}`;
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.subarray(0, bytes.length - 100));
    for (const cmd of ["probe", "eval"]) {
      assertOneLineError(
        await glimpse(cmd, "--model", dir, "--backend", "cpu"),
        new RegExp(`Cannot read "${file}": .*exceed`),
      );
    }
    const text = new TextDecoder("latin1").decode(bytes);
    const at = text.indexOf('"format_version":"1"');
    const other = bytes.slice();
    other.set(new TextEncoder().encode('"format_version":"2"'), at);
    await Deno.writeFile(file, other);
    for (const cmd of ["probe", "eval"]) {
      assertOneLineError(
        await glimpse(cmd, "--model", dir, "--backend", "cpu"),
        new RegExp(`Cannot read "${file}": format version 2, this glimpse reads version 1`),
      );
    }
    assertOneLineError(
      await glimpse("train", ...SMALL, "--no-vae", "--vae-start", "2", "--out", `${dir}/x`),
      /--vae-start 2: the VAE probe is off \(--no-vae\)/,
    );
    assertOneLineError(
      await glimpse("train", ...SMALL, "--no-cls", "--cls-start", "2", "--out", `${dir}/x`),
      /--cls-start 2: the class probe is off \(--no-cls\)/,
    );
    assertOneLineError(
      await glimpse("train", ...SMALL, "--no-vae", "--vae-images", "0.5", "--out", `${dir}/x`),
      /--vae-images 0.5: the VAE probe is off \(--no-vae\)/,
    );
    for (const bad of ["0", "1.5", "half"]) {
      assertOneLineError(
        await glimpse("train", ...SMALL, "--vae-images", bad, "--out", `${dir}/x`),
        new RegExp(`--vae-images "${bad}": expected a share of the batch in \\(0, 1\\]`),
      );
    }
    // A run keeps its share on resume (0 epochs, the default share).
    ok(await glimpse("train", ...SMALL, "--epochs", "0", "--out", `${dir}/y`));
    assertOneLineError(
      await glimpse("train", "--resume", "--out", `${dir}/y`, "--epochs", "1", "--vae-images", "1"),
      /--vae-images 1: .* was trained with --vae-images 0.5, and a resumed run keeps its config/,
    );
  });
});
