import assert from "node:assert/strict";
import { snakeCaseKeys } from "../util/snake_case.ts";
import { EIG_CSV_COLUMNS, eigCsv, eigJson, eigMarkdown, writeEigFiles } from "../report/eig.ts";
import { EigAccumulator, type EigTable, eigTable } from "../run/eig_table.ts";
import { assertClose } from "./_assert.ts";

/** Log-probabilities (T, B, C) from probabilities given as [glimpse][sample][class]. */
function logpOf(p: number[][][]): Float32Array {
  return Float32Array.from(p.flat(2), (v) => (v === 0 ? -1e4 : Math.log(v)));
}

function entropy(p: number[]): number {
  return -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);
}

const close = (got: number | null, want: number, label: string) =>
  assertClose([got ?? NaN], [want], { atol: 1e-6, rtol: 1e-5, label });

Deno.test("EIG: uniform prior to a one-hot posterior gains ln C in one glimpse", () => {
  const t = eigTable(1, 4, logpOf([[[0, 0, 1, 0]]]), Int32Array.from([2]));
  const r = t.rows[0];
  close(t.priorEntropy, Math.log(4), "H_0");
  close(r.entropy, 0, "H_1");
  close(r.infoGain, Math.log(4), "IG_1");
  close(r.cumulativeGain, Math.log(4), "H_0 − H_1");
  close(r.klPrev, Math.log(4), "KL(one-hot ‖ uniform)");
  assert.equal(r.accuracy, 1);
  assert.equal(r.infoGainSe, null, "one sample has no standard error");
  assert.equal(r.reconMse, null);
});

Deno.test("EIG: a distribution that stays the same gains nothing after the first glimpse", () => {
  const p = [0.7, 0.2, 0.1];
  const t = eigTable(3, 3, logpOf([[p], [p], [p]]), Int32Array.from([1]));
  const h = entropy(p);
  close(t.rows[0].infoGain, Math.log(3) - h, "IG_1");
  close(t.rows[0].klPrev, Math.log(3) - h, "KL(p ‖ uniform) = ln C − H(p)");
  for (const r of t.rows.slice(1)) {
    close(r.entropy, h, `H_${r.glimpse}`);
    close(r.infoGain, 0, `IG_${r.glimpse}`);
    close(r.klPrev, 0, `KL at glimpse ${r.glimpse}`);
    close(r.cumulativeGain, Math.log(3) - h, `cumulative at glimpse ${r.glimpse}`);
  }
  assert.deepEqual(t.rows.map((r) => r.accuracy), [0, 0, 0], "argmax is class 0, label 1");
});

Deno.test("EIG: KL to the previous glimpse and gains that sum to the cumulative gain", () => {
  const p1 = [0.5, 0.5], p2 = [0.8, 0.2], p3 = [0.3, 0.7];
  const t = eigTable(3, 2, logpOf([[p1], [p2], [p3]]), Int32Array.from([1]));
  close(t.rows[1].klPrev, 0.8 * Math.log(0.8 / 0.5) + 0.2 * Math.log(0.2 / 0.5), "KL(p2 ‖ p1)");
  close(t.rows[2].klPrev, 0.3 * Math.log(0.3 / 0.8) + 0.7 * Math.log(0.7 / 0.2), "KL(p3 ‖ p2)");
  close(t.rows[2].infoGain, entropy(p2) - entropy(p3), "IG_3 may be negative");
  assert.ok(t.rows[2].infoGain < 0);
  const sum = t.rows.reduce((s, r) => s + r.infoGain, 0);
  close(t.rows[2].cumulativeGain, sum, "Σ IG_t = H_0 − H_T");
  assert.deepEqual(t.rows.map((r) => r.accuracy), [0, 0, 1]);
});

Deno.test("EIG: information gain's standard error is the sample standard deviation over √n", () => {
  // Three samples, one glimpse, C = 2: IG = ln 2 − H(p) for each.
  const ps = [[0.5, 0.5], [1, 0], [0.9, 0.1]];
  const ig = ps.map((p) => Math.log(2) - entropy(p));
  const mean = ig.reduce((a, b) => a + b) / 3;
  const se = Math.sqrt(ig.reduce((s, x) => s + (x - mean) ** 2, 0) / 2 / 3);
  const t = eigTable(1, 2, logpOf([ps]), Int32Array.from([0, 0, 1]));
  close(t.rows[0].infoGain, mean, "mean IG");
  close(t.rows[0].infoGainSe, se, "standard error");
  assertClose([t.rows[0].accuracy], [2 / 3], { label: "accuracy (ties go to the first class)" });

  // Fed one sample at a time, the accumulator gives the same table.
  const acc = new EigAccumulator(1, 2);
  ps.forEach((p, i) => acc.add(logpOf([[p]]), Int32Array.from([[0, 0, 1][i]])));
  const u = acc.table();
  assert.equal(u.samples, 3);
  close(u.rows[0].infoGainSe, se, "standard error, batch by batch");
  close(u.rows[0].infoGain, mean, "mean IG, batch by batch");
});

