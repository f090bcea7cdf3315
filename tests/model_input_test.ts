import assert from "node:assert/strict";
import { toModelInput } from "../datasets/model_input.ts";
import { fitToInput } from "../datasets/fit.ts";

/** Light paper 50×40 with a dark vertical stroke. */
function stroke() {
  const data = new Float32Array(50 * 40).fill(0.9);
  for (let y = 5; y < 35; y++) data[y * 50 + 20] = 0.1;
  return { width: 50, height: 40, data };
}

Deno.test("fitted input: MNIST-style at 28×28, the same digit at the centre of a canvas", () => {
  const img = stroke();
  const plain = toModelInput(img, 28, 28, true);
  assert.deepEqual(plain.input, fitToInput(img.data, 50, 40, 28, 28));
  assert.equal(plain.clean, undefined);
  assert.match(plain.how, /fitted MNIST-style from 50×40 to 28×28/);
  const canvas = toModelInput(img, 60, 60, true);
  assert.deepEqual(canvas.clean, plain.input);
  for (let y = 0; y < 60; y++) {
    for (let x = 0; x < 60; x++) {
      const inside = x >= 16 && x < 44 && y >= 16 && y < 44;
      const want = inside ? plain.input[(y - 16) * 28 + x - 16] : 0;
      assert.equal(canvas.input[y * 60 + x], want, `pixel ${x},${y}`);
    }
  }
  assert.match(canvas.how, /placed at the centre of the 60×60 canvas/);
});

Deno.test("--no-fit: the image as it is, or area-resampled to the input size", () => {
  const same = {
    width: 28,
    height: 28,
    data: Float32Array.from({ length: 784 }, (_, i) => i / 784),
  };
  assert.deepEqual(toModelInput(same, 28, 28, false).input, same.data);
  const big = { width: 56, height: 56, data: new Float32Array(56 * 56) };
  big.data.fill(1, 0, 56 * 28); // top half white
  const r = toModelInput(big, 28, 28, false);
  assert.equal(r.input[0], 1);
  assert.equal(r.input[27 * 28], 0);
  assert.match(r.how, /resampled from 56×56 to 28×28, not fitted/);
});
