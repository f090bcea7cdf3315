/**
 * The matrix-product variants the dev benches compare (bench/matmul_variants_bench.ts,
 * bench/llvmpipe_step.ts): how each compiles, which shapes it takes, its grid, and a bind that
 * packs the uniforms of kernels/matmul.wgsl. The production kernels (kernels/matmul.ts) are the
 * winners among these; the rest stay here so a new adapter can be measured against them.
 *
 * @module
 */
import type { Gpu } from "../../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../../gpu/kernel.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import type { Activation, MatmulShape } from "../../kernels/matmul_ref.ts";
import { blockedEntry, type MatmulLayout } from "../../kernels/matmul.ts";
import stridedWgsl from "./matmul_strided_4x4.wgsl" with { type: "text" };
import vec4Wgsl from "./matmul_vec4.wgsl" with { type: "text" };
import blockedWgsl from "../../kernels/matmul_blocked.wgsl" with { type: "text" };
import matmulWgsl from "../../kernels/matmul.wgsl" with { type: "text" };

/** One way to compute a product: how to compile it, when it applies, and its grid. */
export interface Variant {
  name: string;
  code: string;
  entry: (l: MatmulLayout) => string;
  constants: Record<string, number>;
  applies: (l: MatmulLayout, s: MatmulShape) => boolean;
  grid: (s: MatmulShape) => [number, number];
}

const strided: Variant = {
  name: "strided 4×4 wg 8×8 (baseline)",
  code: stridedWgsl,
  entry: () => "main",
  constants: { WG_X: 8, WG_Y: 8 },
  applies: () => true,
  grid: (s) => [groups(s.N, 32), groups(s.M, 32)],
};

function vec4(rb: number, cb: number, wgx: number, wgy: number, uniform: boolean): Variant {
  return {
    name: `vec4 ${rb}×${4 * cb} wg ${wgx}×${wgy}${uniform ? " uniform rows" : ""}`,
    code: vec4Wgsl,
    entry: (l) => l,
    constants: { WG_X: wgx, WG_Y: wgy, RB: rb, CB: cb, UNIFORM_ROWS: uniform ? 1 : 0 },
    applies: (l, s) =>
      s.N % 4 === 0 && (l === "tn" ? s.M % 4 === 0 && rb % 4 === 0 : s.K % 4 === 0),
    grid: (s) => [
      groups(Math.ceil(s.N / (4 * cb)), wgx),
      uniform ? Math.ceil(s.M / rb) : groups(Math.ceil(s.M / rb), wgy),
    ],
  };
}

/**
 * Fully unrolled blocks (no arrays, no loops over the block): kernels/matmul_blocked.wgsl with
 * the entry point kernels/matmul.ts generates, for any block shape and workgroup.
 */
function unrolled(rb: number, cb: number, wgx = 8, wgy = 8): Variant {
  const code = (["nt", "nn", "tn"] as MatmulLayout[]).map((l) =>
    rb % 4 === 0 || l !== "tn" ? blockedEntry(l, rb, cb).replace("fn main(", `fn main_${l}(`) : ""
  );
  return {
    ...vec4(rb, cb, wgx, wgy, false),
    name: `unrolled ${rb}×${4 * cb} wg ${wgx}×${wgy}`,
    code: `${blockedWgsl}\n${code.join("\n\n")}\n`,
    entry: (l) => `main_${l}`,
    constants: { WG_X: wgx, WG_Y: wgy },
  };
}

/** The production strided kernel with blocks of rows along x (for outputs few columns wide). */
const stridedRowsOnX: Variant = {
  name: "strided 4×4 wg 8×8 rows on x",
  code: matmulWgsl,
  entry: () => "main",
  constants: { WG_X: 8, WG_Y: 8, ROWS_ON_X: 1 },
  applies: () => true,
  grid: (s) => [groups(s.M, 32), groups(s.N, 32)],
};

/** Every variant, by the index the benches print beside it ([0] is the baseline). */
export const VARIANTS: readonly Variant[] = [
  strided,
  vec4(4, 1, 8, 8, false),
  vec4(8, 1, 8, 8, false),
  vec4(4, 2, 8, 8, false),
  vec4(8, 2, 8, 8, false),
  vec4(4, 1, 64, 1, true),
  vec4(8, 1, 64, 1, true),
  vec4(8, 2, 64, 1, true),
  unrolled(8, 1),
  unrolled(8, 2),
  unrolled(16, 2),
  unrolled(16, 4),
  unrolled(32, 2),
  unrolled(32, 4),
  unrolled(16, 4, 8, 1),
  unrolled(32, 2, 8, 1),
  unrolled(32, 4, 8, 1),
  stridedRowsOnX,
];

/** The product of a linear layer in×out over `rows` rows in layout `l` (row-major operands). */
export function layerShape(l: MatmulLayout, rows: number, inF: number, outF: number): MatmulShape {
  switch (l) {
    case "nt":
      return { M: rows, N: outF, K: inF, aRow: inF, aCol: 1, bRow: 1, bCol: inF };
    case "nn":
      return { M: rows, N: inF, K: outF, aRow: outF, aCol: 1, bRow: inF, bCol: 1 };
    case "tn":
      return { M: outF, N: inF, K: rows, aRow: 1, aCol: outF, bRow: inF, bCol: 1 };
  }
}

const compiled = new WeakMap<Gpu, Map<string, Kernel>>();
/** The variant's pipeline for layout `l` (compiled once per device). */
export async function variantKernel(gpu: Gpu, v: Variant, l: MatmulLayout): Promise<Kernel> {
  let cache = compiled.get(gpu);
  if (!cache) compiled.set(gpu, cache = new Map());
  const key = `${v.name}|${l}`;
  let k = cache.get(key);
  if (!k) {
    k = await compileKernel(gpu, {
      name: `matmul ${v.name} ${l}`,
      code: v.code,
      entryPoint: v.entry(l),
      storage: ["read", "read", "read", "read_write", "read"], // the last: the ReLU mask
      constants: v.constants,
    });
    cache.set(key, k);
  }
  return k;
}

/** Binds C = act(op(A)·op(B) + bias [+ C]) on variant `v` (bufs: A, B, bias, C). */
export function bindVariant(
  gpu: Gpu,
  k: Kernel,
  v: Variant,
  s: MatmulShape,
  bufs: readonly [Tensor, Tensor, Tensor, Tensor],
  o: { accumulate: boolean; bias: boolean; act: Activation },
): Dispatch {
  const act = { none: 0, relu: 1, tanh: 2, sigmoid: 3 }[o.act];
  const words = packUniforms({
    M: s.M,
    N: s.N,
    K: s.K,
    a_rs: s.aRow,
    a_cs: s.aCol,
    b_rs: s.bRow,
    b_cs: s.bCol,
    accumulate: o.accumulate ? 1 : 0,
    has_bias: o.bias ? 1 : 0,
    act,
    has_mask: 0,
  });
  return new Dispatch(gpu, k, [...bufs, bufs[2]], words, v.grid(s));
}
