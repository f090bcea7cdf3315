import assert from "node:assert/strict";
import {
  bindBce,
  bindLatentBackward,
  bindLatentForward,
  bindSigmoid,
  vaeKernels,
} from "../kernels/vae.ts";
import {
  bceInPlace,
  bceRef,
  bceScalar,
  type BceShape,
  bceSimd,
  expNonPositive,
  latentBackwardRef,
  latentForwardRef,
  type LatentShape,
  sigmoidRef,
  vaeLossRef,
  vaeScale,
} from "../kernels/vae_ref.ts";
import { run } from "../gpu/kernel.ts";
import { Readback, tensor } from "../gpu/tensor.ts";
import { assertClose, dot, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

function finite(label: string, xs: ArrayLike<number>): void {
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) throw new Error(`${label}: non-finite value ${xs[i]} at [${i}]`);
  }
}

/** μ in [−5, 5] and log σ² in [lvLo, lvHi], packed as the encoder head writes them. */
function statsArray(s: LatentShape, seed: number, lvLo = -3, lvHi = 3): Float32Array {
  const { batch: R, latent: L } = s;
  const mu = randomArray(R * L, seed, -5, 5), lv = randomArray(R * L, seed + 1, lvLo, lvHi);
  const out = new Float32Array(2 * R * L);
  for (let r = 0; r < R; r++) {
    out.set(mu.subarray(r * L, r * L + L), r * 2 * L);
    out.set(lv.subarray(r * L, r * L + L), r * 2 * L + L);
  }
  return out;
}

/** 1 + the sum of |terms| making up each element of dstats (the scale of its rounding). */
function termMagnitudes(
  s: LatentShape,
  stats: Float32Array,
  eps: Float32Array,
  dz: Float32Array,
  klScale: number,
): Float32Array {
  const { batch: R, latent: L } = s;
  const mag = new Float32Array(2 * R * L);
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < L; j++) {
      const mu = stats[r * 2 * L + j], lv = stats[r * 2 * L + L + j], d = dz[r * L + j];
      mag[r * 2 * L + j] = 1 + Math.abs(d) + Math.abs(klScale * mu);
      mag[r * 2 * L + L + j] = 1 + Math.abs(d * 0.5 * Math.exp(0.5 * lv) * eps[r * L + j]) +
        Math.abs(klScale * 0.5 * Math.exp(lv)) + Math.abs(klScale * 0.5);
    }
  }
  return mag;
}

const latentShapes: LatentShape[] = [
  { batch: 1, latent: 1 },
  { batch: 1, latent: 16 },
  { batch: 5, latent: 3 },
  { batch: 130, latent: 16 },
  { batch: 128, latent: 16 },
];

for (const [lvLo, lvHi, what] of [[-3, 3, "moderate"], [-20, 20, "extreme"]] as const) {
  gpuTest(
    `vae latent forward and backward match the CPU reference (${what} log σ²)`,
    async (gpu) => {
      const k = await vaeKernels(gpu);
      let seed = 1;
      for (const s of latentShapes) {
        const { batch: R, latent: L } = s;
        const stats = statsArray(s, seed++, lvLo, lvHi);
        const eps = randomArray(R * L, seed++, -3, 3), dz = randomArray(R * L, seed++);
        const klScale = vaeScale(R);
        const z = new Float32Array(R * L), kl = new Float32Array(R);
        const dstats = new Float32Array(2 * R * L);
        latentForwardRef(s, stats, eps, z, kl);
        latentBackwardRef(s, stats, eps, dz, klScale, dstats);

        const gStats = tensor(gpu, [R, 2 * L], "stats", stats),
          gEps = tensor(gpu, [R, L], "eps", eps);
        const gz = tensor(gpu, [R, L], "z"), gkl = tensor(gpu, [R], "kl");
        const gz2 = tensor(gpu, [R, L], "z (no kl)");
        const gdz = tensor(gpu, [R, L], "dz", dz);
        const gd = tensor(gpu, [R, 2 * L], "dstats", randomArray(2 * R * L, 77));
        run(gpu, [
          bindLatentForward(gpu, k, s, gStats, gEps, gz, gkl),
          bindLatentForward(gpu, k, s, gStats, gEps, gz2, null),
          bindLatentBackward(gpu, k, s, gStats, gEps, gdz, gd, klScale),
        ]);
        const rb = new Readback(gpu);
        const [gotZ, gotKl, gotZ2, gotD] = await rb.read([gz, gkl, gz2, gd]);
        rb.destroy();
        const tag = `${JSON.stringify(s)} ${what}`;
        for (const [l, v] of [["z", gotZ], ["kl", gotKl], ["dstats", gotD]] as const) {
          finite(`${l} ${tag}`, v);
        }
        // exp() on the GPU is accurate to a few ulp; KL sums L terms up to e^20 ≈ 5e8.
        const tol = { atol: 1e-5, rtol: 1e-5 };
        assertClose(gotZ, z, { ...tol, label: `z ${tag}` });
        assertClose(gotZ2, z, { ...tol, label: `z without kl ${tag}` });
        assertClose(gotKl, kl, { atol: 1e-4, rtol: 1e-5, label: `kl ${tag}` });
        // dlog σ² adds two terms that can reach 1e6 and cancel: compare errors to their size.
        const mag = termMagnitudes(s, stats, eps, dz, klScale);
        assertClose(gotD.map((v, i) => v / mag[i]), dstats.map((v, i) => v / mag[i]), {
          atol: 1e-6,
          rtol: 0,
          label: `dstats / term magnitude ${tag}`,
        });
      }
    },
  );
}

