/**
 * CPU reference for kernels/matmul.wgsl and kernels/colsum.wgsl.
 *
 * @module
 */

/** Activation fused into a matrix product. */
export type Activation = "none" | "relu" | "tanh" | "sigmoid";

/** Strided matrix operands: op(A)[i,k] = A[i*aRow + k*aCol], op(B)[k,j] = B[k*bRow + j*bCol]. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  aRow: number;
  aCol: number;
  bRow: number;
  bCol: number;
}

/** Applies an activation to one value. */
export function activate(v: number, act: Activation): number {
  switch (act) {
    case "relu":
      return v > 0 ? v : 0;
    case "tanh":
      return Math.tanh(v);
    case "sigmoid":
      return 1 / (1 + Math.exp(-v));
    default:
      return v;
  }
}

/**
 * C(M,N) = act(op(A)·op(B) + bias [+ C]), then, when `mask` (M,N) is given, C ⊙ (mask > 0):
 * the backward of a ReLU whose output is `mask`, fused into the product that feeds it.
 *
 * @example
 * ```ts
 * import { matmulRef } from "./matmul_ref.ts";
 * const C = new Float32Array(1);
 * matmulRef(
 *   { M: 1, N: 1, K: 2, aRow: 2, aCol: 1, bRow: 1, bCol: 1 },
 *   new Float32Array([1, 2]), new Float32Array([3, 4]), null, C,
 * );
 * // C[0] === 11
 * ```
 */
export function matmulRef(
  s: MatmulShape,
  A: Float32Array,
  B: Float32Array,
  bias: Float32Array | null,
  C: Float32Array,
  accumulate = false,
  act: Activation = "none",
  mask: Float32Array | null = null,
): void {
  const { M, N, K, aRow, aCol, bRow, bCol } = s;
  const row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const a = A[i * aRow + k * aCol];
      if (a === 0) continue;
      const bk = k * bRow;
      for (let j = 0; j < N; j++) row[j] += a * B[bk + j * bCol];
    }
    for (let j = 0; j < N; j++) {
      let v = row[j];
      if (bias) v += bias[j];
      if (accumulate) v += C[i * N + j];
      v = activate(v, act);
      C[i * N + j] = mask && !(mask[i * N + j] > 0) ? 0 : v;
    }
  }
}

/** out[j] = Σ_i X[i*N + j] (+ out[j] when accumulating). */
export function colsumRef(
  M: number,
  N: number,
  X: Float32Array,
  out: Float32Array,
  accumulate = false,
): void {
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let i = 0; i < M; i++) s += X[i * N + j];
    out[j] = accumulate ? out[j] + s : s;
  }
}
