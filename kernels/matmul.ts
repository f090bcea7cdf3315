/**
 * GPU wrapper for kernels/matmul.wgsl and kernels/colsum.wgsl. CPU reference:
 * kernels/matmul_ref.ts.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import { type Tensor, tensor } from "../gpu/tensor.ts";
import type { Activation, MatmulShape } from "./matmul_ref.ts";
import matmulWgsl from "./matmul.wgsl" with { type: "text" };
import colsumWgsl from "./colsum.wgsl" with { type: "text" };

const ACT: Record<Activation, number> = { none: 0, relu: 1, tanh: 2, sigmoid: 3 };
const TILE = 8; // workgroup is TILE×TILE invocations, each computing a 4×4 block

/** Compiles the matmul kernel. */
export function matmulKernel(gpu: Gpu): Promise<Kernel> {
  return compileKernel(gpu, {
    name: "matmul",
    code: matmulWgsl,
    storage: ["read", "read", "read", "read_write"],
    constants: { WG_X: TILE, WG_Y: TILE },
  });
}

/** Compiles the column-sum kernel. */
export function colsumKernel(gpu: Gpu): Promise<Kernel> {
  return compileKernel(gpu, { name: "colsum", code: colsumWgsl, storage: ["read", "read_write"] });
}

const dummies = new WeakMap<Gpu, Tensor>();
/** A 4-float tensor bound where a kernel's optional input is absent. */
export function dummy(gpu: Gpu): Tensor {
  let t = dummies.get(gpu);
  if (!t) {
    t = tensor(gpu, [4], "dummy");
    dummies.set(gpu, t);
  }
  return t;
}

/** Options of a bound matrix product. */
export interface MatmulOptions {
  bias?: Tensor | null;
  accumulate?: boolean;
  act?: Activation;
}

/** Binds C = act(op(A)·op(B) + bias [+ C]); FLOPs per encode: 2·M·N·K. */
export function bindMatmul(
  gpu: Gpu,
  kernel: Kernel,
  s: MatmulShape,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  opts: MatmulOptions = {},
): Dispatch {
  if (C.size < s.M * s.N) throw new Error(`matmul: output ${C.label} too small for ${s.M}×${s.N}`);
  const words = packUniforms({
    M: s.M,
    N: s.N,
    K: s.K,
    a_rs: s.aRow,
    a_cs: s.aCol,
    b_rs: s.bRow,
    b_cs: s.bCol,
    accumulate: opts.accumulate ? 1 : 0,
    has_bias: opts.bias ? 1 : 0,
    act: ACT[opts.act ?? "none"],
  });
  return new Dispatch(gpu, kernel, [A, B, opts.bias ?? dummy(gpu), C], words, [
    groups(s.N, 4 * TILE),
    groups(s.M, 4 * TILE),
  ]);
}

/** Binds out[j] (+)= Σ_i X[i,j] for a row-major M×N matrix. */
export function bindColsum(
  gpu: Gpu,
  kernel: Kernel,
  M: number,
  N: number,
  X: Tensor,
  out: Tensor,
  accumulate = false,
): Dispatch {
  return new Dispatch(
    gpu,
    kernel,
    [X, out],
    packUniforms({ M, N, accumulate: accumulate ? 1 : 0 }),
    [
      groups(N, 64),
    ],
  );
}
