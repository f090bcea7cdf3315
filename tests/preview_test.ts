import assert from "node:assert/strict";
import { join } from "node:path";
import { decode as decodePng } from "fast-png";
import { preview } from "../commands/data.ts";
import { drawText, textWidth } from "../report/digit_font.ts";
import { encodeRasterPng } from "../report/png.ts";
import { sampleGrid } from "../report/sample_grid.ts";
import { byteSplit } from "../datasets/split.ts";
import { main } from "../cli.ts";

Deno.test("encodeRasterPng round-trips grey floats and RGB bytes", () => {
  const grey = Float32Array.from({ length: 12 }, (_, i) => i / 11);
  const g = decodePng(encodeRasterPng({ width: 4, height: 3, channels: 1, data: grey }));
  assert.deepEqual([g.width, g.height, g.channels], [4, 3, 1]);
  assert.deepEqual([...g.data], [...grey].map((v) => Math.round(v * 255)));
  const rgb = Uint8Array.from({ length: 18 }, (_, i) => i * 10);
  const c = decodePng(encodeRasterPng({ width: 3, height: 2, channels: 3, data: rgb }));
  assert.deepEqual([...c.data], [...rgb]);
  const clipped = decodePng(
    encodeRasterPng({ width: 3, height: 1, channels: 1, data: new Float32Array([-1, 2, NaN]) }),
  );
  assert.deepEqual([...clipped.data], [0, 255, 0]);
  assert.throws(
    () => encodeRasterPng({ width: 4, height: 4, channels: 1, data: new Float32Array(3) }),
    /PNG: 3 values do not make a 4×4×1 image/,
  );
});

Deno.test("the bitmap font draws each digit as its 3×5 pattern", () => {
  const w = 12, h = 5;
  const rgb = new Uint8Array(w * h * 3);
  drawText(rgb, w, h, 0, 0, "17", 1, [255, 0, 0]);
  const lit = (x: number, y: number) => rgb[3 * (y * w + x)] === 255 ? "#" : ".";
  const rows = Array.from(
    { length: h },
    (_, y) => Array.from({ length: 7 }, (_, x) => lit(x, y)).join(""),
  );
  assert.deepEqual(rows, [".#..###", "##....#", ".#....#", ".#....#", "###...#"]);
  assert.equal(textWidth("17", 2), 14);
  assert.throws(() => drawText(rgb, w, h, 0, 0, "a", 1, [0, 0, 0]), /no glyph for "a"/);
});

Deno.test("sampleGrid places each image and its label in its cell", () => {
  const n = 5;
  const pixels = new Uint8Array(n * 4 * 4);
  for (let i = 0; i < n; i++) pixels.fill(50 * i, i * 16, (i + 1) * 16);
  const split = byteSplit({
    count: n,
    height: 4,
    width: 4,
    pixels,
    labels: Int32Array.from([3, 1, 4, 1, 5]),
  });
  const grid = sampleGrid(split, [4, 0, 2], 4, 4, { cols: 2, scale: 3 });
  // cells of 4·3 + 2 pixels wide, labels of 2·5 + 4 rows under each image
  assert.equal(grid.width, 2 * 14 + 2);
  assert.equal(grid.height, 2 * (12 + 14 + 2) + 2);
  const at = (x: number, y: number) => grid.data[3 * (y * grid.width + x)];
  assert.equal(at(2, 2), 200, "first cell shows sample 4");
  assert.equal(at(2 + 14, 2), 0, "second cell shows sample 0");
  assert.equal(at(2, 2 + 28), 100, "third cell, second row, shows sample 2");
  let yellow = 0;
  for (let y = 14; y < 26; y++) for (let x = 0; x < 14; x++) if (at(x, y) === 255) yellow++;
  assert.ok(yellow >= 5 * 4, `label "5" drawn under the first image (${yellow} lit pixels)`);
});

Deno.test("data preview writes a grid PNG of cluttered samples", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "sub", "p.png");
    const summary = await preview({ dataset: "mnist-10k", variant: "cluttered", count: "4", out });
    assert.match(summary, /4 train samples of mnist-10k\/cluttered-60-4x8 \(60×60, epoch 0\)/);
    const png = decodePng(await Deno.readFile(out));
    // 2×2 cells of 60 + 2 wide and 60 + 14 + 2 tall
    assert.deepEqual([png.width, png.height, png.channels], [2 * 62 + 2, 2 * 76 + 2, 3]);
    const fashionLike = await preview({
      dataset: "mnist-10k",
      split: "test",
      noise: "salt-pepper:0.1",
      count: "2",
      out,
    });
    assert.match(fashionLike, /2 test samples of mnist-10k\+salt-pepper-0\.1/);
    await assert.rejects(
      () => preview({ dataset: "mnist-10k", noise: "gaussian:0.1,0.2", out }),
      /give one level to preview/,
    );
    await assert.rejects(
      () => preview({ dataset: "mnist-10k", count: "0", out }),
      /--count "0": expected a positive integer/,
    );
    await assert.rejects(
      () => preview({ dataset: "mnist-10k", split: "dev", out }),
      /--split "dev"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("glimpse data preview runs through the CLI and reports errors as a status", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "x.png");
    assert.equal(
      await main(["data", "preview", "--variant", "translated", "--count", "3", "--out", out]),
      0,
    );
    assert.ok(Deno.statSync(out).size > 100);
    assert.equal(await main(["data", "preview", "--dataset", "nope", "--out", out]), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
