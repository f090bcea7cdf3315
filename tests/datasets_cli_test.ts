/**
 * The dataset options of `train` and `eval` as a user runs them (`deno run -A cli.ts …` in a
 * child process): a cluttered run whose config carries its data, eval on the same data by
 * default and on other data by flag, the noise table, and the errors.
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../run/checkpoint.ts";
import {
  dataConfigOf,
  datasetOptionsOf,
  PLAIN_DATA,
  resolveRunConfig,
  type RunConfig,
} from "../run/run_config.ts";
import { applyOptions } from "../datasets/load.ts";
import type { Dataset, Split } from "../datasets/types.ts";
import { FASHION_MNIST_DIR_ENV } from "../datasets/fashion.ts";
import { checkDataFitsModel, dataFromFlags, savedDataWith } from "../commands/run_data.ts";
import { defaultOut } from "../commands/train.ts";
import { assertUsageError, glimpseWith, type Output } from "./_cli.ts";

const glimpse = (args: string[], env: Record<string, string> = {}): Promise<Output> =>
  glimpseWith(env, ...args);

function baseConfig(over: Record<string, unknown> = {}): RunConfig {
  return resolveRunConfig({
    dataset: "mnist-10k",
    data: { variant: "cluttered", canvas: 40, distractors: 3, distractorSize: 6, fit: null },
    limit: null,
    validation: 0.1,
    plateau: 0,
    reward: { spec: "classification", name: "classification", options: {} },
    model: { height: 40, width: 40 },
    train: { seed: 7 },
    ...over,
  });
}

Deno.test("run config keeps the data options; older configs without them read as plain", () => {
  const config = baseConfig();
  assert.deepEqual(resolveRunConfig(JSON.parse(JSON.stringify(config))), config);
  const { data: _, ...old } = config;
  assert.deepEqual(resolveRunConfig(old).data, PLAIN_DATA);
  assert.deepEqual(datasetOptionsOf(config), {
    variant: "cluttered",
    canvas: 40,
    distractors: 3,
    distractorSize: 6,
    fit: undefined,
    seed: 7,
    validation: 0.1,
  });
  assert.throws(
    () => resolveRunConfig({ ...config, data: { ...config.data, canvas: null } }),
    /"data.canvas" = null: must be an integer ≥ 1 for cluttered/,
  );
  assert.throws(
    () => resolveRunConfig({ ...config, data: { ...PLAIN_DATA, canvas: 60 } }),
    /"data.canvas" = 60: must be null for the plain variant/,
  );
  assert.throws(
    () => resolveRunConfig({ ...config, data: { ...config.data, zoom: 2 } }),
    /unknown data key "zoom"/,
  );
  assert.throws(
    () => resolveRunConfig({ ...config, data: { ...config.data, variant: "rotated" } }),
    /"data.variant" = "rotated"/,
  );
});

/** A 28×28 dataset of `n` blank images, labels i mod 10. */
function blankDataset(n: number): Dataset {
  const split: Split = {
    size: n,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    fill(indices, _epoch, images) {
      images.fill(0, 0, indices.length * 784);
    },
  };
  return {
    name: "blank",
    height: 28,
    width: 28,
    classes: 10,
    classNames: [..."0123456789"],
    train: split,
    test: split,
  };
}

Deno.test("data config of a loaded variant writes its defaults out", () => {
  const ds = applyOptions(blankDataset(20), { variant: "cluttered", canvas: 100 });
  assert.deepEqual(dataConfigOf(ds), {
    variant: "cluttered",
    canvas: 100,
    distractors: 8,
    distractorSize: 8,
    fit: null,
  });
  assert.deepEqual(dataConfigOf(applyOptions(blankDataset(20), {})), PLAIN_DATA);
  assert.equal(dataConfigOf(applyOptions(blankDataset(20), { variant: "translated" })).canvas, 60);
});

