import assert from "node:assert/strict";
import { encode as encodePng, type ImageData } from "fast-png";
import jpeg from "jpeg-js";
import { decodeGrey, readGreyImage, readImageHeader } from "../datasets/image.ts";
import { fitToInput } from "../datasets/fit.ts";
import { assertClose } from "./_assert.ts";

const W = 5, H = 3; // a width that is not a multiple of 8 pixels exercises the row padding
const lum = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/** Packs one sample per pixel into rows of `depth` bits, padded to whole bytes. */
function pack(samples: number[], depth: number): Uint8Array {
  const rowBytes = Math.ceil((W * depth) / 8);
  const out = new Uint8Array(rowBytes * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const bit = x * depth;
      out[y * rowBytes + (bit >> 3)] |= samples[y * W + x] << (8 - depth - (bit & 7));
    }
  }
  return out;
}

function png(img: Omit<ImageData, "width" | "height">, interlace = false): Uint8Array {
  return encodePng({ width: W, height: H, ...img }, interlace ? { interlace: "Adam7" } : {});
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** Inserts a tRNS chunk (colour-key transparency) after IHDR: fast-png only writes it for palettes. */
function withColourKey(file: Uint8Array, key: number[]): Uint8Array {
  const body = new Uint8Array(4 + 2 * key.length);
  body.set([0x74, 0x52, 0x4e, 0x53]); // "tRNS"
  key.forEach((k, i) => new DataView(body.buffer).setUint16(4 + 2 * i, k));
  const chunk = new Uint8Array(8 + body.length);
  new DataView(chunk.buffer).setUint32(0, body.length - 4);
  chunk.set(body, 4);
  new DataView(chunk.buffer).setUint32(4 + body.length, crc32(body));
  const at = 8 + 25; // signature + IHDR (length, type, 13 bytes, crc)
  const out = new Uint8Array(file.length + chunk.length);
  out.set(file.subarray(0, at));
  out.set(chunk, at);
  out.set(file.subarray(at), at + chunk.length);
  return out;
}

Deno.test("PNG grey at every bit depth decodes to value / max", () => {
  for (const depth of [1, 2, 4, 8, 16] as const) {
    const max = (1 << depth) - 1;
    const samples = Array.from({ length: W * H }, (_, p) => (p * 7919) % (max + 1));
    const data = depth === 16
      ? Uint16Array.from(samples)
      : depth === 8
      ? Uint8Array.from(samples)
      : pack(samples, depth);
    for (const interlace of depth >= 8 ? [false, true] : [false]) {
      const img = decodeGrey(png({ data, depth, channels: 1 }, interlace), `g${depth}.png`);
      assert.equal(img.width, W);
      assert.equal(img.height, H);
      assertClose(img.data, samples.map((s) => s / max), { label: `grey ${depth}-bit` });
    }
  }
});

Deno.test("interlaced PNGs of 1/2/4 bits are refused (fast-png would decode them wrongly)", () => {
  for (const depth of [1, 2, 4] as const) {
    const file = png({ data: pack(new Array(W * H).fill(1), depth), depth, channels: 1 }, true);
    assert.throws(
      () => decodeGrey(file, "i.png"),
      new RegExp(`i\\.png: interlaced \\(Adam7\\) PNG of ${depth}-bit depth is not supported`),
    );
  }
});

Deno.test("PNG grey+alpha, RGB and RGBA (8 and 16 bits) give luminance over white", () => {
  for (const depth of [8, 16] as const) {
    const max = depth === 8 ? 255 : 65535;
    const Arr = depth === 8 ? Uint8Array : Uint16Array;
    const n = W * H;
    const v = Array.from({ length: 4 * n }, (_, k) => Math.round(((k * 37) % 101) / 100 * max));
    const ga = Arr.from(v.slice(0, 2 * n));
    const wantGa = Array.from({ length: n }, (_, p) => {
      const a = ga[2 * p + 1] / max;
      return a * ga[2 * p] / max + 1 - a;
    });
    assertClose(decodeGrey(png({ data: ga, depth, channels: 2 }), "ga.png").data, wantGa, {
      label: `grey+alpha ${depth}`,
    });
    const rgb = Arr.from(v.slice(0, 3 * n));
    const wantRgb = Array.from(
      { length: n },
      (_, p) => lum(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) / max,
    );
    assertClose(decodeGrey(png({ data: rgb, depth, channels: 3 }), "rgb.png").data, wantRgb, {
      label: `rgb ${depth}`,
    });
    const rgba = Arr.from(v);
    const wantRgba = Array.from({ length: n }, (_, p) => {
      const a = rgba[4 * p + 3] / max;
      return a * lum(rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]) / max + 1 - a;
    });
    assertClose(decodeGrey(png({ data: rgba, depth, channels: 4 }), "rgba.png").data, wantRgba, {
      label: `rgba ${depth}`,
    });
  }
});

