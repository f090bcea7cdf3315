import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  downloadMnist,
  type ExpectedFile,
  MNIST_IDX_FILES,
  OfflineError,
  sha256Hex,
} from "../datasets/download.ts";

const toFileUrl = (dir: string) => pathToFileURL(dir).href + "/";

Deno.test("sha256Hex matches the published digest of 'abc'", async () => {
  assert.equal(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("the official MNIST table lists four files with 64-hex SHA-256 sums", () => {
  assert.deepEqual(MNIST_IDX_FILES.map((f) => f.name), [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
  ]);
  for (const f of MNIST_IDX_FILES) assert.match(f.sha256, /^[0-9a-f]{64}$/);
});

/** A mirror folder with two small files and the table that describes them. */
async function mirror(): Promise<{ src: string; files: ExpectedFile[] }> {
  const src = await Deno.makeTempDir();
  const files: ExpectedFile[] = [];
  for (const [name, size] of [["a.gz", 100], ["b.gz", 7]] as const) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 13 + size) % 256);
    await Deno.writeFile(join(src, name), bytes);
    files.push({ name, bytes: size, sha256: await sha256Hex(bytes) });
  }
  return { src, files };
}

Deno.test("downloadMnist fetches, verifies and writes; a second run only verifies", async () => {
  const { src, files } = await mirror();
  const parent = await Deno.makeTempDir();
  const to = join(parent, "nested", "mnist");
  try {
    const lines: string[] = [];
    const first = await downloadMnist(to, {
      mirror: toFileUrl(src),
      files,
      log: (l) => lines.push(l),
    });
    assert.deepEqual(first, { downloaded: ["a.gz", "b.gz"], present: [] });
    assert.deepEqual(await Deno.readFile(join(to, "b.gz")), await Deno.readFile(join(src, "b.gz")));
    assert.match(lines[0], /a\.gz: downloaded from file:.*SHA-256 verified/);
    const second = await downloadMnist(to, { mirror: "http://127.0.0.1:9/", files });
    assert.deepEqual(second, { downloaded: [], present: ["a.gz", "b.gz"] });
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("downloadMnist refuses files whose size or hash differs, writing nothing", async () => {
  const { src, files } = await mirror();
  const to = await Deno.makeTempDir();
  try {
    const wrongHash = files.map((f) => ({
      ...f,
      sha256: f.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")),
    }));
    await assert.rejects(
      () => downloadMnist(to, { mirror: toFileUrl(src), files: wrongHash }),
      /a\.gz: SHA-256 [0-9a-f]{64} is not the official/,
    );
    const wrongSize = files.map((f) => ({ ...f, bytes: f.bytes + 1 }));
    await assert.rejects(
      () => downloadMnist(to, { mirror: toFileUrl(src), files: wrongSize }),
      /a\.gz: 100 bytes, the official file has 101/,
    );
    assert.deepEqual([...Deno.readDirSync(to)], [], "nothing written");
    // a damaged file already in the folder is reported, not silently replaced
    await Deno.writeFile(join(to, "a.gz"), new Uint8Array(100));
    await assert.rejects(
      () => downloadMnist(to, { mirror: toFileUrl(src), files }),
      new RegExp(`${join(to, "a.gz")}: SHA-256`),
    );
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(to, { recursive: true });
  }
});

Deno.test("offline: the error says where to put which files", async () => {
  const to = await Deno.makeTempDir();
  try {
    const err = await downloadMnist(to, { mirror: "http://127.0.0.1:9/mnist", timeoutMs: 5000 })
      .then(() => undefined, (e) => e);
    assert.ok(err instanceof OfflineError, String(err));
    assert.match(
      err.message,
      /^Cannot download http:\/\/127\.0\.0\.1:9\/mnist\/train-images-idx3-ubyte\.gz/,
    );
    assert.match(err.message, new RegExp(`Put the official MNIST files into ${to} by hand`));
    for (const f of MNIST_IDX_FILES) {
      assert.ok(err.message.includes(`${f.name}  ${f.bytes} bytes  sha256 ${f.sha256}`));
    }
    assert.match(err.message, new RegExp(`--dataset idx:${to}`));
  } finally {
    await Deno.remove(to, { recursive: true });
  }
});
