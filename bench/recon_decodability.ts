/**
 * Why does the VAE probe's reconstruction error rise after glimpse 4? Per glimpse, on the first
 * NTE test digits (policy mean from the centre, as eval): the shared VAE probe's MSE, a linear
 * (ridge) decoder h_t → pixels fitted separately for each glimpse on the first NTR training digits,
 * one ridge decoder shared by all glimpses, the mean norm of h_t and the head's accuracy. Prints
 * one markdown table per shipped model. About 3 minutes of CPU at the defaults.
 *
 * deno run -A bench/recon_decodability.ts [NTR 3000] [NTE 1000]
 *
 * @module
 */
import { loadRun } from "../run/load_run.ts";
import { loadDataset } from "../datasets/load.ts";
const ds = await loadDataset("mnist-10k");
const NTR = Number(Deno.args[0] ?? 3000), NTE = Number(Deno.args[1] ?? 1000);
/** Ridge regression Y ≈ [X 1]·W (λ relative to the mean diagonal); returns its predictor. */
function ridge(X: Float64Array, Y: Float32Array, n: number, d: number, p: number, lam: number) {
  const D = d + 1; // bias column
  const A = new Float64Array(D * D), R = new Float64Array(D * p);
  const row = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) row[k] = X[i * d + k];
    row[d] = 1;
    for (let a = 0; a < D; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < D; b++) A[a * D + b] += ra * row[b];
      for (let c = 0; c < p; c++) R[a * p + c] += ra * Y[i * p + c];
    }
  }
  for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) A[a * D + b] = A[b * D + a];
  let tr = 0;
  for (let a = 0; a < d; a++) tr += A[a * D + a];
  for (let a = 0; a < d; a++) A[a * D + a] += lam * tr / d + 1e-9;
  // Cholesky
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * D + j];
      for (let k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
      L[i * D + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * D + j];
    }
  }
  const W = new Float64Array(D * p);
  for (let c = 0; c < p; c++) {
    const y = new Float64Array(D);
    for (let i = 0; i < D; i++) {
      let s = R[i * p + c];
      for (let k = 0; k < i; k++) s -= L[i * D + k] * y[k];
      y[i] = s / L[i * D + i];
    }
    for (let i = D - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < D; k++) s -= L[k * D + i] * W[k * p + c];
      W[i * p + c] = s / L[i * D + i];
    }
  }
  return (x: Float32Array, off: number, out: Float64Array) => {
    for (let c = 0; c < p; c++) out[c] = W[d * p + c];
    for (let k = 0; k < d; k++) {
      const v = x[off + k];
      if (v === 0) continue;
      for (let c = 0; c < p; c++) out[c] += v * W[k * p + c];
    }
  };
}
for (const dir of ["checkpoints/mnist-entropy", "checkpoints/mnist-classification"]) {
  const run = await loadRun(dir, { backend: "cpu" });
  const T = run.config.model.glimpses, H = run.config.model.hidden;
  const roll = async (split: typeof ds.train, N: number) => {
    const x = new Float32Array(N * 784), clean = new Float32Array(N * 784);
    split.fill(Array.from({ length: N }, (_, i) => i), 0, x, clean);
    const r = await run.ram.rollout({ size: N, images: x, labels: new Int32Array(N) }, {
      stochastic: false,
      start: new Float32Array(2 * N),
    });
    const labels = Int32Array.from({ length: N }, (_, i) => split.labels[i]);
    return { h: r.hidden, logp: r.logp, clean, N, labels };
  };
  const tr = await roll(ds.train, NTR), te = await roll(ds.test, NTE);
  const vmse = await run.vae!.reconstructionError(te.h, te.clean); // (T, N)
  const lam = 1e-3;
  // pooled ridge over all glimpses
  const Xall = new Float64Array(T * NTR * H), Yall = new Float32Array(T * NTR * 784);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < NTR * H; i++) Xall[t * NTR * H + i] = tr.h[t * NTR * H + i];
    Yall.set(tr.clean, t * NTR * 784);
  }
  const pooled = ridge(Xall, Yall, T * NTR, H, 784, lam);
  const out = new Float64Array(784);
  const mseOf = (f: typeof pooled, t: number) => {
    let s = 0;
    for (let i = 0; i < NTE; i++) {
      f(te.h, (t * NTE + i) * H, out);
      for (let c = 0; c < 784; c++) {
        s += (Math.min(1, Math.max(0, out[c])) - te.clean[i * 784 + c]) ** 2;
      }
    }
    return s / (NTE * 784);
  };
  console.log(`\n${dir}: ${NTR} train / ${NTE} test digits`);
  console.log(
    "| glimpse | VAE probe MSE | ridge per glimpse | ridge shared | mean |h_t| | head accuracy |",
  );
  for (let t = 0; t < T; t++) {
    const X = new Float64Array(NTR * H);
    for (let i = 0; i < NTR * H; i++) X[i] = tr.h[t * NTR * H + i];
    const per = ridge(X, tr.clean, NTR, H, 784, lam);
    let v = 0, nrm = 0, acc = 0;
    for (let i = 0; i < NTE; i++) {
      v += vmse[t * NTE + i] / NTE;
      let s = 0;
      for (let k = 0; k < H; k++) s += te.h[(t * NTE + i) * H + k] ** 2;
      nrm += Math.sqrt(s) / NTE;
      let best = 0;
      for (let c = 1; c < 10; c++) {
        if (te.logp[(t * NTE + i) * 10 + c] > te.logp[(t * NTE + i) * 10 + best]) best = c;
      }
      if (best === te.labels[i]) acc += 1 / NTE;
    }
    console.log(
      `| ${t + 1} | ${v.toFixed(5)} | ${mseOf(per, t).toFixed(5)} | ${
        mseOf(pooled, t).toFixed(5)
      } | ${nrm.toFixed(2)} | ${(100 * acc).toFixed(1)}% |`,
    );
  }
  run.close();
}