Deno.test("PNG palettes at 1/2/4/8 bits, with and without alpha", () => {
  for (const depth of [1, 2, 4, 8] as const) {
    for (const alpha of [false, true]) {
      const colours = Math.min(1 << depth, 6);
      const palette = Array.from({ length: colours }, (_, i) => {
        const c = [(i * 40) % 256, (i * 90) % 256, (255 - i * 30) % 256];
        return alpha ? [...c, (i * 50 + 5) % 256] : c;
      });
      const idx = Array.from({ length: W * H }, (_, p) => (p * 5) % colours);
      const data = depth === 8 ? Uint8Array.from(idx) : pack(idx, depth);
      const img = decodeGrey(png({ data, depth, channels: 1, palette }), "p.png");
      const want = idx.map((i) => {
        const [r, g, b, a = 255] = palette[i];
        return (a / 255) * lum(r, g, b) / 255 + 1 - a / 255;
      });
      assertClose(img.data, want, { label: `palette ${depth}-bit alpha ${alpha}` });
    }
  }
});

Deno.test("PNG colour-key transparency (tRNS) makes the key colour white", () => {
  const grey = Uint8Array.from({ length: W * H }, (_, p) => (p % 3) * 100);
  const g = decodeGrey(withColourKey(png({ data: grey, depth: 8, channels: 1 }), [100]), "k.png");
  assertClose(g.data, [...grey].map((v) => (v === 100 ? 1 : v / 255)), { label: "grey key" });
  const rgb = Uint8Array.from(
    { length: 3 * W * H },
    (_, k) => (Math.floor(k / 3) % 2) * 60 + k % 3,
  );
  const c = decodeGrey(
    withColourKey(png({ data: rgb, depth: 8, channels: 3 }), [60, 61, 62]),
    "k.png",
  );
  const want = Array.from(
    { length: W * H },
    (_, p) => rgb[3 * p] === 60 ? 1 : lum(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) / 255,
  );
  assertClose(c.data, want, { label: "rgb key" });
});

Deno.test("JPEG decodes to luminance (lossy, within a few levels)", () => {
  const w = 16, h = 16;
  const rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) rgba.set([200, 100, 50, 255], 4 * p);
  const file = jpeg.encode({ width: w, height: h, data: rgba }, 95).data;
  const img = decodeGrey(new Uint8Array(file), "x.jpg");
  assert.equal(img.width, 16);
  assertClose(img.data, new Array(w * h).fill(lum(200, 100, 50) / 255), { atol: 0.02, rtol: 0 });
  assert.deepEqual(readImageHeader(new Uint8Array(file), "x.jpg"), {
    format: "jpeg",
    width: 16,
    height: 16,
  });
});

