/**
 * util/simd.ts: the hand-assembled WebAssembly SIMD loops against their references. Adam agrees
 * with kernels/adam_ref.ts adamRef to float32 rounding over many steps, on every length (the
 * vector loop and the scalar tail) and offset; the sum is the float32 sum bit for bit; a shared
 * heap opens in a Worker and updates what the host reads; misuse fails with a message.
 */
import assert from "node:assert/strict";
import { SimdHeap, simdModuleBytes } from "../util/simd.ts";
import { adamFast, adamHoisted, adamRef } from "../kernels/adam_ref.ts";
import { reluBackwardFast, reluFast } from "../kernels/activation_ref.ts";
import { Rng } from "../util/rng.ts";
import { assertClose } from "./_assert.ts";

Deno.test("the SIMD module validates, shared and not", () => {
  for (const shared of [false, true]) {
    assert.ok(WebAssembly.validate(simdModuleBytes(shared)), `shared ${shared}`);
  }
});

Deno.test("SimdHeap.adam is adamRef to float32 rounding, every length and offset, over 50 steps", () => {
  for (const n of [1, 3, 4, 5, 17, 1000, 4099]) {
    for (const offset of [0, 1, 3]) {
      const heap = SimdHeap.create(4 * (n + offset) + 64)!;
      assert.ok(heap, "WebAssembly SIMD runs here");
      const [p, g, m, v] = [0, 1, 2, 3].map(() => heap.alloc(n + offset).subarray(offset));
      const rng = new Rng(n * 7 + offset);
      rng.fillNormal(p);
      const [rp, rm, rv] = [p.slice(), new Float32Array(n), new Float32Array(n)];
      const opts = { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6 };
      for (let t = 1; t <= 50; t++) {
        rng.fillNormal(g);
        if (t % 10 === 0) g.fill(0); // zero gradients: v decays, nothing divides by zero
        heap.adam(p, g, m, v, t, opts);
        adamRef(rp, g, rm, rv, t, opts);
      }
      const label = `n ${n} offset ${offset}`;
      assertClose(p, rp, { atol: 1e-6, rtol: 1e-5, label: `${label} params` });
      assertClose(m, rm, { atol: 1e-6, rtol: 1e-5, label: `${label} m` });
      assertClose(v, rv, { atol: 1e-7, rtol: 1e-5, label: `${label} v` });
    }
  }
});

Deno.test("SimdHeap.add is the float32 sum bit for bit; adamFast picks the heap or adamHoisted", () => {
  const heap = SimdHeap.create(4000)!;
  const a = heap.alloc(999), b = heap.alloc(999);
  const rng = new Rng(3);
  rng.fillNormal(a);
  rng.fillNormal(b);
  const want = Float32Array.from(a, (x, i) => x + b[i]), before = a.slice(0, 2);
  heap.add(a.subarray(2), b.subarray(2)); // unaligned, with a tail
  assert.deepEqual(a.subarray(2), want.subarray(2));
  assert.deepEqual(a.subarray(0, 2), before, "values before the range untouched");

  // Plain arrays: adamFast is adamHoisted exactly.
  const p = Float32Array.from([1, -2, 3]), g = Float32Array.from([0.5, 0.1, -4]);
  const [m, v] = [new Float32Array(3), new Float32Array(3)];
  const [p2, m2, v2] = [p.slice(), m.slice(), v.slice()];
  adamFast(heap, p, g, m, v, 1, { lr: 0.1 });
  adamHoisted(p2, g, m2, v2, 1, { lr: 0.1 });
  assert.deepEqual(p, p2);
});