gpuTest("vae latent forward with ε = 0 decodes μ exactly", async (gpu) => {
  const k = await vaeKernels(gpu);
  const s = { batch: 7, latent: 16 };
  const stats = statsArray(s, 5, -20, 20);
  const gz = tensor(gpu, [7, 16], "z");
  run(gpu, [
    bindLatentForward(
      gpu,
      k,
      s,
      tensor(gpu, [7, 32], "stats", stats),
      tensor(gpu, [7, 16], "eps"),
      gz,
      null,
    ),
  ]);
  const got = await new Readback(gpu).read([gz]);
  const mu = new Float32Array(7 * 16);
  for (let r = 0; r < 7; r++) mu.set(stats.subarray(r * 32, r * 32 + 16), r * 16);
  assertClose(got[0], mu, { atol: 0, rtol: 0, label: "z = μ" });
});

Deno.test("vae latent backward matches finite differences", () => {
  const s = { batch: 3, latent: 4 };
  const stats = statsArray(s, 11, -2, 2);
  const eps = randomArray(12, 12, -2, 2), proj = randomArray(12, 13);
  for (const klScale of [0, 1 / 3, 2.5]) {
    // L = Σ proj·z + klScale·Σ_r KL_r, so dL/dz = proj.
    const z = new Float32Array(12), kl = new Float32Array(3);
    const loss = () => {
      latentForwardRef(s, stats, eps, z, kl);
      return dot(z, proj) + klScale * (kl[0] + kl[1] + kl[2]);
    };
    const d = new Float32Array(24);
    latentBackwardRef(s, stats, eps, proj, klScale, d);
    assertClose(d, finiteDiff(stats, loss, 1e-2), {
      atol: 1e-3,
      rtol: 1e-2,
      label: `dstats klScale=${klScale}`,
    });
  }
});

Deno.test("vae KL of a standard normal is zero and grows with μ and σ", () => {
  const s = { batch: 3, latent: 2 };
  // rows: N(0,1); μ = (1, 0); σ² = e
  const stats = new Float32Array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]);
  const kl = new Float32Array(3);
  latentForwardRef(s, stats, new Float32Array(6), new Float32Array(6), kl);
  assertClose(kl, [0, 0.5, 0.5 * (Math.E - 2)], { atol: 1e-6, label: "kl" });
});

Deno.test("vae bce equals the textbook cross-entropy and its gradient matches finite differences", () => {
  const s = { rows: 4, pixels: 5 };
  const logits = randomArray(20, 21, -4, 4), target = randomArray(20, 22, 0, 1);
  target[0] = 0;
  target[1] = 1;
  const loss = new Float32Array(4), d = new Float32Array(20);
  const scale = vaeScale(4);
  bceRef(s, logits, target, loss, d, scale);
  const textbook = new Float64Array(4);
  for (let i = 0; i < 20; i++) {
    const p = 1 / (1 + Math.exp(-logits[i])), t = target[i];
    textbook[Math.floor(i / 5)] -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
  }
  assertClose(loss, textbook, { atol: 1e-5, rtol: 1e-5, label: "bce" });
  const total = () => {
    bceRef(s, logits, target, loss, null, scale);
    return scale * (loss[0] + loss[1] + loss[2] + loss[3]);
  };
  assertClose(d, finiteDiff(logits, total, 1e-2), { atol: 1e-4, rtol: 1e-2, label: "dlogits" });
});

