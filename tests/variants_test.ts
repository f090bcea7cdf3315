import assert from "node:assert/strict";
import { applyOptions, loadDataset, variantSuffix } from "../datasets/load.ts";
import { datasetOptionsFromFlags } from "../commands/dataset_flags.ts";
import { type ByteImages, byteSplit } from "../datasets/split.ts";
import type { Dataset } from "../datasets/types.ts";
import { layoutOf, type VariantSplit, variantSplit } from "../datasets/variants.ts";

/** n ≤ 50 flat images of 28×28: image i is all (i+1)·5 (bytes), label i % 10. */
function flatImages(n: number): ByteImages {
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) pixels.fill((i + 1) * 5, i * 784, (i + 1) * 784);
  return {
    count: n,
    height: 28,
    width: 28,
    pixels,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
  };
}

function flatDataset(n: number): Dataset {
  const set = flatImages(n);
  return {
    name: "flat",
    height: 28,
    width: 28,
    classes: 10,
    classNames: [..."0123456789"],
    train: byteSplit(set),
    test: byteSplit(set),
  };
}

Deno.test("translated: the whole digit lies inside the canvas, at the layout's position", async () => {
  const ds = await loadDataset("mnist-10k", { variant: "translated", canvas: 60, seed: 3 });
  assert.equal(ds.name, "mnist-10k/translated-60");
  assert.equal(ds.height, 60);
  const split = ds.train as VariantSplit;
  const n = 64;
  const x = new Float32Array(n * 3600), clean = new Float32Array(n * 784);
  const idx = Array.from({ length: n }, (_, j) => j * 97);
  split.fill(idx, 2, x, clean);
  const xs = new Set<number>();
  for (let j = 0; j < n; j++) {
    const lay = split.layout(idx[j], 2);
    assert.ok(
      lay.x >= 0 && lay.y >= 0 && lay.x + 28 <= 60 && lay.y + 28 <= 60,
      `${lay.x},${lay.y}`,
    );
    assert.equal(lay.distractors.length, 0);
    xs.add(lay.x);
    // every ink pixel of the clean digit is on the canvas at (x, y); nothing else is
    let canvasInk = 0, digitInk = 0;
    for (let p = 0; p < 3600; p++) canvasInk += x[j * 3600 + p];
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const v = clean[j * 784 + r * 28 + c];
        digitInk += v;
        assert.equal(x[j * 3600 + (lay.y + r) * 60 + lay.x + c], v);
      }
    }
    assert.ok(digitInk > 10);
    assert.ok(
      Math.abs(canvasInk - digitInk) < 1e-3,
      `canvas ink ${canvasInk} vs digit ${digitInk}`,
    );
  }
  assert.ok(xs.size > 15, `only ${xs.size} distinct columns in ${n} samples`);
});

Deno.test("translated extremes: positions reach both edges of the canvas", () => {
  const geom = { canvas: 30, distractors: 0, distractorSize: 8, seed: 1 };
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(layoutOf(geom, 0, 10, 28, 28, 0, i).x);
  assert.deepEqual([...seen].sort(), [0, 1, 2]);
  const exact = variantSplit(byteSplit(flatImages(3)), 28, 28, { ...geom, canvas: 28 }, 0);
  const x = new Float32Array(784);
  exact.fill([1], 0, x);
  assert.ok(x.every((v) => Math.abs(v - 10 / 255) < 1e-7), "canvas = image size: the image itself");
});

Deno.test("cluttered: K distractors of S×S from other samples, composited by max", () => {
  const ds = applyOptions(flatDataset(50), { variant: "cluttered", canvas: 60, seed: 5 });
  assert.equal(ds.name, "flat/cluttered-60-4x8");
  const split = ds.train as VariantSplit;
  const x = new Float32Array(3600), clean = new Float32Array(784);
  for (const index of [0, 7, 49]) {
    split.fill([index], 1, x, clean);
    const lay = split.layout(index, 1);
    assert.equal(lay.distractors.length, 4);
    const want = new Float32Array(3600);
    for (const d of lay.distractors) {
      assert.equal(d.size, 8);
      assert.notEqual(d.source, index);
      assert.ok(d.x >= 0 && d.y >= 0 && d.x + 8 <= 60 && d.y + 8 <= 60);
      assert.ok(d.cropX >= 0 && d.cropY >= 0 && d.cropX + 8 <= 28 && d.cropY + 8 <= 28);
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          const o = (d.y + r) * 60 + d.x + c;
          want[o] = Math.max(want[o], (d.source + 1) * 5 / 255);
        }
      }
    }
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const o = (lay.y + r) * 60 + lay.x + c;
        want[o] = Math.max(want[o], (index + 1) * 5 / 255);
      }
    }
    assert.deepEqual(x, want);
    assert.ok(clean.every((v) => v === Math.fround((index + 1) * 5 / 255)), "clean is the digit");
    // the distractors are visible: more ink than the digit alone
    const ink = x.reduce((s, v) => s + (v > 0 ? 1 : 0), 0);
    assert.ok(ink > 784, `ink pixels ${ink}`);
  }
});

