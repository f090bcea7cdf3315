import assert from "node:assert/strict";
import { decodeGrey, readGreyImage } from "../datasets/image.ts";
import { fitDigit, fitToInput, strokeWidth } from "../datasets/fit.ts";
import { jpegOfPng, renderGlyph } from "../report/typeset.ts";

const DEJAVU = "/usr/share/fonts/truetype/dejavu";
const ROOT = new URL("..", import.meta.url);

/** The font, or null (and the test says it is skipped) when it is not installed. */
async function font(file: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(`${DEJAVU}/${file}`);
  } catch {
    console.log(`skipped: ${DEJAVU}/${file} is not installed (fonts-dejavu-core)`);
    return null;
  }
}

/**
 * Ink box (pixels > 0) and centre of mass of a 28×28 image. Sub-pixel centring spreads a
 * 20-pixel extent over parts of at most 21 pixels, so `side` ≤ 21 is MNIST's 20-pixel box.
 */
function geometry(x: Float32Array) {
  let m = 0, mx = 0, my = 0, x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (let y = 0; y < 28; y++) {
    for (let i = 0; i < 28; i++) {
      const v = x[y * 28 + i];
      if (v <= 0) continue;
      m += v;
      mx += v * (i + 0.5);
      my += v * (y + 0.5);
      [x0, x1, y0, y1] = [Math.min(x0, i), Math.max(x1, i), Math.min(y0, y), Math.max(y1, y)];
    }
  }
  return { side: Math.max(x1 - x0 + 1, y1 - y0 + 1), cx: mx / m, cy: my / m };
}

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

function fitPng(png: Uint8Array): Float32Array {
  const g = decodeGrey(png, "digit.png");
  return fitToInput(g.data, g.width, g.height, 28, 28);
}

Deno.test("examples/typeset: every digit fits MNIST's 20-px box centred by mass within 1 px", async () => {
  for (let d = 0; d <= 9; d++) {
    const file = new URL(`examples/typeset/${d}.png`, ROOT);
    const g = await readGreyImage(file.pathname);
    const x = fitToInput(g.data, g.width, g.height, 28, 28);
    const { side, cx, cy } = geometry(x);
    assert.ok(side <= 21 && side >= 19, `digit ${d}: ink box ${side} px`);
    assert.ok(Math.hypot(cx - 14, cy - 14) <= 1, `digit ${d}: mass at (${cx}, ${cy})`);
    assert.ok(Math.max(...x) > 0.9, `digit ${d}: full-strength ink`);
  }
});

Deno.test("fitting is invariant to scale: a glyph at 48 px and at 400 px fits alike", async () => {
  for (const file of ["DejaVuSans.ttf", "DejaVuSerif.ttf"]) {
    const bytes = await font(file);
    if (!bytes) continue;
    for (let d = 0; d <= 9; d++) {
      const small = fitPng(await renderGlyph(bytes, String(d), 48));
      const large = fitPng(await renderGlyph(bytes, String(d), 400));
      const e = mse(small, large);
      assert.ok(e < 0.01, `${file} digit ${d}: MSE ${e.toFixed(4)} between 48 and 400 px`);
    }
  }
});

Deno.test("JPEG noise on the paper is not ink: a JPEG fits like its PNG", async () => {
  const bytes = await font("DejaVuSans.ttf");
  if (!bytes) return;
  for (const d of [1, 4, 8]) {
    const png = await renderGlyph(bytes, String(d), 120);
    const fromPng = fitPng(png);
    const fromJpeg = fitToInput(
      ...(() => {
        const g = decodeGrey(jpegOfPng(png, 50), "digit.jpg");
        return [g.data, g.width, g.height] as const;
      })(),
      28,
      28,
    );
    const e = mse(fromPng, fromJpeg);
    assert.ok(e < 0.005, `digit ${d}: MSE ${e.toFixed(4)} between PNG and a quality-50 JPEG`);
    // nothing far from the glyph: the corners of the field stay black
    for (const p of [0, 27, 27 * 28, 28 * 28 - 1]) assert.equal(fromJpeg[p], 0);
  }
});

Deno.test("a digit touching the border fits like one with a margin, and is not inverted", async () => {
  const bytes = await font("DejaVuSans.ttf");
  if (!bytes) return;
  for (const d of [1, 7, 0]) {
    const g = decodeGrey(await renderGlyph(bytes, String(d), 200), "digit.png");
    // crop to the dark pixels exactly: ink on all four borders
    let x0 = g.width, x1 = -1, y0 = g.height, y1 = -1;
    for (let y = 0; y < g.height; y++) {
      for (let x = 0; x < g.width; x++) {
        if (g.data[y * g.width + x] < 0.5) {
          [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
        }
      }
    }
    const w = x1 - x0 + 1, h = y1 - y0 + 1, tight = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      tight.set(g.data.subarray((y0 + y) * g.width + x0, (y0 + y) * g.width + x1 + 1), y * w);
    }
    const fitted = fitDigit(tight, w, h, 28, 28);
    assert.equal(fitted.inverted, true, `digit ${d}: the paper is still the white`);
    const e = mse(fitted.image, fitToInput(g.data, g.width, g.height, 28, 28));
    assert.ok(e < 0.01, `digit ${d}: MSE ${e.toFixed(4)} between tight and margined`);
  }
});

Deno.test("thin strokes are thickened towards MNIST's width; normal ones are left alone", async () => {
  const light = await font("DejaVuSans-ExtraLight.ttf");
  const book = await font("DejaVuSans.ttf");
  if (!light || !book) return;
  const fit = (png: Uint8Array) => {
    const g = decodeGrey(png, "digit.png");
    return fitDigit(g.data, g.width, g.height, 28, 28);
  };
  const thin = fit(await renderGlyph(light, "7", 400));
  assert.ok(
    thin.strokePx < 1.5 && thin.thickenedPx > 0.5,
    JSON.stringify(thin, ["strokePx", "thickenedPx"]),
  );
  const after = strokeWidth(thin.image, 28, 28);
  assert.ok(after > 1.8, `thickened stroke ${after.toFixed(2)} px`);
  assert.ok(geometry(thin.image).side <= 21, `thickened ink box ${geometry(thin.image).side} px`);
  const normal = fit(await renderGlyph(book, "7", 400));
  assert.equal(normal.thickenedPx, 0);
  assert.ok(normal.strokePx > 2 && normal.strokePx < 3.5, `DejaVu Sans stroke ${normal.strokePx}`);
});

Deno.test("an image with no ink is one clear error, noisy or not", () => {
  assert.throws(
    () => fitToInput(new Float32Array(100).fill(1), 10, 10, 28, 28),
    /^Error: no ink found: the 10×10 image is blank/,
  );
  let seed = 7;
  const noise = Float32Array.from({ length: 64 * 64 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return 0.97 + 0.03 * (seed / 2 ** 31); // white paper with faint grain
  });
  assert.throws(() => fitToInput(noise, 64, 64, 28, 28), /no ink found/);
});