Deno.test("images claiming enormous or zero dimensions are refused before decoding", () => {
  const big = png({ data: new Uint8Array(W * H), depth: 8, channels: 1 });
  const view = new DataView(big.buffer, big.byteOffset);
  view.setUint32(16, 100_000);
  view.setUint32(20, 100_000);
  assert.throws(
    () => decodeGrey(big, "huge.png"),
    /huge\.png: 100000×100000 image is larger than the 40000000-pixel limit/,
  );
  view.setUint32(16, 0);
  assert.throws(() => decodeGrey(big, "zero.png"), /zero\.png: zero-size image \(0×100000\)/);
  // a JPEG frame header (SOF0) claiming 65535×65535
  const sof = new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0,
    4,
    0,
    0,
    0xff,
    0xc0,
    0,
    11,
    8,
    0xff,
    0xff,
    0xff,
    0xff,
    1,
    1,
    0x11,
    0,
  ]);
  assert.throws(() => decodeGrey(sof, "huge.jpg"), /huge\.jpg: 65535×65535 image is larger/);
  assert.throws(() => decodeGrey(new Uint8Array(0), "empty.png"), /empty\.png: empty file/);
  assert.throws(
    () => decodeGrey(new TextEncoder().encode("hello"), "t.png"),
    /t\.png: not a PNG or JPEG/,
  );
});

Deno.test("truncated PNG and JPEG files give errors naming the file", async () => {
  const data = Uint8Array.from({ length: 40 * 40 }, (_, p) => (p * 31) % 256);
  const file = encodePng({ width: 40, height: 40, data, depth: 8, channels: 1 });
  assert.throws(() => decodeGrey(file.subarray(0, 20), "a.png"), /a\.png: truncated PNG header/);
  assert.throws(
    () => decodeGrey(file.subarray(0, file.length - 30), "b.png"),
    /b\.png: cannot decode PNG/,
  );
  const rgba = new Uint8Array(32 * 32 * 4).map((_, k) => (k * 13) % 256);
  const jpg = new Uint8Array(jpeg.encode({ width: 32, height: 32, data: rgba }, 90).data);
  assert.throws(() => decodeGrey(jpg.subarray(0, 10), "c.jpg"), /c\.jpg: truncated JPEG/);
  assert.throws(
    () => decodeGrey(jpg.subarray(0, jpg.length / 2), "d.jpg"),
    /d\.jpg: cannot decode JPEG/,
  );
  await assert.rejects(
    () => readGreyImage("/nonexistent/e.png"),
    /Cannot read image \/nonexistent\/e\.png/,
  );
});

Deno.test("fitToInput MNIST-style: inverts paper, scales ink to 20 pixels, centres by mass", () => {
  const w = 80, h = 100;
  const photo = new Float32Array(w * h).fill(0.9); // light grey paper
  for (let y = 10; y < 70; y++) for (let x = 12; x < 22; x++) photo[y * w + x] = 0.1; // a dark bar
  const out = fitToInput(photo, w, h, 28, 28);
  let m = 0, mx = 0, my = 0, top = 28, bottom = -1, max = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = out[y * 28 + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      max = Math.max(max, v);
      if (v > 0) [top, bottom] = [Math.min(top, y), Math.max(bottom, y)];
    }
  }
  // 20 pixels of extent, placed to the sub-pixel: over parts of 20 or 21 rows
  assert.ok([20, 21].includes(bottom - top + 1), `the bar's 60 rows span ${bottom - top + 1}`);
  assert.ok(
    Math.abs(mx / m - 14) <= 0.5 && Math.abs(my / m - 14) <= 0.5,
    `mass at ${mx / m},${my / m}`,
  );
  assert.ok(Math.abs(max - 1) < 1e-6, `contrast stretched to 1, got ${max}`);
  assert.equal(out[0], 0, "the paper becomes black");
  // a white-ink-on-black image is not inverted; a blank one is an error
  const dark = new Float32Array(28 * 28);
  dark[14 * 28 + 14] = 1;
  assert.ok(fitToInput(dark, 28, 28, 28, 28).some((v) => v > 0.9));
  assert.throws(() => fitToInput(new Float32Array(100).fill(1), 10, 10, 28, 28), /no ink found/);
  // stretch: plain area resampling of the whole image
  const s = fitToInput(new Float32Array(56 * 56).fill(0.25), 56, 56, 28, 28, { mnistStyle: false });
  assertClose(s, new Array(784).fill(0.25));
});
