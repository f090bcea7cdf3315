/**
 * CPU reference for kernels/lstm.wgsl: the element-wise LSTM cell of the RAM's optional LSTM
 * core, and its backward. GPU version: kernels/lstm.ts.
 *
 * The gate pre-activations z = x·Wihᵀ + h·Whhᵀ + b come from two linear layers (the second
 * accumulating) and are laid out as in PyTorch's nn.LSTM: each row of z (B, 4H) holds the
 * chunks i, f, g, o of H values each. The cell keeps the activated gates, and the caller
 * keeps c and c', because that is everything the backward needs (tanh(c') is recomputed).
 *
 * @module
 */

/** Sizes of one LSTM cell step. */
export interface LstmShape {
  /** Batch rows. */
  batch: number;
  /** Hidden size H (z and the gates have 4H columns). */
  hidden: number;
}

/** σ(v) without overflow for large |v|. */
export function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/**
 * One LSTM cell step from pre-activations:
 * i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o), c' = f·c + i·g, h' = o·tanh(c').
 * Writes the activated gates (the backward reads them), c' and h'.
 *
 * @example
 * ```ts
 * import { lstmCellRef } from "./lstm_ref.ts";
 * const s = { batch: 1, hidden: 1 };
 * const gates = new Float32Array(4), c1 = new Float32Array(1), h1 = new Float32Array(1);
 * lstmCellRef(s, new Float32Array([0, 0, 0, 0]), new Float32Array([2]), gates, c1, h1);
 * // gates is [0.5, 0.5, 0, 0.5]; c1[0] === 1; h1[0] === 0.5·tanh(1)
 * ```
 */
export function lstmCellRef(
  s: LstmShape,
  z: Float32Array, // (B, 4H) pre-activations, chunks i, f, g, o
  c: Float32Array, // (B, H) previous cell state
  gates: Float32Array, // (B, 4H) out: σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
  cNext: Float32Array, // (B, H) out: c'
  hNext: Float32Array, // (B, H) out: h'
): void {
  const { batch, hidden: H } = s;
  for (let b = 0; b < batch; b++) {
    const zr = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(z[zr + j]);
      const f = sigmoid(z[zr + H + j]);
      const g = Math.tanh(z[zr + 2 * H + j]);
      const o = sigmoid(z[zr + 3 * H + j]);
      gates[zr + j] = i;
      gates[zr + H + j] = f;
      gates[zr + 2 * H + j] = g;
      gates[zr + 3 * H + j] = o;
      const cn = f * c[b * H + j] + i * g;
      cNext[b * H + j] = cn;
      hNext[b * H + j] = o * Math.tanh(cn);
    }
  }
}

/**
 * Backward of {@link lstmCellRef}. Given dh' (the gradient reaching h' from the classifier
 * and the next step) and dc' (reaching c' from the next step; null where there is none, at
 * the last glimpse), writes dz (B, 4H), ready for the two linear backwards, and dc (B, H),
 * the dc' of the previous step:
 *   dc_tot = dc' + dh'·o·(1 − tanh²c'),
 *   dz_i = dc_tot·g·i(1 − i), dz_f = dc_tot·c·f(1 − f), dz_g = dc_tot·i·(1 − g²),
 *   dz_o = dh'·tanh(c')·o(1 − o), dc = dc_tot·f.
 * `dc` may be the same array as `dcNext` (updated in place, as the GPU kernel does).
 *
 * @example
 * ```ts
 * import { lstmCellBackwardRef, lstmCellRef } from "./lstm_ref.ts";
 * const s = { batch: 1, hidden: 1 };
 * const z = new Float32Array([0.1, 0.2, 0.3, 0.4]), c = new Float32Array([0.5]);
 * const gates = new Float32Array(4), c1 = new Float32Array(1), h1 = new Float32Array(1);
 * lstmCellRef(s, z, c, gates, c1, h1);
 * const dz = new Float32Array(4), dc = new Float32Array(1);
 * lstmCellBackwardRef(s, gates, c, c1, new Float32Array([1]), null, dz, dc);
 * ```
 */
export function lstmCellBackwardRef(
  s: LstmShape,
  gates: Float32Array, // (B, 4H) activated gates from the forward
  c: Float32Array, // (B, H) previous cell state
  cNext: Float32Array, // (B, H) c' from the forward
  dhNext: Float32Array, // (B, H) dL/dh'
  dcNext: Float32Array | null, // (B, H) dL/dc' from the next step, or null for zero
  dz: Float32Array, // (B, 4H) out: dL/dz
  dc: Float32Array, // (B, H) out: dL/dc
): void {
  const { batch, hidden: H } = s;
  for (let b = 0; b < batch; b++) {
    const zr = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const i = gates[zr + j];
      const f = gates[zr + H + j];
      const g = gates[zr + 2 * H + j];
      const o = gates[zr + 3 * H + j];
      const tc = Math.tanh(cNext[k]);
      const dh = dhNext[k];
      const dcTot = (dcNext ? dcNext[k] : 0) + dh * o * (1 - tc * tc);
      dz[zr + j] = dcTot * g * i * (1 - i);
      dz[zr + H + j] = dcTot * c[k] * f * (1 - f);
      dz[zr + 2 * H + j] = dcTot * i * (1 - g * g);
      dz[zr + 3 * H + j] = dh * tc * o * (1 - o);
      dc[k] = dcTot * f;
    }
  }
}
