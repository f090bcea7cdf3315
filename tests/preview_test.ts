import assert from "node:assert/strict";
import { join } from "node:path";
import { decode as decodePng } from "fast-png";
import { preview } from "../commands/data.ts";
import { figurePng } from "../report/figure.ts";
import { encodeRasterPng } from "../report/png.ts";
import { SAMPLE_GAP, SAMPLE_LABEL_HEIGHT, sampleGrid } from "../report/sample_grid.ts";
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

/** Pixels darker than mid-grey in [x, x+w) × [y, y+h) of a decoded PNG. */
function darkPixels(png: ReturnType<typeof decodePng>, x: number, y: number, w: number, h: number) {
  let dark = 0;
  for (let py = y; py < y + h; py++) {
    for (let px = x; px < x + w; px++) {
      const i = (py * png.width + px) * png.channels;
      const luma = (Number(png.data[i]) + Number(png.data[i + 1]) + Number(png.data[i + 2])) / 3;
      if (luma < 128) dark++;
    }
  }
  return dark;
}

Deno.test("sampleGrid places each image in its cell and sets its label as text under it", async () => {
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
  const fig = sampleGrid(split, [4, 0, 2], 4, 4, { cols: 2, scale: 3 });
  const cellW = 12 + SAMPLE_GAP, cellH = 12 + SAMPLE_LABEL_HEIGHT + SAMPLE_GAP;
  assert.equal(fig.raster.width, 2 * cellW + SAMPLE_GAP);
  assert.equal(fig.raster.height, 2 * cellH + SAMPLE_GAP);
  const at = (x: number, y: number) => fig.raster.data[3 * (y * fig.raster.width + x)];
  const g = SAMPLE_GAP;
  assert.equal(at(g, g), 200, "first cell shows sample 4");
  assert.equal(at(g + 11, g + 11), 200, "…over its whole 12×12 tile");
  assert.equal(at(g + cellW, g), 0, "second cell shows sample 0");
  assert.equal(at(g, g + cellH), 100, "third cell, second row, shows sample 2");
  assert.equal(at(g + 12, g), 255, "paper between the cells");
  assert.deepEqual(fig.texts.map((t) => t.text), ["5", "3", "4"]);
  assert.deepEqual(fig.texts.map((t) => [t.x, t.anchor]), [
    [g + 6, "middle"],
    [g + cellW + 6, "middle"],
    [g + 6, "middle"],
  ]);
  // the labels as rendered: dark ink in each label band, none in the empty fourth cell's band
  const png = decodePng(await figurePng(fig));
  assert.deepEqual([png.width, png.height], [fig.raster.width, fig.raster.height]);
  const band = (col: number, row: number) =>
    darkPixels(png, g + col * cellW, g + row * cellH + 12, 12, SAMPLE_LABEL_HEIGHT);
  for (const [col, row] of [[0, 0], [1, 0], [0, 1]]) {
    assert.ok(band(col, row) >= 10, `label ink in cell (${col}, ${row}): ${band(col, row)}`);
  }
  assert.equal(band(1, 1), 0, "no label where there is no sample");
  const named = sampleGrid(split, [4], 4, 4, { scale: 3, labelText: (l) => `class ${l}` });
  assert.deepEqual(named.texts.map((t) => t.text), ["class 5"]);
  assert.throws(() => sampleGrid(split, [], 4, 4), /no samples to show/);
});

Deno.test("data preview writes a grid PNG of cluttered samples", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "sub", "p.png");
    const summary = await preview({ dataset: "mnist-10k", variant: "cluttered", count: "4", out });
    assert.match(summary, /4 train samples of mnist-10k\/cluttered-60-4x8 \(60×60, epoch 0\)/);
    const png = decodePng(await Deno.readFile(out));
    // 2×2 cells of 60 + gap wide and 60 + label + gap tall, around a gap
    const cellW = 60 + SAMPLE_GAP, cellH = 60 + SAMPLE_LABEL_HEIGHT + SAMPLE_GAP;
    assert.deepEqual(
      [png.width, png.height],
      [2 * cellW + SAMPLE_GAP, 2 * cellH + SAMPLE_GAP],
    );
    for (let j = 0; j < 4; j++) {
      const x = SAMPLE_GAP + (j % 2) * cellW, y = SAMPLE_GAP + Math.floor(j / 2) * cellH + 60;
      const ink = darkPixels(png, x, y, 60, SAMPLE_LABEL_HEIGHT);
      assert.ok(ink >= 10, `sample ${j} has a label under it (${ink} dark pixels)`);
    }
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