Deno.test("EIG: reconstruction MSE is averaged per glimpse; inputs are checked", () => {
  const logp = logpOf([[[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 1]]]); // T = 2, B = 2
  const mse = Float32Array.from([0.4, 0.2, 0.1, 0.05]); // (T, B)
  const t = eigTable(2, 2, logp, Int32Array.from([0, 1]), mse);
  close(t.rows[0].reconMse, 0.3, "MSE glimpse 1");
  close(t.rows[1].reconMse, 0.075, "MSE glimpse 2");
  const acc = new EigAccumulator(2, 2);
  acc.add(logp, Int32Array.from([0, 1]), mse);
  assert.throws(() => acc.add(logp, Int32Array.from([0, 1])), /given for some batches and not/);
  assert.throws(() => acc.add(logp, Int32Array.from([0])), /expected T·B·C = 2·1·2 = 4/);
  assert.throws(() => acc.add(logp, Int32Array.from([0, 1]), mse.subarray(1)), /expected T·B/);
  assert.throws(() => acc.add(logp, Int32Array.from([0, 2]), mse), /label 2 of sample 1/);
  assert.throws(() => acc.add(Float32Array.from(logp, () => 0.5), Int32Array.from([0, 1]), mse));
  assert.throws(() => new EigAccumulator(2, 2).table(), /no samples/);
  assert.throws(() => new EigAccumulator(0, 2), /glimpses 0/);
});

function sampleTable(): EigTable {
  const ps = [[[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]], [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]];
  return eigTable(2, 3, logpOf(ps), Int32Array.from([0, 1]), Float32Array.from([1, 2, 3, 4]));
}

Deno.test("EIG table renders to markdown, CSV and JSON with the same numbers", () => {
  const t = sampleTable();
  const md = eigMarkdown(t, { title: "run x" });
  const lines = md.trimEnd().split("\n");
  assert.equal(lines[0], "### run x");
  assert.match(md, /2 samples, 3 classes; H_0 = ln 3 = 1\.0986 nats/);
  const table = lines.filter((l) => l.startsWith("|"));
  assert.equal(table.length, 2 + 2, "header, rule, one line per glimpse");
  assert.ok(table.every((l) => l.length === table[0].length), "columns are padded to align");
  assert.match(table[0], /glimpse .* head acc .* head ECE .* recon MSE/);
  assert.match(md, /Beliefs p_t are the RAM's classifier head's/);
  const cells = table[3].split("|").map((c) => c.trim()).filter((c) => c !== "");
  const r = t.rows[1];
  assert.deepEqual(cells, [
    "2",
    "100.00%",
    r.entropy.toFixed(4),
    `${r.infoGain.toFixed(4)} ± ${r.infoGainSe!.toFixed(4)}`,
    r.cumulativeGain.toFixed(4),
    r.klPrev.toFixed(4),
    `${r.infoBound.toFixed(4)} ± ${r.infoBoundSe!.toFixed(4)}`,
    `${(100 * r.confidence).toFixed(1)}%`,
    r.ece.toFixed(4),
    "3.50000",
  ]);

  const csv = eigCsv(t).trimEnd().split("\n").map((l) => l.split(","));
  assert.deepEqual(csv[0], [...EIG_CSV_COLUMNS]);
  assert.equal(csv.length, 3);
  assert.deepEqual(csv[2].slice(0, 12).map(Number), [
    2,
    r.accuracy,
    r.entropy,
    r.infoGain,
    r.infoGainSe,
    r.cumulativeGain,
    r.klPrev,
    r.reconMse,
    r.infoBound,
    r.infoBoundSe,
    r.confidence,
    r.ece,
  ]);
  assert.deepEqual(csv[2].slice(12), new Array(10).fill(""), "no class probe: empty probe_*");

  const json = JSON.parse(eigJson(t, { title: "run x" }));
  assert.equal(json.title, "run x");
  assert.deepEqual({ ...json, title: undefined }, {
    ...snakeCaseKeys({ ...t, classProbe: null }) as object,
    title: undefined,
  });
  assert.equal(json.prior_entropy, t.priorEntropy);
  assert.equal(json.rows[0].info_gain, t.rows[0].infoGain, "snake_case keys, as in eig.csv");

  // Unknown values: no MSE column, "–" in markdown, empty CSV fields, null in JSON.
  const one = eigTable(1, 2, logpOf([[[0.5, 0.5]]]), Int32Array.from([0]));
  assert.doesNotMatch(eigMarkdown(one), /recon MSE/);
  assert.match(eigMarkdown(one), /0\.0000 ± –/);
  assert.match(eigCsv(one), /\n1,1,[0-9.e-]+,[0-9.e-]+,,[0-9.e-]+,[0-9.e-]+,,[0-9.e-]+,,/);
  assert.equal(JSON.parse(eigJson(one)).rows[0].info_gain_se, null);
});

