/**
 * CPU reference for kernels/vae.wgsl: the element-wise and per-sample operations of the VAE
 * probe (DESIGN.md "The VAE probe"). GPU version: kernels/vae.ts.
 *
 * Layout. The encoder's two heads are one linear layer 256 → 2L whose output `stats` (B, 2L)
 * holds μ in columns [0, L) and log σ² in columns [L, 2L) of each row; its gradient `dstats`
 * has the same layout. (Two Linear(256→L) layers are the same function with their weights
 * stacked; one layer saves a dispatch forward and three backward.)
 *
 * Loss normalisation. The probe's loss is the mean over rows of the per-sample sums,
 *   L = (1/R) Σ_r (BCE_r + KL_r),  BCE_r = Σ_pixels bce,  KL_r = −½ Σ_j (1 + lv − μ² − e^lv),
 * where R is the number of rows in the batch (B samples, or T·B sample-glimpse pairs when
 * all glimpses are batched together). This is PyTorch's VAE example (reduction "sum")
 * divided by the batch, so the loss is in nats per image and does not change with the batch
 * size. Per-sample values are written unscaled (they are the metrics); gradients carry the
 * 1/R as `scale` / `klScale` (see {@link vaeScale}).
 *
 * @module
 */
import { SimdHeap } from "../util/simd.ts";
import { sigmoid } from "./lstm_ref.ts";

/** Sizes of the latent operations. */
export interface LatentShape {
  /** Rows R (samples, or sample-glimpse pairs). */
  batch: number;
  /** Latent size L (stats has 2L columns). */
  latent: number;
}

/** Sizes of the reconstruction loss. */
export interface BceShape {
  /** Rows R of logits. */
  rows: number;
  /** Pixels P per row (784 for 28×28). */
  pixels: number;
  /**
   * Rows of the target; logits row r is compared with target row r % targetRows, so T·B
   * reconstructions can share B clean digits. Default: rows.
   */
  targetRows?: number;
}

/** The gradient scale of the mean-over-rows loss: 1/R. */
export function vaeScale(rows: number): number {
  return 1 / rows;
}

/**
 * Reparameterisation and per-sample KL: z = μ + exp(½ lv)·ε, and, when `kl` is given,
 * kl[r] = −½ Σ_j (1 + lv − μ² − exp(lv)). Pass ε = 0 to decode μ (no sampling).
 *
 * @example
 * ```ts
 * import { latentForwardRef } from "./vae_ref.ts";
 * const z = new Float32Array(1), kl = new Float32Array(1);
 * // μ = 1, log σ² = 0, ε = 2
 * latentForwardRef({ batch: 1, latent: 1 }, new Float32Array([1, 0]), new Float32Array([2]), z, kl);
 * // z[0] === 3; kl[0] === 0.5
 * ```
 */
export function latentForwardRef(
  s: LatentShape,
  stats: Float32Array, // (R, 2L): μ | log σ²
  eps: Float32Array, // (R, L) standard normal noise
  z: Float32Array, // (R, L) out
  kl: Float32Array | null, // (R) out: per-sample KL in nats
): void {
  const { batch, latent: L } = s;
  for (let r = 0; r < batch; r++) {
    let k = 0;
    for (let j = 0; j < L; j++) {
      const mu = stats[r * 2 * L + j], lv = stats[r * 2 * L + L + j];
      z[r * L + j] = mu + Math.exp(0.5 * lv) * eps[r * L + j];
      k += 1 + lv - mu * mu - Math.exp(lv);
    }
    if (kl) kl[r] = -0.5 * k;
  }
}

