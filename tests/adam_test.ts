import assert from "node:assert/strict";
import { adamHoisted, adamRef } from "../kernels/adam_ref.ts";
import { adamKernels, adamState, bindAdam, bindAdamTick } from "../kernels/adam.ts";
import { run } from "../gpu/kernel.ts";
import { read, Readback, tensor, upload, view } from "../gpu/tensor.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const SCALES = [1e-12, 1e-6, 1e-3, 1, 1e3];

/**
 * x[i] / SCALES[i]^power: the moments are sums of terms of the gradient's own magnitude that
 * can cancel, so their error is judged relative to that magnitude.
 */
function unscaled(x: Float32Array, power: number): Float64Array {
  return Float64Array.from(x, (v, i) => v / SCALES[i % SCALES.length] ** power);
}

/** Gradients spanning many magnitudes (Adam normalises them), zeros included. */
function gradsFor(n: number, seed: number): Float32Array {
  const g = randomArray(n, seed, -1, 1);
  for (let i = 0; i < n; i++) g[i] *= SCALES[i % SCALES.length];
  if (n > 7) g[7] = 0;
  return g;
}

gpuTest("Adam matches the CPU reference over several steps", async (gpu) => {
  const k = await adamKernels(gpu);
  const rb = new Readback(gpu);
  for (const n of [1, 5, 1027]) {
    for (const o of [{ lr: 3e-4 }, { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-6 }]) {
      const p = randomArray(n, n), m = new Float32Array(n), v = new Float32Array(n);
      const gp = tensor(gpu, [n], "param", p), gg = tensor(gpu, [n], "grad");
      const gm = tensor(gpu, [n], "m"), gv = tensor(gpu, [n], "v");
      const state = tensor(gpu, [4], "adam state", adamState(0, o));
      // Bound once, encoded every step, as a model does.
      const step = [bindAdamTick(gpu, k, state, o), bindAdam(gpu, k, gp, gg, gm, gv, state, o)];
      for (let t = 1; t <= 6; t++) {
        const g = gradsFor(n, 100 * t + n);
        upload(gpu, gg, g);
        run(gpu, step);
        adamRef(p, g, m, v, t, o);
        const [gotP, gotM, gotV, gotState] = await rb.read([gp, gm, gv, state]);
        const label = `n=${n} ${JSON.stringify(o)} step ${t}`;
        assertClose(gotP, p, { atol: 1e-6, rtol: 1e-5, label: `param ${label}` });
        const tol = { atol: 1e-6, rtol: 1e-5 };
        assertClose(unscaled(gotM, 1), unscaled(m, 1), { ...tol, label: `m ${label}` });
        assertClose(unscaled(gotV, 2), unscaled(v, 2), { ...tol, label: `v ${label}` });
        assertClose(gotState, adamState(t, o), { atol: 0, rtol: 1e-6, label: `state ${label}` });
      }
    }
  }
  rb.destroy();
});

gpuTest(
  "Adam updates only [offset, offset + length), and zeroes the gradients it used",
  async (gpu) => {
    const k = await adamKernels(gpu);
    const n = 300, o = { lr: 0.01 };
    const p = randomArray(n, 1), g = gradsFor(n, 2);
    const gp = tensor(gpu, [n], "param", p), gg = tensor(gpu, [n], "grad", g);
    const gm = tensor(gpu, [n], "m"), gv = tensor(gpu, [n], "v");
    const state = tensor(gpu, [4], "adam state", adamState(0));
    // Two ranges, one tick: like two parameter groups in one flat buffer, [0, 37) left out.
    run(gpu, [
      bindAdamTick(gpu, k, state, o),
      bindAdam(gpu, k, gp, gg, gm, gv, state, { ...o, offset: 37, length: 100, zeroGrad: true }),
      bindAdam(gpu, k, gp, gg, gm, gv, state, { ...o, offset: 137, zeroGrad: true }),
    ]);
    const want = p.slice(), m = new Float32Array(n), v = new Float32Array(n);
    adamRef(want.subarray(37), g.subarray(37), m.subarray(37), v.subarray(37), 1, o);
    assertClose(await read(gpu, gp), want, { atol: 1e-6, rtol: 1e-5, label: "ranged param" });
    const wantGrad = g.slice();
    wantGrad.fill(0, 37);
    assertClose(await read(gpu, gg), wantGrad, { atol: 0, rtol: 0, label: "zeroed grad" });
  },
);

gpuTest("Adam handles ranges with unaligned ends and ranges inside one vec4", async (gpu) => {
  const k = await adamKernels(gpu);
  const n = 23, o = { lr: 0.02 };
  // [offset, length]: aligned, ragged at either end, within one vec4, across one boundary, empty
  const ranges = [[0, 23], [0, 20], [3, 20], [5, 1], [4, 3], [6, 4], [1, 2], [9, 0]];
  for (const [offset, length] of ranges) {
    const p = randomArray(n, offset + 1), g = gradsFor(n, length + 2);
    const m = randomArray(n, 3, -0.01, 0.01), v = randomArray(n, 4, 0, 1e-4);
    const gp = tensor(gpu, [n], "param", p), gg = tensor(gpu, [n], "grad", g);
    const gm = tensor(gpu, [n], "m", m), gv = tensor(gpu, [n], "v", v);
    const state = tensor(gpu, [4], "adam state", adamState(2));
    run(gpu, [
      bindAdamTick(gpu, k, state, o),
      bindAdam(gpu, k, gp, gg, gm, gv, state, { ...o, offset, length, zeroGrad: true }),
    ]);
    const r = (x: Float32Array) => x.subarray(offset, offset + length);
    adamRef(r(p), r(g), r(m), r(v), 3, o);
    const wantGrad = g.slice().fill(0, offset, offset + length);
    const label = `offset ${offset} length ${length}`;
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose(await read(gpu, gp), p, { ...tol, label: `param ${label}` });
    assertClose(await read(gpu, gm), m, { ...tol, label: `m ${label}` });
    assertClose(await read(gpu, gv), v, { ...tol, label: `v ${label}` });
    assertClose(await read(gpu, gg), wantGrad, { atol: 0, rtol: 0, label: `grad ${label}` });
  }
});