Deno.test("writeEigFiles writes eig.md, eig.csv and eig.json into a new folder, nothing else", async () => {
  const root = await Deno.makeTempDir({ prefix: "glimpse-eig-" });
  try {
    const dir = `${root}/nested/out`;
    const t = sampleTable();
    const paths = await writeEigFiles(dir, t, { title: "t" });
    assert.deepEqual(paths, [`${dir}/eig.md`, `${dir}/eig.csv`, `${dir}/eig.json`]);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["eig.csv", "eig.json", "eig.md"]);
    assert.equal(await Deno.readTextFile(paths[0]), eigMarkdown(t, { title: "t" }));
    assert.equal(await Deno.readTextFile(paths[1]), eigCsv(t));
    assert.equal(await Deno.readTextFile(paths[2]), eigJson(t, { title: "t" }));
    await Deno.writeTextFile(`${root}/file`, "");
    await assert.rejects(() => writeEigFiles(`${root}/file/sub`, t), /Cannot create the folder/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("EIG: ln C − NLL_t and the expected calibration error over 15 confidence bins", () => {
  // Glimpse 1: p = (0.9, 0.1) on four samples, labels 0,0,0,1: confidence 0.9 in one bin,
  // accuracy 0.75, so ECE = |0.75 − 0.9| = 0.15; NLL = (3·ln(1/0.9) + ln 10)/4.
  const p = [[[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]]];
  const t = eigTable(1, 2, logpOf(p), Int32Array.from([0, 0, 0, 1]));
  const r = t.rows[0];
  const nlls = [-Math.log(0.9), -Math.log(0.9), -Math.log(0.9), -Math.log(0.1)];
  const mean = nlls.reduce((a, b) => a + b) / 4;
  close(r.infoBound, Math.log(2) - mean, "ln C − NLL");
  const sd = Math.sqrt(nlls.reduce((a, v) => a + (v - mean) ** 2, 0) / 3);
  close(r.infoBoundSe!, sd / 2, "its standard error");
  close(r.confidence, 0.9, "confidence");
  close(r.ece, 0.15, "ECE");
  // Two bins: 0.6 (correct) and 0.95 (wrong): ECE = ½|1 − 0.6| + ½|0 − 0.95|.
  const t2 = eigTable(1, 2, logpOf([[[0.6, 0.4], [0.05, 0.95]]]), Int32Array.from([0, 0]));
  close(t2.rows[0].ece, 0.5 * 0.4 + 0.5 * 0.95, "ECE over two bins");
  // A calibrated set: half right at confidence 0.5 has ECE 0 (ties go to class 0).
  const t3 = eigTable(1, 2, logpOf([[[0.5, 0.5], [0.5, 0.5]]]), Int32Array.from([0, 1]));
  close(t3.rows[0].ece, 0, "calibrated");
});

Deno.test("EIG markdown and CSV show the class probe's beliefs beside the head's", () => {
  const head = eigTable(1, 2, logpOf([[[0.6, 0.4]]]), Int32Array.from([0]));
  const probe = eigTable(1, 2, logpOf([[[0.2, 0.8]]]), Int32Array.from([0]));
  const both = { ...head, classProbe: probe.rows };
  const md = eigMarkdown(both);
  assert.match(md, /"probe" columns read the class probe's beliefs/);
  const lines = md.split("\n").filter((l) => l.startsWith("|"));
  assert.match(lines[0], /probe acc .* probe ECE .* head acc .* head ECE/);
  assert.match(lines[2], /\| +0\.00% .* 100\.00% /, "probe wrong, head right");
  const csv = eigCsv(both).trimEnd().split("\n").map((l) => l.split(","));
  const col = (name: string) => Number(csv[1][EIG_CSV_COLUMNS.indexOf(name)]);
  close(col("confidence"), 0.6, "head confidence");
  close(col("probe_confidence"), 0.8, "probe confidence");
  close(col("probe_accuracy"), 0, "probe accuracy");
});