/**
 * Backward of the reparameterisation plus `klScale` times the KL gradient, written (not
 * accumulated) into dstats (R, 2L):
 *   dμ  = dz + klScale·μ,
 *   dlv = dz·½·exp(½ lv)·ε + klScale·½·(exp(lv) − 1).
 * With the loss of this module's doc, klScale = β/R (β = 1 for the plain VAE).
 *
 * @example
 * ```ts
 * import { latentBackwardRef } from "./vae_ref.ts";
 * const d = new Float32Array(2);
 * latentBackwardRef({ batch: 1, latent: 1 }, new Float32Array([1, 0]), new Float32Array([2]),
 *   new Float32Array([1]), 1, d);
 * // d is [2, 1]: dμ = 1 + 1, dlv = ½·1·2 + ½·0
 * ```
 */
export function latentBackwardRef(
  s: LatentShape,
  stats: Float32Array, // (R, 2L)
  eps: Float32Array, // (R, L)
  dz: Float32Array, // (R, L) dL/dz
  klScale: number,
  dstats: Float32Array, // (R, 2L) out: dμ | dlog σ²
): void {
  const { batch, latent: L } = s;
  for (let r = 0; r < batch; r++) {
    for (let j = 0; j < L; j++) {
      const mu = stats[r * 2 * L + j], lv = stats[r * 2 * L + L + j];
      const d = dz[r * L + j];
      dstats[r * 2 * L + j] = d + klScale * mu;
      dstats[r * 2 * L + L + j] = d * 0.5 * Math.exp(0.5 * lv) * eps[r * L + j] +
        klScale * 0.5 * (Math.exp(lv) - 1);
    }
  }
}

/**
 * Binary cross-entropy of sigmoid(logits) against targets t in [0, 1], computed from the
 * logits without overflow: bce = max(x, 0) − x·t + log(1 + e^−|x|). Writes, when given,
 * loss[r] = Σ_p bce (unscaled, nats per image) and dlogits = (σ(x) − t)·scale.
 *
 * @example
 * ```ts
 * import { bceRef } from "./vae_ref.ts";
 * const loss = new Float32Array(1), d = new Float32Array(2);
 * bceRef({ rows: 1, pixels: 2 }, new Float32Array([0, 80]), new Float32Array([1, 1]), loss, d, 1);
 * // loss[0] ≈ ln 2; d ≈ [-0.5, 0]
 * ```
 */
export function bceRef(
  s: BceShape,
  logits: Float32Array, // (R, P)
  target: Float32Array, // (targetRows, P) in [0, 1]
  loss: Float32Array | null, // (R) out
  dlogits: Float32Array | null, // (R, P) out
  scale: number,
): void {
  const { rows, pixels: P } = s;
  const tr = s.targetRows ?? rows;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const t0 = (r % tr) * P;
    for (let p = 0; p < P; p++) {
      const x = logits[r * P + p], t = target[t0 + p];
      // One exp for both: σ(x) is 1/(1+e) for x ≥ 0 and e/(1+e) below, e = exp(−|x|), the
      // same operations as sigmoid() (kernels/lstm_ref.ts), so the same bits.
      const e = Math.exp(-Math.abs(x));
      sum += Math.max(x, 0) - x * t + Math.log1p(e);
      if (dlogits) dlogits[r * P + p] = ((x >= 0 ? 1 / (1 + e) : e / (1 + e)) - t) * scale;
    }
    if (loss) loss[r] = sum;
  }
}

const LOG2E = Math.LOG2E, LN2_HI = 0.6931471803691238, LN2_LO = 1.9082149292705877e-10;
const ROUND = 6755399441055744; // 1.5·2^52: x + ROUND − ROUND rounds x to an integer
const POW2_NEG = Float64Array.from({ length: 1076 }, (_, i) => 2 ** -i); // 2^−i, i ≤ 1075

/**
 * e^y for y ≤ 0 without a branch: y = k·ln 2 + r with k = round(y/ln 2) and |r| ≤ ln 2 / 2
 * (ln 2 in two parts, so r is exact to about 1e-19), e^r by its Taylor polynomial to r⁷ (error
 * below r⁸/8! ≤ 3.6e-9 relative), times 2^k from a table. Within 1e-8 relative of Math.exp over
 * [−745, 0] (tests/vae_test.ts), far below float32's 6e-8 rounding step; −Infinity gives 0 and
 * NaN gives NaN. V8's Math.exp branches on the size of its argument, and the decoder's logits
 * mix large negative values (background) with small ones (strokes): in a training step the
 * branchy exp cost the BCE about twice its time on random logits.
 *
 * @example
 * ```ts
 * import { expNonPositive } from "./vae_ref.ts";
 * expNonPositive(-1); // ≈ 0.36787944
 * ```
 */
