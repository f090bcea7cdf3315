import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import {
  glimpseColour,
  glimpseOverlay,
  glimpseRects,
  locationPixel,
} from "../report/glimpse_overlay.ts";
import { figurePng } from "../report/figure.ts";
import { retinaRef } from "../kernels/retina_ref.ts";

const px = (img: { width: number; data: ArrayLike<number> }, x: number, y: number, ch = 3) =>
  Array.from({ length: ch }, (_, c) => img.data[ch * (y * img.width + x) + c]).slice(0, 3);

Deno.test("glimpse rectangles are the retina's patches (k scales, same centre)", () => {
  const retina = { height: 60, width: 60, patch: 12, scales: 3, scale: 2 };
  const r = glimpseRects([0, 0, -1, 1], retina);
  assert.deepEqual(r.map((p) => [p.glimpse, p.patch, p.x, p.y, p.side]), [
    [1, 0, 24, 24, 12],
    [1, 1, 18, 18, 24],
    [1, 2, 6, 6, 48],
    [2, 0, -6, 54, 12],
    [2, 1, -12, 48, 24],
    [2, 2, -24, 36, 48],
  ]);
  assert.deepEqual(locationPixel(-1, 1, 60, 60), [0, 60]);
  // the rectangle is what the retina reads: an image lit exactly inside patch 0 of glimpse 1
  // gives an all-ones patch, and lit just outside it gives zeros
  const inside = new Float32Array(60 * 60), outside = new Float32Array(60 * 60).fill(1);
  for (let y = 24; y < 36; y++) {
    for (let x = 24; x < 36; x++) {
      inside[y * 60 + x] = 1;
      outside[y * 60 + x] = 0;
    }
  }
  const out = new Float32Array(3 * 144);
  retinaRef(retina, 1, inside, new Float32Array([0, 0]), out);
  assert.ok(out.subarray(0, 144).every((v) => v === 1));
  retinaRef(retina, 1, outside, new Float32Array([0, 0]), out);
  assert.ok(out.subarray(0, 144).every((v) => v === 0));
  assert.throws(() => glimpseRects([0, 0, 1], retina), /not \(T, 2\) pairs/);
  assert.throws(() => glimpseRects([NaN, 0], retina), /glimpse 1 is \(NaN, 0\)/);
});

Deno.test("overlay draws each patch outline at its enlarged pixels in the glimpse's colour", async () => {
  const retina = { height: 28, width: 28, patch: 8, scales: 1, scale: 2 };
  const image = new Float32Array(28 * 28).fill(0.5);
  // glimpse 1 at the centre: patch (10, 10) side 8; glimpse 2 at the top-left corner: (−4, −4)
  const { figure, layout } = glimpseOverlay(image, [0, 0, -1, -1], retina, { caption: "test" });
  assert.equal(layout.zoom, 12);
  assert.equal(layout.margin, 4);
  assert.deepEqual([layout.imageX, layout.imageY], [48, 48]);
  assert.equal(figure.raster.width, 36 * 12);
  assert.ok(figure.raster.height > 36 * 12, "caption band below the image");
  const c1 = [...glimpseColour(1)], c2 = [...glimpseColour(2)];
  const grey = [128, 128, 128];
  const r1 = layout.rects[0];
  assert.deepEqual([r1.fx, r1.fy, r1.fside], [48 + 120, 48 + 120, 96]);
  // left edge: columns 168 and 169 coloured, 170 is image, 167 is image
  for (const [x, want] of [[167, grey], [168, c1], [169, c1], [170, grey]] as const) {
    assert.deepEqual(px(figure.raster, x, 200), want, `column ${x}`);
  }
  // right edge ends at column 168 + 96 − 1
  assert.deepEqual(px(figure.raster, 263, 200), c1);
  assert.deepEqual(px(figure.raster, 264, 200), grey);
  // bottom edge row 263
  assert.deepEqual(px(figure.raster, 200, 263), c1);
  assert.deepEqual(px(figure.raster, 200, 264), grey);
  // glimpse 2 reaches into the margin: its left edge is at figure column 48 − 48 = 0
  const r2 = layout.rects[1];
  assert.deepEqual([r2.fx, r2.fy], [0, 0]);
  assert.deepEqual(px(figure.raster, 0, 60), c2);
  assert.deepEqual(px(figure.raster, 95, 60), c2);
  assert.deepEqual(px(figure.raster, 2, 60), [72, 72, 84], "margin colour inside the patch");
  // numbers 1 and 2 at the glimpse centres
  const labels = figure.texts.map((t) => [t.text, t.x, t.y - 5]);
  assert.deepEqual(labels.slice(0, 2), [["1", 48 + 14 * 12, 48 + 14 * 12], ["2", 48, 48]]);
  // the PNG keeps the outline pixels away from the labels
  const png = decodePng(await figurePng(figure));
  assert.deepEqual([png.width, png.height], [figure.raster.width, figure.raster.height]);
  for (const [x, y] of [[168, 200], [170, 200], [263, 200], [264, 200], [0, 60], [2, 60]]) {
    assert.deepEqual(px(png, x, y, png.channels), px(figure.raster, x, y), `pixel ${x},${y}`);
  }
});

Deno.test("glimpses at the same spot share one number label", () => {
  const retina = { height: 28, width: 28, patch: 8, scales: 1, scale: 2 };
  const { figure } = glimpseOverlay(
    new Float32Array(784),
    [0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.51],
    retina,
  );
  assert.deepEqual(figure.texts.map((t) => t.text), ["1", "2,3,4"]);
  assert.throws(
    () => glimpseOverlay(new Float32Array(10), [0, 0], retina),
    /image has 10 values, not 28×28/,
  );
});

Deno.test("labels of nearby glimpses are moved apart instead of overprinting", () => {
  const retina = { height: 28, width: 28, patch: 8, scales: 1, scale: 2 };
  // two spots 2 pixels apart (24 figure pixels at zoom 12): separate groups whose labels collide
  const locations = [0, 0, 0.15, 0, 0, 0, 0.15, 0, 0, 0];
  const { figure } = glimpseOverlay(new Float32Array(784), locations, retina);
  const [a, b] = figure.texts;
  assert.deepEqual([a.text, b.text], ["1,3,5", "2,4"]);
  // unmoved they would be 24 pixels apart, closer than their half widths (36 + 26) / 2
  const overlapX = Math.abs(a.x - b.x) < (36 + 26) / 2;
  const overlapY = Math.abs(a.y - b.y) < 18;
  assert.ok(!(overlapX && overlapY), `labels at (${a.x}, ${a.y}) and (${b.x}, ${b.y}) overlap`);
});
