/**
 * The probe loss's earlier forms, kept for bench/cpu_step_bench.ts to measure the one in
 * kernels/vae_ref.ts bceInPlace against: `branchy` (Math.exp and a branch per pixel on the
 * logit's sign, the form until 2026-11-30) and `branchless` (Math.exp, the sign from the float's
 * bits). bceInPlace adds a branchless exp (expNonPositive). Each writes the gradient over the
 * logits, adds its row sums to `dbias` and the per-row loss to `loss`, as bceInPlace does.
 *
 * @module
 */

/** Sizes: R rows of P pixels, targets row r compared with row r (no target reuse). */
export interface BceVariantShape {
  rows: number;
  pixels: number;
}

type Bce = (
  s: BceVariantShape,
  logits: Float32Array,
  target: Float32Array,
  loss: Float32Array,
  dbias: Float32Array,
  scale: number,
) => void;

/** Math.exp, branches on the sign of x. */
export const bceBranchy: Bce = (s, logits, target, loss, dbias, scale) => {
  const { rows, pixels: P } = s;
  for (let r = 0; r < rows; r++) {
    let sum = 0, prod = 1;
    for (let p = 0; p < P; p++) {
      const x = logits[r * P + p], t = target[r * P + p];
      const e = Math.exp(-Math.abs(x)), q = 1 + e;
      sum += (x > 0 ? x : 0) - x * t;
      prod *= q;
      const g = Math.fround(((x >= 0 ? 1 : e) / q - t) * scale);
      logits[r * P + p] = g;
      dbias[p] += g;
    }
    loss[r] = sum + Math.log(prod);
  }
};

/** Math.exp, the sign from the float's bits. */
export const bceBranchless: Bce = (s, logits, target, loss, dbias, scale) => {
  const { rows, pixels: P } = s;
  const bits = new Int32Array(logits.buffer, logits.byteOffset, logits.length);
  for (let r = 0; r < rows; r++) {
    let sum = 0, prod = 1;
    for (let p = 0; p < P; p++) {
      const i = r * P + p, x = logits[i], t = target[i], neg = bits[i] >>> 31;
      const e = Math.exp(-Math.abs(x)), q = 1 + e;
      sum += (x + Math.abs(x)) * 0.5 - x * t;
      prod *= q;
      const g = Math.fround(((e * neg + (1 - neg)) / q - t) * scale);
      logits[i] = g;
      dbias[p] += g;
    }
    loss[r] = sum + Math.log(prod);
  }
};