Deno.test("expNonPositive is Math.exp to 1e-8 relative, without a branch", () => {
  let worst = 0;
  for (let i = 0; i <= 700_000; i++) {
    const y = -i / 1000, want = Math.exp(y);
    worst = Math.max(worst, Math.abs(expNonPositive(y) - want) / want);
  }
  assert.ok(worst < 1e-8, `worst relative error ${worst}`);
  assert.equal(expNonPositive(0), 1);
  assert.equal(expNonPositive(-0), 1);
  assert.equal(expNonPositive(-Infinity), 0);
  assert.equal(expNonPositive(-800), 0);
  assert.ok(Number.isNaN(expNonPositive(NaN)));
});

for (const simd of [false, true]) {
  Deno.test(`vae bce in place (${simd ? "WebAssembly f32x4" : "scalar"}) gives bceRef's gradient to float32 rounding, its bias sums and its loss`, () => {
    // 1500 pixels: the scalar form's product of (1 + e^−|x|) is flushed to a log within a row.
    const shapes = [{ rows: 6, pixels: 8, targetRows: 3 }, { rows: 3, pixels: 1500 }, {
      rows: 2,
      pixels: 5,
    }];
    for (const s of shapes) {
      const n = s.rows * s.pixels, tn = (s.targetRows ?? s.rows) * s.pixels;
      const logits = randomArray(n, 31, -40, 40), target = randomArray(tn, 32, 0, 1);
      logits[0] = 0;
      logits[1] = -0;
      logits[2] = 800;
      logits[3] = -800;
      const loss = new Float32Array(s.rows), d = new Float32Array(n);
      bceRef(s, logits, target, loss, d, 0.25);
      const got = logits.slice(), gotLoss = new Float32Array(s.rows);
      const db = new Float32Array(s.pixels).fill(1);
      if (simd) {
        const ran = bceSimd(s, got, target, gotLoss, db, 0.25);
        assert.equal(ran, s.pixels % 4 === 0, "runs where P is a multiple of 4");
        if (!ran) continue;
      } else {
        bceScalar(s, got, target, gotLoss, db, 0.25);
      }
      // Scalar: e^−|x| from expNonPositive, within 1e-8 of Math.exp, so σ agrees far below a
      // float32 step, and the gradient (σ − t)/4 to one step of its own where the two land on
      // either side of a rounding boundary. SIMD: float32 throughout, σ within about 1e-7.
      const [sig, own] = simd ? [1e-6, 2.4e-7] : [2e-7, 1.2e-7];
      for (let i = 0; i < n; i++) {
        const sigma = Math.abs(d[i] / 0.25 + target[i % tn]);
        assert.ok(
          Math.abs(got[i] - d[i]) <= 0.25 * sig * sigma + own * Math.abs(d[i]),
          `dlogits[${i}] ${got[i]} against ${d[i]}`,
        );
      }
      const want = new Float32Array(s.pixels).fill(1);
      for (let r = 0; r < s.rows; r++) {
        for (let p = 0; p < s.pixels; p++) want[p] += got[r * s.pixels + p];
      }
      if (simd) assertClose(db, want, { atol: 1e-6, rtol: 1e-6, label: "bias gradient" });
      else assert.deepEqual(db, want, "bias gradient: its own dlogits added in row order");
      const rtol = simd ? 1e-5 : 1e-6;
      assertClose(gotLoss, loss, { atol: 0, rtol, label: `loss ${s.pixels} pixels` });
    }
  });
}

Deno.test("vae bce in place takes the SIMD form where it runs", () => {
  const s = { rows: 2, pixels: 8 }, logits = randomArray(16, 5, -3, 3);
  const target = randomArray(16, 6, 0, 1);
  const [a, b] = [logits.slice(), logits.slice()];
  const [la, lb] = [new Float32Array(2), new Float32Array(2)];
  bceInPlace(s, a, target, la, new Float32Array(8), 0.5);
  bceSimd(s, b, target, lb, new Float32Array(8), 0.5);
  assert.deepEqual(a, b);
  assert.deepEqual(la, lb);
});

Deno.test("vae loss is the mean over rows of BCE + KL", () => {
  const got = vaeLossRef(new Float32Array([1, 2, 3]), new Float32Array([0.5, 0.5, 2]));
  assertClose([got], [3], { label: "loss" });
});

const bceShapes: BceShape[] = [
  { rows: 1, pixels: 1 },
  { rows: 1, pixels: 784 },
  { rows: 5, pixels: 784 },
  { rows: 130, pixels: 37 },
  { rows: 128, pixels: 784 },
  { rows: 12, pixels: 65, targetRows: 5 },
];