Deno.test("cluttered defaults follow the paper: 4 at 60×60, 8 at 100×100, both 8×8", async () => {
  const a = applyOptions(flatDataset(20), { variant: "cluttered" });
  const b = applyOptions(flatDataset(20), { variant: "cluttered", canvas: 100 });
  assert.deepEqual(a.geometry, { canvas: 60, distractors: 4, distractorSize: 8, seed: 1 });
  assert.deepEqual(b.geometry, { canvas: 100, distractors: 8, distractorSize: 8, seed: 1 });
  assert.equal((b.test as VariantSplit).layout(3, 0).distractors.length, 8);
  const c = applyOptions(flatDataset(20), {
    variant: "cluttered",
    canvas: 80,
    distractors: 6,
    distractorSize: 12,
  });
  const lay = (c.train as VariantSplit).layout(0, 0);
  assert.equal(lay.distractors.length, 6);
  assert.ok(lay.distractors.every((d) => d.size === 12));
  const mn = await loadDataset("mnist-10k", { variant: "cluttered", canvas: 100 });
  assert.equal(mn.name, "mnist-10k/cluttered-100-8x8");
  assert.equal(mn.width, 100);
});

Deno.test("variants are deterministic in (seed, epoch, index) and vary with each", async () => {
  const opts = { variant: "cluttered" as const, canvas: 60, seed: 11 };
  const a = await loadDataset("mnist-10k", opts);
  const b = await loadDataset("mnist-10k", opts);
  const c = await loadDataset("mnist-10k", { ...opts, seed: 12 });
  const get = (ds: Dataset, epoch: number, idx: number[], test = false) => {
    const x = new Float32Array(idx.length * 3600);
    (test ? ds.test : ds.train).fill(idx, epoch, x);
    return x;
  };
  assert.deepEqual(get(a, 0, [5, 6, 7]), get(b, 0, [5, 6, 7]));
  // order and batching do not matter: sample 6 is the same alone or in a batch
  assert.deepEqual(get(a, 0, [6]), get(a, 0, [5, 6, 7]).subarray(3600, 7200));
  assert.notDeepEqual(get(a, 0, [5]), get(a, 1, [5]), "a new epoch moves the digit");
  assert.notDeepEqual(get(a, 0, [5]), get(c, 0, [5]), "another seed moves the digit");
  assert.notDeepEqual(
    (a.train as VariantSplit).layout(5, 0),
    (a.test as VariantSplit).layout(5, 0),
    "train and test draw from separate streams",
  );
});

Deno.test("variant options are checked with errors naming the flag", () => {
  const ds = flatDataset(5);
  assert.throws(() => applyOptions(ds, { canvas: 60 }), /--canvas needs --variant translated/);
  assert.throws(
    () => applyOptions(ds, { variant: "translated", distractors: 3 }),
    /--distractors needs --variant cluttered/,
  );
  assert.throws(() => applyOptions(ds, { variant: "translated", canvas: 20 }), /--canvas must be/);
  assert.throws(
    () => applyOptions(ds, { variant: "cluttered", distractorSize: 29 }),
    /--distractor-size must be an integer in 1\.\.28/,
  );
  assert.throws(
    () => applyOptions(ds, { variant: "wobbly" as "plain" }),
    /Unknown --variant "wobbly": use one of plain, translated, cluttered/,
  );
  assert.deepEqual(datasetOptionsFromFlags({ variant: "cluttered", canvas: "100" }), {
    variant: "cluttered",
    canvas: 100,
    distractors: undefined,
    distractorSize: undefined,
    fit: undefined,
  });
  assert.throws(
    () => datasetOptionsFromFlags({ canvas: "6o" }),
    /--canvas "6o": expected a positive integer/,
  );
  assert.throws(
    () => datasetOptionsFromFlags({ distractorSize: "2.5" }),
    /--distractor-size "2.5": expected a positive integer/,
  );
  assert.throws(
    () => datasetOptionsFromFlags({ variant: "wobbly" }),
    /--variant "wobbly": expected plain or translated or cluttered/,
  );
  // the names loadDataset gives are the suffixes variantSuffix predicts
  assert.equal(variantSuffix({}), "");
  assert.equal(variantSuffix({ variant: "translated" }), "translated-60");
  assert.equal(variantSuffix({ variant: "cluttered", canvas: 100 }), "cluttered-100-8x8");
  const named = applyOptions(ds, { variant: "cluttered", canvas: 40, distractors: 2 });
  assert.equal(
    named.name,
    `${ds.name}/${variantSuffix({ variant: "cluttered", canvas: 40, distractors: 2 })}`,
  );
});

Deno.test("validation slice of a cluttered dataset draws distractors from itself only", () => {
  const ds = applyOptions(flatDataset(40), { variant: "cluttered", validation: 0.25, seed: 2 });
  const v = ds.validation as VariantSplit;
  assert.equal(v.size, 10);
  assert.equal(ds.train.size, 30);
  for (let i = 0; i < v.size; i++) {
    for (const d of v.layout(i, 0).distractors) assert.ok(d.source < v.size);
  }
});
