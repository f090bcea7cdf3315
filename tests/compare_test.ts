/**
 * `glimpse compare RUN...` as a user runs it (a child process) on two tiny runs with random
 * weights: the tables against evaluateEig on the same test images, the files it writes, and
 * its refusals.
 */
import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { loadRun } from "../run/load_run.ts";
import { evaluateEig } from "../run/evaluate_eig.ts";
import { loadDataset } from "../datasets/load.ts";
import { rewardLabels } from "../report/eig_compare.ts";
import { EIG_CSV_COLUMNS } from "../report/eig.ts";
import type { EigTable } from "../run/eig_table.ts";
import { writeTinyRun } from "./_explain_fixture.ts";
import { glimpse, withTempDir } from "./_cli.ts";

/** `compare DIR/cls DIR/ent --limit 40 --backend cpu --out DIR/out --json`. */
function compareClsEnt(dir: string) {
  return glimpse(
    "compare",
    `${dir}/cls`,
    `${dir}/ent`,
    "--limit",
    "40",
    "--backend",
    "cpu",
    "--out",
    `${dir}/out`,
    "--json",
  );
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_compare_", fn);

Deno.test("compare two runs: tables as evaluateEig gives them, md/csv/svg/png with a line per reward", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/cls`, "classification", { seed: 3 });
    await writeTinyRun(`${dir}/ent`, "entropy", { seed: 4 });
    const r = await compareClsEnt(dir);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.dataset, "mnist-10k");
    assert.equal(j.samples, 40);
    assert.deepEqual(j.runs.map((x: { label: string }) => x.label), ["classification", "entropy"]);
    assert.match(r.stderr, /cls: reward classification, epoch 1; mnist-10k test \(40 images\)/);

    // the same numbers in-process, on the same seeded stratified 40 test images
    const ds = await loadDataset("mnist-10k");
    for (const [i, name] of ["cls", "ent"].entries()) {
      const run = await loadRun(`${dir}/${name}`, { backend: "cpu" });
      let want: EigTable;
      try {
        want = await evaluateEig(run.ram, run.vae, ds.test, { limit: 40 });
      } finally {
        run.close();
      }
      const got: { samples: number; rows: Record<string, number>[] } = j.runs[i].table;
      assert.equal(got.samples, 40);
      got.rows.forEach((row, t) => {
        const keys = [
          ["accuracy", "accuracy"],
          ["entropy", "entropy"],
          ["info_gain", "infoGain"],
          ["cumulative_gain", "cumulativeGain"],
          ["recon_mse", "reconMse"],
        ] as const;
        for (const [json, field] of keys) {
          assert.ok(
            Math.abs(row[json] - want.rows[t][field]!) < 1e-6,
            `${name} glimpse ${t + 1} ${json}`,
          );
        }
      });
    }
    const tables = j.runs.map((x: { table: { rows: unknown[] } }) => x.table);
    assert.notDeepEqual(tables[0].rows, tables[1].rows, "two different runs");

    const md = await Deno.readTextFile(`${dir}/out/eig-compare.md`);
    assert.match(md, /^# Information gain per glimpse: classification vs entropy/);
    assert.match(md, /Beliefs of the RAM's classifier head \(not every run has a class probe/);
    assert.match(md, /### classification: .*cls \(epoch 1\)/);
    assert.match(md, /### entropy: .*ent \(epoch 1\)/);
    const csv = (await Deno.readTextFile(`${dir}/out/eig-compare.csv`)).trimEnd().split("\n");
    assert.equal(csv[0], ["label", "run", "reward", ...EIG_CSV_COLUMNS].join(","));
    assert.equal(csv.length, 1 + 2 * 4);
    assert.match(csv[5], new RegExp(`^entropy,${dir}/ent,entropy,1,`));
    const svg = await Deno.readTextFile(`${dir}/out/eig-compare.svg`);
    const lines = [
      ...svg.matchAll(
        /run: ([a-z]+);[^"]*" role="graphics-symbol" aria-roledescription="line mark"/g,
      ),
    ]
      .map((m) => m[1]);
    assert.deepEqual(lines, ["classification", "entropy"]);
    const png = decodePng(await Deno.readFile(`${dir}/out/eig-compare.png`));
    const [w, h] = svg.match(/width="(\d+)" height="(\d+)"/)!.slice(1).map(Number);
    assert.deepEqual([png.width, png.height], [2 * w, 2 * h]);
  });
});

Deno.test("compare reads the class probe's beliefs when every run has one", async () => {
  await withDir(async (dir) => {
    for (const [name, reward] of [["cls", "classification"], ["ent", "entropy"]] as const) {
      await writeTinyRun(`${dir}/${name}`, reward, { seed: 5 });
      const p = await glimpse("probe", "--model", `${dir}/${name}`, "--no-vae", "--epochs", "1");
      assert.equal(p.code, 0, p.stderr);
    }
    const r = await compareClsEnt(dir);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const md = await Deno.readTextFile(`${dir}/out/eig-compare.md`);
    assert.match(md, /Beliefs of the class probe/);
    // the summary's last-glimpse accuracy is the class probe's, not the head's
    const probeRows = j.runs[0].table.class_probe as { accuracy: number }[];
    assert.ok(Array.isArray(probeRows) && probeRows.length === 4, JSON.stringify(j.runs[0].table));
    const summary = md.split("\n").find((l) => l.startsWith("| classification |"))!;
    assert.equal(summary.split("|")[5].trim(), `${(100 * probeRows[3].accuracy).toFixed(2)}%`);
    const svg = await Deno.readTextFile(`${dir}/out/eig-compare.svg`);
    assert.match(svg, /class probe/);
  });
});

Deno.test("compare refuses a missing run and runs on different data, writing nothing", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/a`, "classification");
    await writeTinyRun(`${dir}/b`, "entropy", {
      data: { variant: "translated", canvas: 40, distractors: 0, distractorSize: 8, fit: null },
    });
    const refused = async (pattern: RegExp, ...args: string[]) => {
      const r = await glimpse("compare", ...args, "--backend", "cpu", "--out", `${dir}/out`);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^glimpse: /);
      assert.match(lines[0], pattern);
      assert.equal(await Deno.stat(`${dir}/out`).catch(() => null), null, "nothing written");
    };
    await refused(/Cannot read model ".*nope": no such folder/, `${dir}/a`, `${dir}/nope`);
    await refused(
      /trained on different data .*choose one test split with --dataset/,
      `${dir}/a`,
      `${dir}/b`,
    );
    // choosing the split explicitly: the translated 40×40 images do not fit a 28×28 model
    await refused(
      /takes 28×28 images/,
      `${dir}/a`,
      `${dir}/b`,
      "--variant",
      "translated",
      "--canvas",
      "40",
    );
  });
});

Deno.test("runs are labelled by reward, with the folder where rewards repeat", () => {
  assert.deepEqual(
    rewardLabels([{ run: "a", reward: "classification" }, { run: "b", reward: "entropy" }]),
    ["classification", "entropy"],
  );
  assert.deepEqual(
    rewardLabels([
      { run: "a", reward: "entropy" },
      { run: "b", reward: "entropy" },
      { run: "c", reward: "classification" },
    ]),
    ["entropy (a)", "entropy (b)", "classification"],
  );
  assert.deepEqual(
    rewardLabels([{ run: "a", reward: "x" }, { run: "a", reward: "x" }]),
    ["x (a)", "x (a) #2"],
  );
});