for (
  const [lo, hi, what, strategy] of [
    [-6, 6, "moderate", "workgroup"],
    [-80, 80, "extreme", "workgroup"],
    [-6, 6, "moderate", "invocation"],
    [-80, 80, "extreme", "invocation"],
  ] as const
) {
  gpuTest(
    `vae bce loss and gradient match the CPU reference (${what} logits, ${strategy} per row)`,
    async (gpu) => {
      const k = await vaeKernels(gpu, strategy);
      let seed = 31;
      for (const s of bceShapes) {
        const R = s.rows, P = s.pixels, TR = s.targetRows ?? R;
        const logits = randomArray(R * P, seed++, lo, hi);
        // Binary digits with some grey: exact 0 and 1 where the MNIST background and strokes are.
        const target = randomArray(TR * P, seed++, -0.5, 1.5).map((v) =>
          Math.min(1, Math.max(0, v))
        );
        if (what === "extreme") { for (let i = 0; i < logits.length; i += 7) logits[i] *= 100; }
        const scale = vaeScale(R);
        const loss = new Float32Array(R), d = new Float32Array(R * P);
        bceRef(s, logits, target, loss, d, scale);

        const gl = tensor(gpu, [R, P], "logits", logits),
          gt = tensor(gpu, [TR, P], "target", target);
        const gLoss = tensor(gpu, [R], "loss"), gd = tensor(gpu, [R, P], "dlogits");
        const gLoss1 = tensor(gpu, [R], "loss only"), gd1 = tensor(gpu, [R, P], "dlogits only");
        const gRecon = tensor(gpu, [R, P], "recon");
        run(gpu, [
          bindBce(gpu, k, s, gl, gt, gLoss, gd, scale),
          bindBce(gpu, k, s, gl, gt, gLoss1, null),
          bindBce(gpu, k, s, gl, gt, null, gd1, scale),
          bindSigmoid(gpu, k, R * P, gl, gRecon),
        ]);
        const rb = new Readback(gpu);
        const [gotLoss, gotD, gotLoss1, gotD1, gotRecon] = await rb.read([
          gLoss,
          gd,
          gLoss1,
          gd1,
          gRecon,
        ]);
        rb.destroy();
        const tag = `${JSON.stringify(s)} ${what}`;
        finite(`loss ${tag}`, gotLoss);
        finite(`dlogits ${tag}`, gotD);
        const lossTol = { atol: 1e-3, rtol: 1e-5 };
        assertClose(gotLoss, loss, { ...lossTol, label: `loss ${tag}` });
        assertClose(gotLoss1, loss, { ...lossTol, label: `loss only ${tag}` });
        const gradTol = { atol: 1e-7, rtol: 1e-5 };
        assertClose(gotD, d, { ...gradTol, label: `dlogits ${tag}` });
        assertClose(gotD1, d, { ...gradTol, label: `dlogits only ${tag}` });
        const recon = new Float32Array(R * P);
        sigmoidRef(logits, recon);
        assertClose(gotRecon, recon, { atol: 1e-7, rtol: 1e-5, label: `sigmoid ${tag}` });
      }
    },
  );
}

for (const strategy of ["workgroup", "invocation"] as const) {
  gpuTest(`vae bce covers more than 65535 rows (${strategy} per row)`, async (gpu) => {
    const k = await vaeKernels(gpu, strategy);
    const s = { rows: 65600, pixels: 2, targetRows: 3 };
    const logits = randomArray(s.rows * 2, 51, -5, 5), target = randomArray(6, 52, 0, 1);
    const loss = new Float32Array(s.rows);
    bceRef(s, logits, target, loss, null, 1);
    const gLoss = tensor(gpu, [s.rows], "loss");
    run(gpu, [
      bindBce(
        gpu,
        k,
        s,
        tensor(gpu, [s.rows, 2], "logits", logits),
        tensor(gpu, [3, 2], "target", target),
        gLoss,
        null,
      ),
    ]);
    const got = await new Readback(gpu).read([gLoss]);
    assertClose(got[0], loss, { atol: 1e-5, rtol: 1e-5, label: "loss" });
  });
}

gpuTest("vae sigmoid covers more than 65535 workgroups with a 2D grid", async (gpu) => {
  const k = await vaeKernels(gpu);
  const n = 65535 * 64 + 1000;
  const logits = randomArray(n, 61, -10, 10), want = new Float32Array(n);
  sigmoidRef(logits, want);
  const out = tensor(gpu, [n], "recon");
  const d = bindSigmoid(gpu, k, n, tensor(gpu, [n], "logits", logits), out);
  if ((d.workgroups[1] ?? 1) < 2) throw new Error(`expected a 2D grid, got [${d.workgroups}]`);
  run(gpu, [d]);
  const got = await new Readback(gpu).read([out]);
  assertClose(got[0], want, { atol: 1e-7, rtol: 1e-5, label: "sigmoid" });
});
