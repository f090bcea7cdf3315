import assert from "node:assert/strict";
import { join } from "node:path";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { loadDataset } from "../datasets/load.ts";

/** A w×h RGB image of white paper with a dark bar whose width encodes `k`. */
function barImage(w: number, h: number, k: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3).fill(240);
  for (let y = Math.floor(h / 5); y < Math.floor((4 * h) / 5); y++) {
    for (let x = 3; x < 3 + 2 * (k + 1); x++) rgb.fill(20, 3 * (y * w + x), 3 * (y * w + x) + 3);
  }
  return rgb;
}

async function writeImage(path: string, w: number, h: number, k: number) {
  const rgb = barImage(w, h, k);
  if (path.endsWith(".png")) {
    await Deno.writeFile(path, encodePng({ width: w, height: h, data: rgb, channels: 3 }));
  } else {
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([...rgb.subarray(3 * p, 3 * p + 3), 255], 4 * p);
    await Deno.writeFile(
      path,
      new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 90).data),
    );
  }
}

Deno.test("image folder: one subfolder per class, split 80/20 in name order, fitted to 28×28", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const classes = ["cat", "dog", "emu"];
    for (const [c, name] of classes.entries()) {
      await Deno.mkdir(join(dir, name));
      for (let i = 0; i < 5; i++) {
        const ext = i % 2 ? "jpg" : "png";
        await writeImage(join(dir, name, `img${i + 8}.${ext}`), 30 + 7 * i, 40, c);
      }
      await Deno.writeTextFile(join(dir, name, "notes.txt"), "not an image");
    }
    await Deno.writeTextFile(join(dir, "README"), "top-level files are ignored");
    const ds = await loadDataset(`folder:${dir}`);
    assert.equal(ds.name, `folder:${dir}`);
    assert.deepEqual(ds.classNames, classes);
    assert.equal(ds.height, 28);
    assert.equal(ds.train.size, 12);
    assert.equal(ds.test.size, 3);
    assert.deepEqual([...ds.train.labels], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.deepEqual([...ds.test.labels], [0, 1, 2]);
    const x = new Float32Array(12 * 784);
    ds.train.fill(Array.from({ length: 12 }, (_, i) => i), 0, x);
    for (let j = 0; j < 12; j++) {
      const img = x.subarray(j * 784, (j + 1) * 784);
      // MNIST style: black background, the bar as bright ink, 20 rows tall
      assert.equal(img[0], 0);
      assert.ok(Math.max(...img) > 0.95);
      const rows = new Set<number>();
      img.forEach((v, p) => v > 0.3 && rows.add(Math.floor(p / 28)));
      assert.ok(rows.size >= 19 && rows.size <= 20, `image ${j}: ink on ${rows.size} rows`);
    }
    const stretched = await loadDataset(`folder:${dir}`, { fit: "stretch" });
    stretched.train.fill([0], 0, x);
    assert.ok(x[0] > 0.9, "stretch keeps the white paper");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image folder with train/ and test/ subfolders; natural class order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [split, n] of [["train", 2], ["test", 1]] as const) {
      for (const name of ["2", "10", "9"]) {
        await Deno.mkdir(join(dir, split, name), { recursive: true });
        for (let i = 0; i < n; i++) await writeImage(join(dir, split, name, `${i}.png`), 20, 20, 1);
      }
    }
    const ds = await loadDataset(`folder:${dir}`, { variant: "translated", canvas: 40 });
    assert.deepEqual(ds.classNames, ["2", "9", "10"]);
    assert.equal(ds.train.size, 6);
    assert.equal(ds.test.size, 3);
    assert.equal(ds.width, 40);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image folder errors name the folder or file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => loadDataset(`folder:${dir}`),
      /needs one subfolder per class \(at least 2\), found 0/,
    );
    await Deno.mkdir(join(dir, "a"));
    await Deno.mkdir(join(dir, "b"));
    await writeImage(join(dir, "a", "x.png"), 10, 10, 0);
    await assert.rejects(
      () => loadDataset(`folder:${dir}`),
      new RegExp(`${join(dir, "b")} holds no PNG or JPEG`),
    );
    await Deno.writeFile(join(dir, "b", "broken.png"), new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
    await assert.rejects(() => loadDataset(`folder:${dir}`), /broken\.png: not a PNG or JPEG file/);
    await assert.rejects(
      () => loadDataset("folder:/nonexistent/x"),
      /Cannot read image folder \/nonexistent\/x/,
    );
    await assert.rejects(() => loadDataset("folder:"), /--dataset folder: needs a folder/);
    await assert.rejects(
      () => loadDataset("mnist-10k", { fit: "stretch" }),
      /--fit applies to --dataset folder:DIR only/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
