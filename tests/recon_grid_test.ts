import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { RECON_GAP, reconGrid, reconGridLayout } from "../report/recon_grid.ts";
import { figurePng, figureSvg } from "../report/figure.ts";

const px = (img: { width: number; data: ArrayLike<number> }, x: number, y: number, ch = 3) =>
  Array.from({ length: ch }, (_, c) => img.data[ch * (y * img.width + x) + c]);

Deno.test("recon grid layout: input, then glimpses 1..T, tiles and gaps at fixed pixels", () => {
  const l = reconGridLayout(2, 6, false, 112);
  assert.equal(l.columns, 7);
  assert.equal(l.width, RECON_GAP + 7 * (112 + RECON_GAP));
  assert.equal(l.height, l.header + RECON_GAP + 2 * (112 + l.caption + RECON_GAP));
  assert.equal(l.tiles.length, 14);
  assert.deepEqual(l.tiles.slice(0, 3).map((t) => [t.kind, t.glimpse, t.x, t.y]), [
    ["input", 0, 8, l.header + 8],
    ["glimpse", 1, 128, l.header + 8],
    ["glimpse", 2, 248, l.header + 8],
  ]);
  const second = l.tiles[7];
  assert.deepEqual([second.row, second.col, second.x, second.y], [
    1,
    0,
    8,
    l.header + 8 + 112 + l.caption + 8,
  ]);
  const clean = reconGridLayout(1, 3, true, 56);
  assert.deepEqual(clean.tiles.map((t) => `${t.kind}${t.glimpse || ""}@${t.x}`), [
    "input@8",
    "clean@72",
    "glimpse1@136",
    "glimpse2@200",
    "glimpse3@264",
  ]);
  assert.throws(() => reconGridLayout(0, 6, false), /0 rows/);
});

Deno.test("recon grid draws every tile nearest-neighbour where the layout says, and the PNG agrees", async () => {
  const T = 3;
  // input 60×60 with one lit pixel at (row 30, col 45); reconstructions constant t/4
  const input = new Float32Array(60 * 60);
  input[30 * 60 + 45] = 1;
  const clean = new Float32Array(28 * 28).fill(0.5);
  const recon = new Float32Array(T * 784);
  for (let t = 0; t < T; t++) recon.fill((t + 1) / 4, t * 784, (t + 1) * 784);
  recon[2 * 784 + 3 * 28 + 5] = 1; // one lit pixel in glimpse 3's reconstruction
  const fig = reconGrid([{ input, clean, recon, captions: ["7 · 40%", "7 · 80%", "7 · 99%"] }], {
    inputHeight: 60,
    inputWidth: 60,
    glimpses: T,
    tile: 120,
  });
  const l = reconGridLayout(1, T, true, 120);
  assert.equal(fig.raster.width, l.width);
  assert.equal(fig.raster.height, l.height);
  const [inp, cln, g1, g2, g3] = l.tiles;
  // 60 → 120: every source pixel is a 2×2 block
  assert.deepEqual(px(fig.raster, inp.x + 90, inp.y + 60), [255, 255, 255]);
  assert.deepEqual(px(fig.raster, inp.x + 91, inp.y + 61), [255, 255, 255]);
  assert.deepEqual(px(fig.raster, inp.x + 92, inp.y + 60), [0, 0, 0]);
  assert.deepEqual(px(fig.raster, inp.x + 89, inp.y + 60), [0, 0, 0]);
  assert.deepEqual(px(fig.raster, cln.x + 60, cln.y + 60), [128, 128, 128]);
  assert.deepEqual(px(fig.raster, g1.x, g1.y), [64, 64, 64]);
  assert.deepEqual(px(fig.raster, g2.x + 119, g2.y + 119), [128, 128, 128]);
  assert.deepEqual(px(fig.raster, g3.x + 10, g3.y + 60), [191, 191, 191]);
  // 28 → 120: source column 5 covers tile columns ⌈5·120/28⌉ = 22 … 25, row 3 covers 13 … 17
  assert.deepEqual(px(fig.raster, g3.x + 22, g3.y + 13), [255, 255, 255]);
  assert.deepEqual(px(fig.raster, g3.x + 25, g3.y + 17), [255, 255, 255]);
  assert.deepEqual(px(fig.raster, g3.x + 21, g3.y + 13), [191, 191, 191]);
  assert.deepEqual(px(fig.raster, g3.x + 26, g3.y + 13), [191, 191, 191]);
  // gaps between tiles stay background
  assert.deepEqual(px(fig.raster, g1.x - 1, g1.y + 5), [255, 255, 255]);
  assert.deepEqual(px(fig.raster, g1.x + 120, g1.y + 5), [255, 255, 255]);
  // labels: column titles and captions
  const titles = fig.texts.map((t) => t.text);
  for (const s of ["input", "clean", "glimpse 1", "glimpse 3", "7 · 99%"]) {
    assert.ok(titles.includes(s), `missing label ${s}`);
  }
  assert.match(figureSvg(fig), /<text [^>]*>glimpse 2<\/text>/);
  // the rendered PNG keeps the tile pixels exactly (labels sit outside the tiles)
  const png = decodePng(await figurePng(fig));
  assert.equal(png.width, l.width);
  assert.equal(png.height, l.height);
  const pch = png.channels;
  for (
    const [x, y] of [
      [inp.x + 90, inp.y + 60],
      [inp.x + 92, inp.y + 60],
      [g1.x, g1.y],
      [
        g3.x + 22,
        g3.y + 13,
      ],
      [g3.x + 21, g3.y + 13],
      [cln.x + 60, cln.y + 60],
    ]
  ) {
    assert.deepEqual(px(png, x, y, pch).slice(0, 3), px(fig.raster, x, y), `pixel ${x},${y}`);
  }
  // and the caption band has dark text pixels under glimpse 3's tile
  let dark = 0;
  for (let y = g3.y + 120; y < g3.y + 120 + l.caption; y++) {
    for (let x = g3.x; x < g3.x + 120; x++) if (px(png, x, y, pch)[0] < 128) dark++;
  }
  assert.ok(dark > 20, `caption under glimpse 3 has ${dark} dark pixels`);
});

Deno.test("recon grid refuses inconsistent rows", () => {
  const o = { inputHeight: 28, inputWidth: 28, glimpses: 2 };
  const input = new Float32Array(784), recon = new Float32Array(2 * 784);
  assert.throws(() => reconGrid([], o), /no rows/);
  assert.throws(
    () => reconGrid([{ input, recon: new Float32Array(784) }], o),
    /784 reconstruction values, not T·28·28 = 1568/,
  );
  assert.throws(
    () => reconGrid([{ input: new Float32Array(10), recon }], o),
    /input has 10 values/,
  );
  assert.throws(
    () => reconGrid([{ input, recon, clean: new Float32Array(784) }, { input, recon }], o),
    /every row has a clean digit or none/,
  );
  assert.throws(() => reconGrid([{ input, recon, captions: ["a"] }], o), /1 captions for 2/);
});
