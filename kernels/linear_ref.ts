/**
 * CPU reference for a fully connected layer y = act(x·Wᵀ + b), PyTorch's nn.Linear layout:
 * W is (out, in) row-major. GPU version: kernels/linear.ts.
 *
 * @module
 */
import { type Activation, colsumRef, matmulRef } from "./matmul_ref.ts";

/** Sizes of a linear layer applied to a batch. */
export interface LinearShape {
  /** Batch rows. */
  batch: number;
  /** Input features. */
  inF: number;
  /** Output features. */
  outF: number;
}

/**
 * y(B,out) = act(x(B,in)·W(out,in)ᵀ + b(out)) (+ y when accumulating, before act).
 *
 * @example
 * ```ts
 * import { linearForwardRef } from "./linear_ref.ts";
 * const y = new Float32Array(1);
 * linearForwardRef({ batch: 1, inF: 2, outF: 1 }, new Float32Array([1, 2]),
 *   new Float32Array([3, 4]), new Float32Array([0.5]), y);
 * // y[0] === 11.5
 * ```
 */
export function linearForwardRef(
  s: LinearShape,
  x: Float32Array, // (B, in)
  W: Float32Array, // (out, in)
  b: Float32Array | null, // (out)
  y: Float32Array, // (B, out)
  act: Activation = "none",
  accumulate = false,
): void {
  matmulRef(
    { M: s.batch, N: s.outF, K: s.inF, aRow: s.inF, aCol: 1, bRow: 1, bCol: s.inF },
    x,
    W,
    b,
    y,
    accumulate,
    act,
  );
}

/**
 * Backward of y = x·Wᵀ + b given dy (the gradient after any activation):
 * dx (=, or += when accumulateDx) dy·W; dW += dyᵀ·x; db += Σ_batch dy.
 * Pass null for a gradient that is not needed.
 */
export function linearBackwardRef(
  s: LinearShape,
  x: Float32Array, // (B, in)
  W: Float32Array, // (out, in)
  dy: Float32Array, // (B, out)
  dx: Float32Array | null, // (B, in)
  dW: Float32Array | null, // (out, in), accumulated
  db: Float32Array | null, // (out), accumulated
  accumulateDx = false,
): void {
  const { batch, inF, outF } = s;
  if (dx) {
    matmulRef(
      { M: batch, N: inF, K: outF, aRow: outF, aCol: 1, bRow: inF, bCol: 1 },
      dy,
      W,
      null,
      dx,
      accumulateDx,
    );
  }
  if (dW) {
    matmulRef(
      { M: outF, N: inF, K: batch, aRow: 1, aCol: outF, bRow: inF, bCol: 1 },
      dy,
      x,
      null,
      dW,
      true,
    );
  }
  if (db) colsumRef(batch, outF, dy, db, true);
}
