/**
 * nn.Linear forward and backward on the machine's BLAS (util/blas.ts): the same signatures and
 * maths as kernels/linear_ref.ts, which the tests hold them to, so a CPU model composed from the
 * references (the VAE probe, probe/vae_cpu.ts) runs its products at BLAS speed by swapping the
 * pair. Row-major: x (B, in), W (out, in), y (B, out).
 *
 * @module
 */
import type { Sgemm } from "../util/blas.ts";
import { activate, type Activation } from "./matmul_ref.ts";
import { reluFast } from "./activation_ref.ts";
import type { LinearShape } from "./linear_ref.ts";
import { linearBackwardRef, linearForwardRef } from "./linear_ref.ts";

/** A forward/backward pair with linear_ref.ts's signatures. */
export interface LinearOps {
  forward: typeof linearForwardRef;
  backward: typeof linearBackwardRef;
}

/** The TypeScript references. */
export const REF_LINEAR: LinearOps = { forward: linearForwardRef, backward: linearBackwardRef };

const BLAS_OPS = new WeakSet<LinearOps>();

/**
 * Which pair `ops` is: the TypeScript references, one made by {@link blasLinear}, or another.
 * Lets a copy of a model in a Worker (probe/pipeline.ts) run the same products as the original.
 *
 * @example
 * ```ts
 * import { linearKind, REF_LINEAR } from "./linear_blas.ts";
 * console.log(linearKind(REF_LINEAR)); // "reference"
 * ```
 */
export function linearKind(ops: LinearOps): "reference" | "blas" | "other" {
  return ops === REF_LINEAR ? "reference" : BLAS_OPS.has(ops) ? "blas" : "other";
}

function activateAll(y: Float32Array, n: number, act: Activation): void {
  if (act === "none") return;
  if (act === "relu") {
    reluFast(y, 0, n); // activate()'s ReLU on the bits, without a branch a value
    return;
  }
  for (let i = 0; i < n; i++) y[i] = activate(y[i], act);
}

/**
 * linear_ref.ts's pair with the products on `gemm`.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "../util/blas.ts";
 * import { blasLinear } from "./linear_blas.ts";
 * const ops = blasLinear(loadBlas()!.sgemm);
 * ```
 */
export function blasLinear(gemm: Sgemm): LinearOps {
  const forward = (
    s: LinearShape,
    x: Float32Array,
    W: Float32Array,
    b: Float32Array | null,
    y: Float32Array,
    act: Activation = "none",
    accumulate = false,
  ): void => {
    const { batch: B, inF, outF } = s;
    if (accumulate) {
      if (b) { for (let r = 0; r < B; r++) for (let j = 0; j < outF; j++) y[r * outF + j] += b[j]; }
    } else if (b) {
      for (let r = 0; r < B; r++) y.set(b, r * outF);
    } else {
      y.fill(0, 0, B * outF);
    }
    gemm(false, true, B, outF, inF, 1, x, inF, W, inF, 1, y, outF);
    activateAll(y, B * outF, act);
  };
  const backward = (
    s: LinearShape,
    x: Float32Array,
    W: Float32Array,
    dy: Float32Array,
    dx: Float32Array | null,
    dW: Float32Array | null,
    db: Float32Array | null,
    accumulateDx = false,
  ): void => {
    const { batch: B, inF, outF } = s;
    if (dx) gemm(false, false, B, inF, outF, 1, dy, outF, W, inF, accumulateDx ? 1 : 0, dx, inF);
    if (dW) gemm(true, false, outF, inF, B, 1, dy, outF, x, inF, 1, dW, inF);
    if (db) {
      for (let r = 0; r < B; r++) for (let j = 0; j < outF; j++) db[j] += dy[r * outF + j];
    }
  };
  const ops = { forward, backward };
  BLAS_OPS.add(ops);
  return ops;
}