export function expNonPositive(y: number): number {
  const z = Math.max(y, -745.1);
  const k = (z * LOG2E + ROUND) - ROUND;
  const r = (z - k * LN2_HI) - k * LN2_LO;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 +
                        r * (1 / 720 + r * (1 / 5040)))))));
  return p * POW2_NEG[-k];
}

/**
 * {@link bceRef} as the CPU probe runs it (probe/vae_cpu.ts), one pass over the logits: the
 * gradient (σ(x) − t)·scale overwrites the logits in place (they are not needed after), its sum
 * over rows is added to `dbias` (P) (the decoder bias gradient, float32 adds in row order as
 * kernels/linear_ref.ts does), and loss[r] = Σ_p (max(x, 0) − x·t) + ln Π_p (1 + e^−|x|): one
 * logarithm per row (in chunks of at most 1000 factors, each in (1, 2], so the product stays
 * finite) instead of one log1p per pixel, and e^−|x| by {@link expNonPositive} (no branch)
 * instead of Math.exp: that is {@link bceScalar}, within about 1e-8 of bceRef. Where WebAssembly
 * SIMD runs it is {@link bceSimd} instead, in float32 (σ within about 1e-7, the loss 1e-6).
 * bceRef stays the readable reference the tests hold both to.
 *
 * @example
 * ```ts
 * import { bceInPlace } from "./vae_ref.ts";
 * const x = new Float32Array([0, 80]), loss = new Float32Array(1), db = new Float32Array(2);
 * bceInPlace({ rows: 1, pixels: 2 }, x, new Float32Array([1, 1]), loss, db, 1);
 * // loss[0] ≈ ln 2; x ≈ [-0.5, 0]; db ≈ [-0.5, 0]
 * ```
 */
export function bceInPlace(
  s: BceShape,
  logits: Float32Array, // (R, P) in; dlogits out
  target: Float32Array, // (targetRows, P) in [0, 1]
  loss: Float32Array, // (R) out
  dbias: Float32Array, // (P) += Σ_r dlogits
  scale: number,
): void {
  if (bceSimd(s, logits, target, loss, dbias, scale)) return;
  bceScalar(s, logits, target, loss, dbias, scale);
}

let scratch: SimdHeap | null | undefined; // this thread's, grown on demand

/**
 * {@link bceInPlace} on util/simd.ts's f32x4 loop, through a scratch heap (the logits and
 * targets copied in, the gradient copied out: 0.45 ms against 1.06 ms for {@link bceScalar} at
 * 128 × 784, copies included). Float32 throughout, so σ agrees with bceRef's to about 1e-7
 * relative and the per-row loss, summed in four float32 lanes, to about 1e-6. False, doing
 * nothing, where it does not apply: P not a multiple of 4, or no WebAssembly SIMD.
 */
export function bceSimd(
  s: BceShape,
  logits: Float32Array,
  target: Float32Array,
  loss: Float32Array,
  dbias: Float32Array,
  scale: number,
): boolean {
  const { rows: R, pixels: P } = s;
  if (P % 4 !== 0) return false;
  const need = 2 * R * P + P + 4 * R + 16;
  if (scratch === undefined || (scratch !== null && scratch.capacity < need)) {
    scratch = SimdHeap.create(need);
  }
  if (!scratch) return false;
  scratch.reset();
  const x = scratch.alloc(R * P), t = scratch.alloc(R * P);
  const db = scratch.alloc(P), l4 = scratch.alloc(4 * R);
  x.set(logits.subarray(0, R * P));
  bceOnHeap(scratch, s, x, target, t, loss, dbias, scale, db, l4);
  logits.set(x);
  return true;
}