gpuTest("Adam on views into flat buffers updates only the viewed parameters", async (gpu) => {
  const k = await adamKernels(gpu);
  const n = 200, o = { lr: 0.01 };
  const p = randomArray(n, 31), g = gradsFor(n, 32);
  const [gp, gg, gm, gv] = [p, g, new Float32Array(n), new Float32Array(n)].map((x, i) =>
    tensor(gpu, [n], `flat${i}`, x)
  );
  const at = (t: typeof gp) => view(t, 64, [70], `${t.label} view`);
  const state = tensor(gpu, [4], "adam state", adamState(0));
  run(gpu, [
    bindAdamTick(gpu, k, state, o),
    bindAdam(gpu, k, at(gp), at(gg), at(gm), at(gv), state, { ...o, length: 69 }),
  ]);
  const want = p.slice();
  adamRef(
    want.subarray(64, 133),
    g.subarray(64, 133),
    new Float32Array(69),
    new Float32Array(69),
    1,
    o,
  );
  assertClose(await read(gpu, gp), want, { atol: 1e-6, rtol: 1e-5, label: "flat param" });
});

gpuTest("Adam resumes from an uploaded step count", async (gpu) => {
  const k = await adamKernels(gpu);
  const n = 9, o = { lr: 1e-3 };
  const p = randomArray(n, 3), m = randomArray(n, 4, -0.1, 0.1), v = randomArray(n, 5, 0, 0.01);
  const g = gradsFor(n, 6);
  const tensors = [p, g, m, v].map((x, i) => tensor(gpu, [n], `t${i}`, x));
  const state = tensor(gpu, [4], "adam state", adamState(100));
  run(gpu, [
    bindAdamTick(gpu, k, state, o),
    bindAdam(gpu, k, tensors[0], tensors[1], tensors[2], tensors[3], state, o),
  ]);
  adamRef(p, g, m, v, 101, o);
  assertClose(await read(gpu, tensors[0]), p, { atol: 1e-6, rtol: 1e-5, label: "resumed param" });
});

gpuTest("Adam's device-side bias corrections stay accurate over 2000 steps", async (gpu) => {
  const k = await adamKernels(gpu);
  const o = { beta1: 0.9, beta2: 0.999 };
  const state = tensor(gpu, [4], "adam state", adamState(0));
  const tick = bindAdamTick(gpu, k, state, o);
  run(gpu, Array(2000).fill(tick));
  const got = await read(gpu, state);
  assertClose(got, adamState(2000, o), { atol: 0, rtol: 2e-5, label: "state after 2000 ticks" });
});

gpuTest("Adam binders reject bad ranges, aliasing and bad options", async (gpu) => {
  const k = await adamKernels(gpu);
  const [p, g, m, v, s] = [8, 8, 8, 8, 4].map((n, i) => tensor(gpu, [n], `t${i}`));
  const cases: [string, () => unknown][] = [
    ["range past the end", () => bindAdam(gpu, k, p, g, m, v, s, { lr: 1, offset: 4, length: 5 })],
    ["m = v", () => bindAdam(gpu, k, p, g, m, m, s, { lr: 1 })],
    ["β1 = 1", () => bindAdam(gpu, k, p, g, m, v, s, { lr: 1, beta1: 1 })],
    ["negative lr", () => bindAdam(gpu, k, p, g, m, v, s, { lr: -1 })],
    ["fractional step", () => adamState(1.5)],
  ];
  for (const [what, f] of cases) {
    let threw = false;
    try {
      f();
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`expected an error for ${what}`);
  }
});

Deno.test("adamRef moves each weight by about lr on the first step, against the gradient", () => {
  const p = Float32Array.from([1, 1, 1]), g = Float32Array.from([2, -1e-3, 0]);
  adamRef(p, g, new Float32Array(3), new Float32Array(3), 1, { lr: 0.1 });
  assertClose(p, [0.9, 1.1, 1], { atol: 1e-5, label: "first step" });
});

Deno.test("hoisted Adam follows adamRef over many steps and magnitudes", () => {
  for (const o of [{ lr: 1e-3 }, { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-6 }]) {
    const n = 4099;
    const [p1, p2] = [randomArray(n, 3, -1, 1), randomArray(n, 3, -1, 1)];
    const [m1, v1, m2, v2] = [0, 1, 2, 3].map(() => new Float32Array(n));
    for (let t = 1; t <= 30; t++) {
      const g = gradsFor(n, 10 + t);
      adamRef(p1, g, m1, v1, t, o);
      adamHoisted(p2, g, m2, v2, t, o);
    }
    assert.deepEqual(m2, m1, "first moments");
    assert.deepEqual(v2, v1, "second moments");
    assertClose(p2, p1, { atol: 0, rtol: 1e-6, label: `params lr ${o.lr}` });
  }
});