Deno.test("flags over a saved run's data: a new variant drops the old geometry, others replace", () => {
  const config = baseConfig();
  // nothing given: the run's own data, without the validation slice
  assert.deepEqual(savedDataWith(config, {}), {
    spec: "mnist-10k",
    options: { ...datasetOptionsOf(config), validation: undefined },
  });
  // another dataset keeps the variant and geometry
  const fashion = savedDataWith(config, { dataset: "fashion-mnist" });
  assert.equal(fashion.spec, "fashion-mnist");
  assert.equal(fashion.options.canvas, 40);
  assert.equal(fashion.options.distractorSize, 6);
  // another variant starts from its defaults, with the run's seed
  assert.deepEqual(savedDataWith(config, { variant: "translated" }).options, {
    variant: "translated",
    seed: 7,
    fit: undefined,
  });
  assert.equal(savedDataWith(config, { distractors: "5" }).options.distractors, 5);
  assert.equal(savedDataWith(config, { dataset: "folder:x" }).options.fit, "mnist");
  assert.equal(dataFromFlags({ dataset: "folder:x", fit: "stretch" }).options.fit, "stretch");
  assert.equal(dataFromFlags({}).spec, "mnist");
  assert.throws(() => dataFromFlags({ canvas: "6o" }), /--canvas "6o": expected a positive/);
  assert.throws(() => dataFromFlags({ dataset: " " }), /--dataset "": expected a dataset name/);
});

Deno.test("the dataset/model size check names both sizes", () => {
  const ds = applyOptions(blankDataset(20), {});
  const model = baseConfig().model;
  assert.throws(
    () => checkDataFitsModel(ds, model, "runs/x"),
    /^Error: dataset blank has 28×28 images of 10 classes, but the model in runs\/x takes 40×40 images of 10 classes$/,
  );
  checkDataFitsModel(
    applyOptions(blankDataset(20), { variant: "translated", canvas: 40 }),
    model,
    "x",
  );
});

Deno.test("default run folders name the variant", () => {
  assert.equal(defaultOut("mnist", "classification", 1), "runs/mnist-classification-s1");
  assert.equal(
    defaultOut("mnist", "entropy", 2, { variant: "cluttered" }),
    "runs/mnist-cluttered-60-4x8-entropy-s2",
  );
  assert.equal(
    defaultOut("idx:data/x", "classification", 1, { variant: "translated", canvas: 100 }),
    "runs/idx-data-x-translated-100-classification-s1",
  );
});

// Small and fast: a 40×40 cluttered canvas, 2 glimpses, 48 images, the CPU backend.
const TINY = [
  "--dataset",
  "mnist-10k",
  "--backend",
  "cpu",
  "--variant",
  "cluttered",
  "--canvas",
  "40",
  "--distractors",
  "3",
  "--glimpses",
  "2",
  "--limit",
  "48",
  "--batch",
  "16",
  "--epochs",
  "1",
  "--seed",
  "3",
];

