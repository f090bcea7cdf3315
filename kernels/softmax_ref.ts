/**
 * CPU reference for kernels/softmax.wgsl: log-softmax, entropy, NLL and the fused
 * log-softmax + NLL backward.
 *
 * @module
 */

/** logp(B,C) = log_softmax(logits(B,C)) row-wise, stable for large logits. */
export function logSoftmaxRef(
  batch: number,
  C: number,
  logits: Float32Array,
  logp: Float32Array,
): void {
  for (let b = 0; b < batch; b++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[b * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[b * C + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) logp[b * C + c] = logits[b * C + c] - lse;
  }
}

/**
 * H = −Σ_c p·log p in nats of one row of C log-probabilities starting at `offset` (0·log 0 = 0).
 * The one entropy of the project: the kernel's reference, the EIG table, the EIG map, explain
 * and the entropy reward all call it.
 *
 * @example
 * ```ts
 * import { rowEntropy } from "./softmax_ref.ts";
 * rowEntropy([Math.log(0.5), Math.log(0.5)], 0, 2); // ln 2
 * ```
 */
export function rowEntropy(logp: ArrayLike<number>, offset: number, C: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const lp = logp[offset + c];
    const p = Math.exp(lp);
    if (p > 0) h -= p * lp;
  }
  return h;
}

/** H(B) = −Σ_c p·log p in nats, from log-probabilities (0·log 0 = 0). */
export function entropyRef(
  batch: number,
  C: number,
  logp: Float32Array,
  out: Float32Array | Float64Array,
): void {
  for (let b = 0; b < batch; b++) out[b] = rowEntropy(logp, b * C, C);
}

/** Mean over the batch of −logp[b, y_b]. */
export function nllRef(batch: number, C: number, logp: Float32Array, labels: Int32Array): number {
  let s = 0;
  for (let b = 0; b < batch; b++) s -= logp[b * C + labels[b]];
  return s / batch;
}

/**
 * Gradient of `scale`·mean_b NLL(log_softmax(logits)) with respect to the logits:
 * dlogits[b,c] = scale/B · (softmax[b,c] − [c = y_b]). Reads the log-probabilities. Row b's
 * label is labels[b % labels.length]: with fewer labels than rows (the class probe's T·B rows,
 * glimpse-major, over B images) they repeat.
 *
 * @example
 * ```ts
 * import { nllBackwardRef } from "./softmax_ref.ts";
 * const d = new Float32Array(2);
 * nllBackwardRef(1, 2, new Float32Array([Math.log(0.25), Math.log(0.75)]), new Int32Array([1]), d);
 * // d is [0.25, -0.25]
 * ```
 */
export function nllBackwardRef(
  batch: number,
  C: number,
  logp: Float32Array,
  labels: Int32Array,
  dlogits: Float32Array,
  scale = 1,
): void {
  const k = scale / batch, L = labels.length;
  for (let b = 0; b < batch; b++) {
    const y = labels[b % L];
    for (let c = 0; c < C; c++) {
      dlogits[b * C + c] = k * (Math.exp(logp[b * C + c]) - (c === y ? 1 : 0));
    }
  }
}

/** pred(B) = argmax_c x[b, c] (the first index on ties); x may be logits or log-probabilities. */
export function argmaxRef(batch: number, C: number, x: Float32Array, pred: Int32Array): void {
  for (let b = 0; b < batch; b++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (x[b * C + c] > x[b * C + best]) best = c;
    pred[b] = best;
  }
}
