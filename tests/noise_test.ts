import assert from "node:assert/strict";
import { noiseLabel, noisySplit, parseNoise, withNoise } from "../datasets/noise.ts";
import { byteSplit } from "../datasets/split.ts";
import { loadDataset } from "../datasets/load.ts";

Deno.test("parseNoise reads kinds and comma-separated levels", () => {
  assert.deepEqual(parseNoise("gaussian:0.1,0.2,0.4"), [
    { kind: "gaussian", level: 0.1 },
    { kind: "gaussian", level: 0.2 },
    { kind: "gaussian", level: 0.4 },
  ]);
  assert.deepEqual(parseNoise("salt-pepper:0.05; gaussian:0"), [
    { kind: "salt-pepper", level: 0.05 },
    { kind: "gaussian", level: 0 },
  ]);
  assert.equal(noiseLabel({ kind: "gaussian", level: 0.1 }), "gaussian σ=0.1");
  assert.throws(
    () => parseNoise("gauss:0.1"),
    /unknown kind "gauss": use one of gaussian, salt-pepper/,
  );
  assert.throws(() => parseNoise("gaussian"), /expected KIND:LEVEL/);
  assert.throws(() => parseNoise("gaussian:0.1,,0.2"), /level "" must be a number/);
  assert.throws(() => parseNoise("gaussian:-1"), /level "-1" must be a number ≥ 0/);
  assert.throws(() => parseNoise("salt-pepper:1.5"), /level "1.5" must be a number in \[0, 1\]/);
});

/** 4 mid-grey 28×28 images (value 128/255). */
function greySplit() {
  const pixels = new Uint8Array(4 * 784).fill(128);
  return byteSplit({ count: 4, height: 28, width: 28, pixels, labels: new Int32Array(4) });
}

Deno.test("gaussian noise has standard deviation σ and is deterministic per sample", () => {
  const base = greySplit();
  const split = noisySplit(base, { kind: "gaussian", level: 0.1 }, 3, 784);
  const x = new Float32Array(4 * 784), clean = new Float32Array(4 * 784), y = new Float32Array(784);
  split.fill([0, 1, 2, 3], 0, x, clean);
  let s = 0, s2 = 0;
  for (const v of x) {
    assert.ok(v >= 0 && v <= 1);
    s += v - 128 / 255;
    s2 += (v - 128 / 255) ** 2;
  }
  const mean = s / x.length, sd = Math.sqrt(s2 / x.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(sd - 0.1) < 0.005, `sd ${sd}`);
  assert.ok(clean.every((v) => v === Math.fround(128 / 255)), "the clean target stays clean");
  split.fill([2], 0, y);
  assert.deepEqual(y, x.subarray(2 * 784, 3 * 784), "sample 2 alone equals sample 2 in a batch");
  split.fill([2], 1, y);
  assert.notDeepEqual(y, x.subarray(2 * 784, 3 * 784), "another epoch draws other noise");
});

Deno.test("salt-pepper noise sets a fraction p of pixels to 0 or 1", () => {
  const split = noisySplit(greySplit(), { kind: "salt-pepper", level: 0.2 }, 1, 784);
  const x = new Float32Array(4 * 784);
  split.fill([0, 1, 2, 3], 0, x);
  const zeros = x.filter((v) => v === 0).length, ones = x.filter((v) => v === 1).length;
  const other = x.filter((v) => v === Math.fround(128 / 255)).length;
  assert.equal(zeros + ones + other, x.length);
  const p = (zeros + ones) / x.length;
  assert.ok(Math.abs(p - 0.2) < 0.03, `fraction ${p}`);
  assert.ok(Math.abs(zeros - ones) < 0.25 * (zeros + ones), `${zeros} zeros vs ${ones} ones`);
  const all = noisySplit(greySplit(), { kind: "salt-pepper", level: 1 }, 1, 784);
  all.fill([0], 0, x);
  assert.ok(x.subarray(0, 784).every((v) => v === 0 || v === 1), "p = 1 corrupts every pixel");
});

Deno.test("withNoise wraps a canvas dataset; level 0 is the clean dataset", async () => {
  const ds = await loadDataset("mnist-10k", { variant: "translated", canvas: 40, validation: 0.1 });
  const noisy = withNoise(ds, { kind: "gaussian", level: 0.3 }, 1);
  const none = withNoise(ds, { kind: "gaussian", level: 0 }, 1);
  assert.equal(noisy.name, "mnist-10k/translated-40+gaussian-0.3");
  assert.ok(noisy.validation);
  const a = new Float32Array(1600), b = new Float32Array(1600), c = new Float32Array(1600);
  ds.test.fill([9], 0, a);
  noisy.test.fill([9], 0, b);
  none.test.fill([9], 0, c);
  assert.deepEqual(c, a);
  assert.notDeepEqual(b, a);
  // noise covers the whole canvas, not only the first 28×28 values
  let changedTail = 0;
  for (let p = 1500; p < 1600; p++) if (b[p] !== a[p]) changedTail++;
  assert.ok(changedTail > 40, `${changedTail} of the last 100 pixels changed`);
});