Deno.test("cluttered train saves its data; eval reloads it, overrides it, and adds noise rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "glimpse_datasets_cli_" });
  try {
    const out = `${dir}/run`;
    const r = await glimpse([
      "train",
      ...TINY,
      "--patch",
      "10",
      "--scales",
      "2",
      "--out",
      out,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const trained = JSON.parse(r.stdout);
    assert.match(r.stderr, /data: mnist-10k\/cluttered-40-3x8, 48 training images/);
    const saved = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(saved.data, {
      variant: "cluttered",
      canvas: 40,
      distractors: 3,
      distractorSize: 8,
      fit: null,
    });
    assert.equal(saved.model.height, 40);
    assert.equal(saved.model.width, 40);
    assert.equal(saved.model.patch, 10, "--patch overrides the canvas's retina default");
    assert.equal(saved.model.scales, 2);
    assert.deepEqual((await loadCheckpoint(out)).meta.config, resolveRunConfig(saved));

    // eval without dataset flags scores the same generated test images train did
    const e = await glimpse([
      "eval",
      "--model",
      out,
      "--backend",
      "cpu",
      "--noise",
      "gaussian:0,0.5",
      "--json",
    ]);
    assert.equal(e.code, 0, e.stderr);
    const ev = JSON.parse(e.stdout);
    assert.equal(ev.dataset, "mnist-10k/cluttered-40-3x8");
    assert.equal(ev.test_error, trained.test_error);
    assert.equal(ev.noise.length, 2);
    assert.deepEqual(ev.noise.map((n: { label: string }) => n.label), [
      "gaussian σ=0",
      "gaussian σ=0.5",
    ]);
    assert.equal(ev.noise[0].test_error, ev.test_error, "σ = 0 leaves the images as they were");
    assert.deepEqual(ev.noise[0].accuracy_per_glimpse, ev.accuracy_per_glimpse);
    assert.equal(ev.noise[1].accuracy_per_glimpse.length, 2);
    assert.ok(ev.noise[1].test_error >= 0 && ev.noise[1].test_error <= 1);
    // the table: a header and one row per level, the clean images first
    const table = e.stderr.slice(e.stderr.indexOf("noise "));
    const rows = table.trimEnd().split("\n");
    assert.match(rows[0], /^noise\s+test error\s+acc g1\s+acc g2$/);
    assert.match(rows[1], /^none\s+\d+\.\d\d%/);
    assert.match(rows[2], /^gaussian σ=0\s/);
    assert.match(rows[3], /^gaussian σ=0\.5\s+\d+\.\d\d%\s+\d+\.\d\d%\s+\d+\.\d\d%$/);

    // another geometry of the same size is accepted (more distractors) and named
    const more = await glimpse([
      "eval",
      "--model",
      out,
      "--backend",
      "cpu",
      "--distractors",
      "6",
      "--json",
    ]);
    assert.equal(more.code, 0, more.stderr);
    assert.equal(JSON.parse(more.stdout).dataset, "mnist-10k/cluttered-40-6x8");

    // data that does not fit the model: one line naming both sizes
    assertUsageError(
      await glimpse(["eval", "--model", out, "--backend", "cpu", "--variant", "plain"]),
      /dataset mnist-10k has 28×28 images of 10 classes, but the model in .* takes 40×40 images/,
    );
    assertUsageError(
      await glimpse(["eval", "--model", out, "--backend", "cpu", "--noise", "blur:1"]),
      /--noise: unknown kind "blur"/,
    );
    // a resumed run keeps its data
    assertUsageError(
      await glimpse([
        "train",
        "--resume",
        "--out",
        out,
        "--backend",
        "cpu",
        "--epochs",
        "2",
        "--canvas",
        "60",
      ]),
      /--canvas 60: .* was trained with 40/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dataset flag errors are one line naming the flag", async () => {
  assertUsageError(
    await glimpse(["train", "--backend", "cpu", "--variant", "wobbly"]),
    /--variant "wobbly": expected plain or translated or cluttered/,
  );
  assertUsageError(
    await glimpse(["train", "--backend", "cpu", "--variant", "cluttered", "--canvas", "6o"]),
    /--canvas "6o": expected a positive integer/,
  );
  assertUsageError(
    await glimpse(["train", "--backend", "cpu", "--scales", "0"]),
    /--scales "0": expected a positive integer/,
  );
  assertUsageError(
    await glimpse(["train", "--backend", "cpu", "--canvas", "60"]),
    /--canvas needs --variant translated or cluttered/,
  );
});

Deno.test("fashion-mnist missing: train stops with one line naming the Debian package", async () => {
  const empty = await Deno.makeTempDir({ prefix: "glimpse_no_fashion_" });
  try {
    assertUsageError(
      await glimpse(
        ["train", "--backend", "cpu", "--dataset", "fashion-mnist", "--out", `${empty}/run`],
        { [FASHION_MNIST_DIR_ENV]: empty },
      ),
      /fashion-mnist: .*train-images-idx3-ubyte\.gz is missing; install Debian's package dataset-fashion-mnist/,
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("a 60 px canvas gets the 12×12×3 retina unless --patch or --scales says otherwise", async () => {
  const { prepareRun } = await import("../run/prepare_run.ts");
  const dir = await Deno.makeTempDir({ prefix: "glimpse_retina_" });
  try {
    const retina = async (name: string, extra: { patch?: number; scales?: number }) => {
      const run = await prepareRun({
        out: `${dir}/${name}`,
        data: { spec: "mnist-10k", options: { variant: "cluttered", canvas: 60 } },
        limit: 32,
        validation: 0,
        glimpses: 2,
        epochs: 0,
        vae: false,
        cls: false,
        backend: "cpu",
        ...extra,
      });
      try {
        return [run.config.model.patch, run.config.model.scales];
      } finally {
        await run.close();
      }
    };
    assert.deepEqual(await retina("defaults", {}), [12, 3]);
    assert.deepEqual(await retina("patch", { patch: 10 }), [10, 3]);
    assert.deepEqual(await retina("scales", { scales: 1 }), [12, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