/**
 * {@link bceSimd} on logits `x` (R, P) that already live in `heap` (the CPU VAE probe's
 * workspace): the targets are copied into `t` (R, P), the heap's `db` (P) and `l4` (4R) are
 * scratch, and the results land as bceInPlace leaves them (x the gradient, dbias += its row
 * sums, loss per row). P must be a multiple of 4 and WebAssembly SIMD present (`heap` exists).
 */
export function bceOnHeap(
  heap: SimdHeap,
  s: BceShape,
  x: Float32Array,
  target: Float32Array,
  t: Float32Array,
  loss: Float32Array,
  dbias: Float32Array,
  scale: number,
  db: Float32Array,
  l4: Float32Array,
): void {
  const { rows: R, pixels: P } = s, tr = s.targetRows ?? R;
  if (tr === R) t.set(target.subarray(0, R * P));
  else for (let r = 0; r < R; r++) t.set(target.subarray((r % tr) * P, (r % tr + 1) * P), r * P);
  db.fill(0);
  heap.bce(x, t, db, l4, R, P, scale);
  for (let p = 0; p < P; p++) dbias[p] += db[p];
  for (let r = 0; r < R; r++) loss[r] = l4[4 * r] + l4[4 * r + 1] + l4[4 * r + 2] + l4[4 * r + 3];
}

/** {@link bceInPlace} in double-precision JavaScript (where WebAssembly SIMD does not run). */
export function bceScalar(
  s: BceShape,
  logits: Float32Array, // (R, P) in; dlogits out
  target: Float32Array, // (targetRows, P) in [0, 1]
  loss: Float32Array, // (R) out
  dbias: Float32Array, // (P) += Σ_r dlogits
  scale: number,
): void {
  const { rows, pixels: P } = s;
  const tr = s.targetRows ?? rows;
  // The logits' sign bits pick σ's numerator without a branch: where a logit's sign is a coin
  // toss a mispredicted branch per pixel cost about 15% of this loop (1.81 → 1.57 ms at
  // 128 × 784 on N(0, 16) logits; on mostly negative, decoder-like ones it made no difference,
  // bench/cpu_step_bench.ts "bce"). neg is 1 for x < 0 (and −0, where e = 1, so the numerator is
  // 1 either way); e·neg + (1 − neg) is exactly e or 1, and (x + |x|)/2 exactly max(x, 0).
  const bits = new Int32Array(logits.buffer, logits.byteOffset, logits.length);
  for (let r = 0; r < rows; r++) {
    let sum = 0, logs = 0;
    const o = r * P, t0 = (r % tr) * P;
    for (let p0 = 0; p0 < P; p0 += 1000) {
      const p1 = Math.min(P, p0 + 1000);
      let prod = 1;
      for (let p = p0; p < p1; p++) {
        const x = logits[o + p], t = target[t0 + p], neg = bits[o + p] >>> 31;
        const e = expNonPositive(-Math.abs(x)), q = 1 + e;
        sum += (x + Math.abs(x)) * 0.5 - x * t;
        prod *= q;
        const g = Math.fround(((e * neg + (1 - neg)) / q - t) * scale);
        logits[o + p] = g;
        dbias[p] += g;
      }
      logs += Math.log(prod);
    }
    loss[r] = sum + logs;
  }
}

/** Reconstructions from decoder logits: out = σ(logits), element-wise. */
export function sigmoidRef(logits: Float32Array, out: Float32Array): void {
  for (let i = 0; i < logits.length; i++) out[i] = sigmoid(logits[i]);
}

/** The probe's loss: mean over rows of BCE_r + KL_r (see the module doc). */
export function vaeLossRef(bce: Float32Array, kl: Float32Array): number {
  let s = 0;
  for (let r = 0; r < bce.length; r++) s += bce[r] + kl[r];
  return s / bce.length;
}
