/**
 * A fully connected layer on the GPU, built from kernels/matmul.wgsl and kernels/colsum.wgsl.
 * CPU reference: kernels/linear_ref.ts.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import {
  bindColsum,
  bindMatmul,
  type ColsumKernel,
  colsumKernel,
  type MatmulKernel,
  matmulKernel,
  type MatmulStrategy,
} from "./matmul.ts";
import type { LinearShape } from "./linear_ref.ts";
import type { Activation } from "./matmul_ref.ts";

/** The compiled kernels a linear layer uses. */
export interface LinearKernels {
  matmul: MatmulKernel;
  colsum: ColsumKernel;
}

/**
 * Compiles the kernels for {@link bindLinearForward} and {@link bindLinearBackward}; the
 * matrix-product strategy defaults to the one measured fastest on this adapter.
 */
export async function linearKernels(gpu: Gpu, strategy?: MatmulStrategy): Promise<LinearKernels> {
  return { matmul: await matmulKernel(gpu, strategy), colsum: await colsumKernel(gpu) };
}

/** Binds y = act(x·Wᵀ + b) (+ y before act when accumulating). FLOPs: 2·B·in·out. */
export function bindLinearForward(
  gpu: Gpu,
  k: LinearKernels,
  s: LinearShape,
  x: Tensor,
  W: Tensor,
  b: Tensor | null,
  y: Tensor,
  act: Activation = "none",
  accumulate = false,
): Dispatch {
  return bindMatmul(
    gpu,
    k.matmul,
    { M: s.batch, N: s.outF, K: s.inF, aRow: s.inF, aCol: 1, bRow: 1, bCol: s.inF },
    x,
    W,
    y,
    { bias: b, act, accumulate },
  );
}

/** Gradient buffers for {@link bindLinearBackward}; null skips that gradient. */
export interface LinearGrads {
  dx: Tensor | null;
  dW: Tensor | null;
  db: Tensor | null;
  /** Add into dx instead of overwriting it. */
  accumulateDx?: boolean;
  /**
   * The layer's input x when it is a ReLU's output: dx comes out already through that ReLU's
   * backward (dx ⊙ (x > 0)), one dispatch fewer.
   */
  dxMask?: Tensor | null;
}

/**
 * Binds the backward of y = x·Wᵀ + b (dy is after any activation's backward):
 * dx (+)= dy·W, dW += dyᵀ·x, db += Σ_batch dy. FLOPs: 4·B·in·out (+ B·out).
 */
export function bindLinearBackward(
  gpu: Gpu,
  k: LinearKernels,
  s: LinearShape,
  x: Tensor,
  W: Tensor,
  dy: Tensor,
  g: LinearGrads,
): Dispatch[] {
  const { batch, inF, outF } = s;
  const out: Dispatch[] = [];
  if (g.dx) {
    out.push(bindMatmul(
      gpu,
      k.matmul,
      { M: batch, N: inF, K: outF, aRow: outF, aCol: 1, bRow: inF, bCol: 1 },
      dy,
      W,
      g.dx,
      { accumulate: g.accumulateDx ?? false, mask: g.dxMask ?? null },
    ));
  }
  if (g.dW) {
    out.push(bindMatmul(
      gpu,
      k.matmul,
      { M: outF, N: inF, K: batch, aRow: 1, aCol: outF, bRow: inF, bCol: 1 },
      dy,
      x,
      g.dW,
      { accumulate: true },
    ));
  }
  if (g.db) out.push(bindColsum(gpu, k.colsum, batch, outF, dy, g.db, true));
  return out;
}