Deno.test("SimdHeap.relu, reluBackward and colsum give reluFast's, reluBackwardFast's and the row-order sum's bits", () => {
  const heap = SimdHeap.create(120000)!;
  const rng = new Rng(5);
  for (const n of [0, 1, 3, 4, 7, 256, 1001]) {
    // Normals with ±0, ±∞ and NaNs of both signs mixed in, at every offset of a vector.
    const x = heap.alloc(n + 3).subarray(3);
    rng.fillNormal(x);
    const specials = [0, -0, Infinity, -Infinity, NaN, -NaN];
    for (let i = 0; i < n; i += 5) x[i] = specials[i % specials.length];
    const bits = (a: Float32Array) => new Int32Array(a.buffer, a.byteOffset, a.length).slice();
    const want = x.slice();
    reluFast(want);
    heap.relu(x);
    assert.deepEqual(bits(x), bits(want), `relu n=${n}`);

    const dy = heap.alloc(n);
    rng.fillNormal(dy);
    const dx = heap.alloc(n), wantDx = new Float32Array(n);
    reluBackwardFast(want, dy, wantDx);
    heap.reluBackward(x, dy, dx);
    assert.deepEqual(bits(dx), bits(wantDx), `reluBackward n=${n}`);
    heap.reluBackward(x, dy, dy); // in place
    assert.deepEqual(bits(dy), bits(wantDx), `reluBackward in place n=${n}`);
  }
  for (const [rows, cols] of [[1, 1], [3, 10], [128, 784], [5, 33]]) {
    const dy = heap.alloc(rows * cols), db = heap.alloc(cols);
    rng.fillNormal(dy);
    rng.fillNormal(db);
    const want = db.slice();
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) want[j] += dy[r * cols + j];
    heap.colsum(db, dy, rows);
    assert.deepEqual(db, want, `colsum ${rows}×${cols}`);
  }
  heap.reset();
  const a = heap.alloc(8);
  assert.throws(() => heap.relu(new Float32Array(4)), /must be this heap's/);
  assert.throws(() => heap.reluBackward(a, a, a.subarray(1)), /of one length/);
  assert.throws(() => heap.colsum(a.subarray(0, 4), a, 3), /rows × db.length/);
});

Deno.test("SimdHeap.fitted sizes a heap for what the builder allocates, and builds it there", () => {
  let runs = 0;
  const fitted = SimdHeap.fitted((alloc) => {
    runs++;
    return [alloc(1), alloc(1000), alloc(3), alloc(70_000)];
  })!;
  assert.equal(runs, 2, "once to count, once to build");
  const arrays = fitted.built;
  assert.deepEqual(arrays.map((a) => a.length), [1, 1000, 3, 70_000]);
  assert.ok(fitted.heap.owns(...arrays));
  assert.ok(fitted.heap.capacity < 70_000 + 1000 + 64 + 65536 / 4, "one page of slack at most");
  arrays[3][69_999] = 5; // the last array fits
  assert.equal(arrays[3][69_999], 5);
});

Deno.test("SimdHeap: a full heap, foreign arrays and mismatched lengths fail with a message", () => {
  const heap = SimdHeap.create(10)!;
  const room = heap.memory.buffer.byteLength / 4;
  const a = heap.alloc(4);
  assert.throws(() => heap.alloc(room), /SimdHeap: \d+ floats do not fit/);
  const plain = new Float32Array(4);
  assert.throws(() => heap.adam(a, plain, a, a, 1, { lr: 1 }), /must be this heap's/);
  assert.throws(() => heap.add(a, a.subarray(1)), /must be this heap's, of one length/);
  assert.equal(heap.owns(a, a.subarray(2)), true);
  assert.equal(heap.owns(a, plain), false);
});

Deno.test("a shared SimdHeap opens in a Worker and updates the arrays the host reads", async () => {
  const heap = SimdHeap.create(64, { shared: true })!;
  const p = heap.alloc(6), g = heap.alloc(6), m = heap.alloc(6), v = heap.alloc(6);
  p.set([1, 2, 3, 4, 5, 6]);
  g.set([1, -1, 0.5, 2, 0, -3]);
  const want = [p.slice(), m.slice(), v.slice()];
  adamRef(want[0], g, want[1], want[2], 1, { lr: 0.1 });
  const { Worker } = await import("node:worker_threads");
  const code = `
    import { parentPort } from "node:worker_threads";
    import { SimdHeap } from ${JSON.stringify(new URL("../util/simd.ts", import.meta.url).href)};
    parentPort.once("message", ({ memory, p, g, m, v }) => {
      const heap = SimdHeap.adopt(memory);
      heap.adam(heap.view(p), heap.view(g), heap.view(m), heap.view(v), 1, { lr: 0.1 });
      parentPort.postMessage("done");
    });`;
  const file = await Deno.makeTempFile({ suffix: ".js" }); // plain JS: nothing to type-check
  await Deno.writeTextFile(file, code);
  const w = new Worker(new URL(`file://${file}`));
  try {
    const done = new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
    w.postMessage({ memory: heap.memory, p, g, m, v });
    assert.equal(await done, "done");
    assertClose(p, want[0], { atol: 1e-6, rtol: 1e-6, label: "params, updated by the Worker" });
    assertClose(v, want[2], { atol: 1e-7, rtol: 1e-6, label: "v" });
  } finally {
    await w.terminate();
    await Deno.remove(file);
  }
});
