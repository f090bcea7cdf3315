import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx, idxDataset, parseIdx, readIdxFile, readIdxPair } from "../datasets/idx.ts";
import { FASHION_MNIST_DIR, fashionMnist } from "../datasets/fashion.ts";
import { loadDataset } from "../datasets/load.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** n images of h×w where pixel p of image i is (i·7 + p) mod 256, labels i mod 10. */
function images(n: number, h: number, w: number) {
  const px = new Uint8Array(n * h * w).map((_, k) =>
    (Math.floor(k / (h * w)) * 7 + k % (h * w)) % 256
  );
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { px, labels };
}

/** Writes an MNIST-style idx folder (gzipped or not) with `train` and `test` images. */
async function writeIdxFolder(dir: string, train: number, test: number, gz: boolean) {
  for (const [prefix, n] of [["train", train], ["t10k", test]] as const) {
    const { px, labels } = images(n, 28, 28);
    let img = encodeIdx([n, 28, 28], px), lab = encodeIdx([n], labels);
    if (gz) [img, lab] = [await gzip(img), await gzip(lab)];
    const ext = gz ? ".gz" : "";
    await Deno.writeFile(join(dir, `${prefix}-images-idx3-ubyte${ext}`), img);
    await Deno.writeFile(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), lab);
  }
}

Deno.test("idx folders load gzipped or not, with the data and labels written", async () => {
  for (const gz of [false, true]) {
    const dir = await Deno.makeTempDir();
    try {
      await writeIdxFolder(dir, 13, 5, gz);
      const ds = await loadDataset(`idx:${dir}`);
      assert.equal(ds.name, `idx:${dir}`);
      assert.equal(ds.train.size, 13);
      assert.equal(ds.test.size, 5);
      assert.deepEqual([...ds.train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
      const x = new Float32Array(784);
      ds.train.fill([12], 0, x);
      const want = images(13, 28, 28).px.subarray(12 * 784, 13 * 784);
      assert.deepEqual(x, Float32Array.from(want, (b) => b / 255));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("idx parsing checks magic, type, dimensions and size", () => {
  const good = encodeIdx([2, 3, 4], new Uint8Array(24).fill(9));
  assert.deepEqual(parseIdx(good, "g").dims, [2, 3, 4]);
  assert.equal(parseIdx(good, "g").data.length, 24);
  const wrongMagic = good.slice();
  wrongMagic[0] = 0x1f;
  assert.throws(
    () => parseIdx(wrongMagic, "a.idx"),
    /a\.idx: not an idx file \(magic 0x1f000803\)/,
  );
  const float = good.slice();
  float[2] = 0x0d;
  assert.throws(() => parseIdx(float, "b.idx"), /b\.idx: idx data type 0xd is not unsigned bytes/);
  assert.throws(
    () => parseIdx(good.subarray(0, 30), "c.idx"),
    /c\.idx: truncated idx data: 14 of 24/,
  );
  assert.throws(() => parseIdx(good.subarray(0, 9), "d.idx"), /d\.idx: truncated idx header/);
  assert.throws(() => parseIdx(good.subarray(0, 2), "e.idx"), /e\.idx: truncated idx file/);
  const long = new Uint8Array(good.length + 3);
  long.set(good);
  assert.throws(() => parseIdx(long, "f.idx"), /f\.idx: 3 bytes after the 2×3×4 data/);
});

Deno.test("idx files that are truncated, mismatched or mis-shaped give errors naming them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { px, labels } = images(4, 28, 28);
    const img = join(dir, "img"), lab = join(dir, "lab");
    // truncated gzip stream
    const gz = await gzip(encodeIdx([4, 28, 28], px));
    await Deno.writeFile(img, gz.subarray(0, gz.length - 40));
    await assert.rejects(() => readIdxFile(img), new RegExp(`${img}: damaged or truncated gzip`));
    // truncated raw file
    await Deno.writeFile(img, encodeIdx([4, 28, 28], px).subarray(0, 1000));
    await assert.rejects(() => readIdxFile(img), /truncated idx data: 984 of 3136 bytes/);
    // counts disagree
    await Deno.writeFile(img, encodeIdx([4, 28, 28], px));
    await Deno.writeFile(lab, encodeIdx([3], labels.subarray(0, 3)));
    await assert.rejects(() => readIdxPair(img, lab), /3 labels but .*img holds 4 images/);
    // labels given as images and vice versa
    await Deno.writeFile(lab, encodeIdx([4], labels));
    await assert.rejects(
      () => readIdxPair(lab, img),
      new RegExp(`${lab}: not an idx file \\(magic 0x00000801; images need 0x00000803\\)`),
    );
    await assert.rejects(
      () => readIdxPair(img, lab, 2),
      new RegExp(`${lab}: label \\d \\(label \\d\\) is outside 0\\.\\.1`),
    );
    assert.equal((await readIdxPair(img, lab)).count, 4);
    // a folder without the files
    await assert.rejects(() => idxDataset(dir), /has no train-images-idx3-ubyte \(looked for/);
    await assert.rejects(() => readIdxFile(join(dir, "nope")), /Cannot read idx file .*nope/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fashion-mnist missing: the error names the Debian package", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => fashionMnist(dir),
      /fashion-mnist: .*train-images-idx3-ubyte\.gz is missing; install Debian's package dataset-fashion-mnist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

let haveFashion = false;
try {
  haveFashion = Deno.statSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")).isFile;
} catch {
  // not installed
}
Deno.test({
  name: haveFashion
    ? "fashion-mnist loads the official 60,000/10,000 images"
    : "fashion-mnist loads (skipped: dataset-fashion-mnist is not installed)",
  ignore: !haveFashion,
  fn: async () => {
    const ds = await loadDataset("fashion-mnist");
    assert.equal(ds.train.size, 60000);
    assert.equal(ds.test.size, 10000);
    assert.equal(ds.classNames[9], "Ankle boot");
    const counts = new Array(10).fill(0);
    for (const l of ds.test.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000));
  },
});
