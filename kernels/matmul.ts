/**
 * GPU wrapper for the matrix-product kernels and the column sums (kernels/colsum.wgsl,
 * kernels/colsum_vec4.wgsl). CPU reference: kernels/matmul_ref.ts.
 *
 * Three implementations share one contract, C = act(op(A)·op(B) + bias [+ C]) [⊙ (mask > 0)]
 * with op() given by strides, and {@link bindMatmul} picks one per shape:
 * - "blocked" (software adapters): kernels/matmul_blocked.wgsl, 32×16 or 16×16 register blocks
 *   with vec4 loads, one pipeline per operand layout of a linear layer (nt, nn, tn), for shapes
 *   whose contiguous axes are multiples of 4 and whose output is at least 16×16;
 * - "tiled" (real GPUs): kernels/matmul_tiled.wgsl, 64×64 workgroup tiles through workgroup
 *   memory, any shape;
 * - "strided": kernels/matmul.wgsl, 4×4 blocks with no workgroup memory, any shape; the
 *   fallback for everything the others do not take, with row blocks along x when C has more
 *   rows than columns.
 * bench/matmul_variants_bench.ts measured the choices.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import { type Tensor, tensor } from "../gpu/tensor.ts";
import type { Activation, MatmulShape } from "./matmul_ref.ts";
import matmulWgsl from "./matmul.wgsl" with { type: "text" };
import blockedWgsl from "./matmul_blocked.wgsl" with { type: "text" };
import tiledWgsl from "./matmul_tiled.wgsl" with { type: "text" };
import colsumWgsl from "./colsum.wgsl" with { type: "text" };
import colsumVec4Wgsl from "./colsum_vec4.wgsl" with { type: "text" };

const ACT: Record<Activation, number> = { none: 0, relu: 1, tanh: 2, sigmoid: 3 };
const TILE = 8; // strided kernel: workgroup is TILE×TILE invocations, each computing a 4×4 block
const STORAGE = ["read", "read", "read", "read_write", "read"] as const;
const COLSUM4_WG = 8; // invocations per workgroup of the vec4 column sum

/** How matrix products run; see the module doc. */
export type MatmulStrategy = "blocked" | "tiled" | "strided";

/** The operand layouts of a linear layer's three products (row-major storage). */
export type MatmulLayout = "nt" | "nn" | "tn";

/** A register block of the blocked kernels: rows × (4·cols4) columns of C per invocation. */
export interface Block {
  rows: number;
  cols4: number;
}

/**
 * The blocks compiled, largest first; a product takes the first whose rows fit twice in M
 * (so two threads share it) or, failing that, the last one that fits at all. 32×16 ran about
 * 10% faster than 16×16 on the RAM's products (bench/matmul_variants_bench.ts).
 */
export const BLOCKS: readonly Block[] = [{ rows: 32, cols4: 4 }, { rows: 16, cols4: 4 }];

/** Workgroup of the blocked kernels: 8 invocations fill llvmpipe's 8 lanes. */
const BLOCK_WG = { x: 8, y: 1 } as const;

/** The strategy measured fastest on this kind of adapter. */
export function defaultMatmulStrategy(gpu: { readonly isSoftware: boolean }): MatmulStrategy {
  return gpu.isSoftware ? "blocked" : "tiled";
}

/**
 * The compiled matrix-product kernels: itself the general strided kernel (so it is the
 * `Kernel` older callers hold), plus the kernels of its strategy.
 */
export interface MatmulKernel extends Kernel {
  readonly strategy: MatmulStrategy;
  /**
   * The strided kernel with row blocks along x, for outputs with more rows than columns (a
   * few-column output leaves most of llvmpipe's 8 lanes idle with columns along x: 1.5–5×
   * faster on the RAM's heads and fc2, bench/matmul_variants_bench.ts).
   */
  readonly stridedRows: Kernel;
  /** Register-blocked pipelines by layout, one set per entry of {@link BLOCKS} ("blocked"). */
  readonly blocked: readonly Readonly<Record<MatmulLayout, Kernel>>[] | null;
  /** Workgroup-tiled pipeline ("tiled" only). */
  readonly tiled: Kernel | null;
}

/**
 * The unrolled entry point of kernels/matmul_blocked.wgsl for one layout and an rb×(4·cb)
 * block (loops over local arrays were not unrolled by llvmpipe and ran slower).
 */
export function blockedEntry(layout: MatmulLayout, rb: number, cb: number): string {
  if (layout === "tn" && rb % 4 !== 0) throw new Error(`matmul: tn block rows ${rb} % 4 != 0`);
  const L: string[] = [];
  const each = (f: (i: number, c: number) => string) => {
    for (let i = 0; i < rb; i++) for (let c = 0; c < cb; c++) L.push(f(i, c));
  };
  L.push(
    "@compute @workgroup_size(WG_X, WG_Y)",
    "fn main(@builtin(global_invocation_id) gid: vec3u) {",
    `  let row0 = gid.y * ${rb}u;`,
    `  let col4 = gid.x * ${cb}u;`,
    "  let N4 = p.N / 4u;",
    "  if (row0 >= p.M || col4 >= N4) { return; }",
  );
  // Rows and columns past the edge are clamped for loading and dropped by put().
  if (layout === "tn") {
    L.push("  let M4 = p.M / 4u;");
    for (let q = 0; q < rb / 4; q++) L.push(`  let ra${q} = min(row0 / 4u + ${q}u, M4 - 1u);`);
  } else {
    L.push("  let K4 = p.K / 4u;");
    for (let i = 0; i < rb; i++) L.push(`  let ra${i} = min(row0 + ${i}u, p.M - 1u) * K4;`);
  }
  if (layout === "nt") {
    for (let j = 0; j < 4 * cb; j++) {
      L.push(`  let rb${j} = min(4u * col4 + ${j}u, p.N - 1u) * K4;`);
    }
  } else {
    for (let c = 0; c < cb; c++) L.push(`  let cb${c} = min(col4 + ${c}u, N4 - 1u);`);
  }
  each((i, c) => `  var acc${i}_${c} = vec4f(0.0);`);
  if (layout === "nt") {
    // acc[i][c] += Σ_k A[i, 4k..4k+3]·B[4c+j, 4k..4k+3]: the transposed 4×4 block of B times a_i.
    L.push("  for (var k = 0u; k < K4; k++) {");
    for (let c = 0; c < cb; c++) {
      const rows = [0, 1, 2, 3].map((j) => `B[rb${4 * c + j} + k]`).join(", ");
      L.push(`    let b${c} = transpose(mat4x4f(${rows}));`);
    }
    for (let i = 0; i < rb; i++) {
      L.push(`    let a${i} = A[ra${i} + k];`);
      for (let c = 0; c < cb; c++) L.push(`    acc${i}_${c} += b${c} * a${i};`);
    }
  } else if (layout === "nn") {
    // acc[i][c] += Σ_{kk<4} B[4k+kk, cols c]·A[i, 4k+kk]: a 4×4 block of B times a_i.
    L.push("  for (var k = 0u; k < K4; k++) {", "    let kb = 4u * k * N4;");
    for (let c = 0; c < cb; c++) {
      const rows = [0, 1, 2, 3].map((j) => `B[kb + ${j === 0 ? "" : `${j}u * N4 + `}cb${c}]`);
      L.push(`    let b${c} = mat4x4f(${rows.join(", ")});`);
    }
    for (let i = 0; i < rb; i++) {
      L.push(`    let a${i} = A[ra${i} + k];`);
      for (let c = 0; c < cb; c++) L.push(`    acc${i}_${c} += b${c} * a${i};`);
    }
  } else {
    // acc[4q+e][c] += A[k, 4q+e]·B[k, cols c]: an outer product per k.
    L.push("  for (var k = 0u; k < p.K; k++) {");
    for (let c = 0; c < cb; c++) L.push(`    let b${c} = B[k * N4 + cb${c}];`);
    for (let q = 0; q < rb / 4; q++) {
      L.push(`    let a${q} = A[k * M4 + ra${q}];`);
      ["x", "y", "z", "w"].forEach((e, n) => {
        for (let c = 0; c < cb; c++) L.push(`    acc${4 * q + n}_${c} += a${q}.${e} * b${c};`);
      });
    }
  }
  L.push("  }");
  each((i, c) => `  put(row0 + ${i}u, col4 + ${c}u, acc${i}_${c});`);
  L.push("}");
  return L.join("\n");
}

/**
 * Compiles the matrix-product kernels of `strategy` (default: {@link defaultMatmulStrategy}).
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { matmulKernel } from "./matmul.ts";
 * const k = await matmulKernel(await sharedGpu());
 * console.log(k.strategy); // "blocked" on llvmpipe
 * ```
 */
export async function matmulKernel(
  gpu: Gpu,
  strategy: MatmulStrategy = defaultMatmulStrategy(gpu),
): Promise<MatmulKernel> {
  const strided = await compileKernel(gpu, {
    name: "matmul",
    code: matmulWgsl,
    storage: STORAGE,
    constants: { WG_X: TILE, WG_Y: TILE },
  });
  let blocked: Record<MatmulLayout, Kernel>[] | null = null;
  if (strategy === "blocked") {
    blocked = [];
    for (const b of BLOCKS) {
      const compile = (layout: MatmulLayout) =>
        compileKernel(gpu, {
          name: `matmul blocked ${layout} ${b.rows}×${4 * b.cols4}`,
          code: `${blockedWgsl}\n${blockedEntry(layout, b.rows, b.cols4)}\n`,
          storage: STORAGE,
          constants: { WG_X: BLOCK_WG.x, WG_Y: BLOCK_WG.y },
        });
      blocked.push({ nt: await compile("nt"), nn: await compile("nn"), tn: await compile("tn") });
    }
  }
  const tiled = strategy === "tiled"
    ? await compileKernel(gpu, { name: "matmul tiled", code: tiledWgsl, storage: STORAGE })
    : null;
  const stridedRows = await compileKernel(gpu, {
    name: "matmul rows",
    code: matmulWgsl,
    storage: STORAGE,
    constants: { WG_X: TILE, WG_Y: TILE, ROWS_ON_X: 1 },
  });
  return { ...strided, strategy, stridedRows, blocked, tiled };
}

/** The column-sum kernel (itself, any N) and its vec4 form for N % 4 = 0. */
export interface ColsumKernel extends Kernel {
  readonly vec4: Kernel;
}

/** Compiles the column-sum kernels. */
export async function colsumKernel(gpu: Gpu): Promise<ColsumKernel> {
  const storage = ["read", "read_write"] as const;
  const scalar = await compileKernel(gpu, { name: "colsum", code: colsumWgsl, storage });
  // Small workgroups: a layer has only N/4 column groups, and more workgroups share out better
  // over the driver's threads.
  const vec4 = await compileKernel(gpu, {
    name: "colsum vec4",
    code: colsumVec4Wgsl,
    storage,
    constants: { WG: COLSUM4_WG },
  });
  return { ...scalar, vec4 };
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
  /**
   * (M,N) output of a ReLU: C is multiplied by (mask > 0), so a product that feeds a ReLU's
   * backward does it in place of a separate dispatch. Must not be C itself.
   */
  mask?: Tensor | null;
}

/** A bound matrix product that remembers its shape (for per-kernel profiles). */
export class MatmulDispatch extends Dispatch {
  constructor(
    gpu: Gpu,
    kernel: Kernel,
    buffers: readonly Tensor[],
    words: ArrayBuffer,
    workgroups: readonly [number, number?, number?],
    readonly shape: MatmulShape,
  ) {
    super(gpu, kernel, buffers, words, workgroups);
  }
}

/** The layout whose row-major addressing the strides of `s` describe, if any. */
export function layoutOf(s: MatmulShape): MatmulLayout | null {
  const { M, N, K, aRow, aCol, bRow, bCol } = s;
  if (aRow === K && aCol === 1 && bRow === 1 && bCol === K) return "nt";
  if (aRow === K && aCol === 1 && bRow === N && bCol === 1) return "nn";
  if (aRow === 1 && aCol === M && bRow === N && bCol === 1) return "tn";
  return null;
}

/**
 * The blocked kernel `s` runs on: its layout and index into {@link BLOCKS}, or null when the
 * sizes do not fit the vec4 kernels (contiguous axes not multiples of 4, or C smaller than
 * every block).
 */
export function blockedChoice(s: MatmulShape): { layout: MatmulLayout; block: number } | null {
  const layout = layoutOf(s);
  if (!layout || s.N % 4 !== 0 || (layout === "tn" ? s.M % 4 !== 0 : s.K % 4 !== 0)) return null;
  const fits = BLOCKS.map((b) => s.M >= b.rows && s.N >= 4 * b.cols4);
  const twice = BLOCKS.findIndex((b, i) => fits[i] && s.M >= 2 * b.rows);
  const block = twice >= 0 ? twice : fits.lastIndexOf(true);
  return block >= 0 ? { layout, block } : null;
}

/**
 * Binds C = act(op(A)·op(B) + bias [+ C]) [⊙ (mask > 0)] on the fastest kernel of `kernel`'s
 * strategy that takes this shape; FLOPs per encode: 2·M·N·K.
 */
export function bindMatmul(
  gpu: Gpu,
  kernel: Kernel | MatmulKernel,
  s: MatmulShape,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  opts: MatmulOptions = {},
): Dispatch {
  if (C.size < s.M * s.N) throw new Error(`matmul: output ${C.label} too small for ${s.M}×${s.N}`);
  const mask = opts.mask ?? null;
  if (mask && (mask.size < s.M * s.N || mask.buffer === C.buffer)) {
    throw new Error(
      `matmul: mask ${mask.label} must hold ${s.M}×${s.N} values in another buffer than ${C.label}`,
    );
  }
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
    has_mask: mask ? 1 : 0,
  });
  const buffers = [A, B, opts.bias ?? dummy(gpu), C, mask ?? dummy(gpu)];
  const k = "strategy" in kernel ? kernel : null;
  const choice = k?.blocked ? blockedChoice(s) : null;
  if (k?.blocked && choice) {
    const b = BLOCKS[choice.block];
    const rows = Math.ceil(s.M / b.rows), cols = Math.ceil(s.N / (4 * b.cols4));
    return new MatmulDispatch(gpu, k.blocked[choice.block][choice.layout], buffers, words, [
      groups(cols, BLOCK_WG.x),
      groups(rows, BLOCK_WG.y),
    ], s);
  }
  if (k?.tiled) {
    return new MatmulDispatch(gpu, k.tiled, buffers, words, [groups(s.N, 64), groups(s.M, 64)], s);
  }
  if (k && s.M > s.N) {
    return new MatmulDispatch(gpu, k.stridedRows, buffers, words, [
      groups(s.M, 4 * TILE),
      groups(s.N, 4 * TILE),
    ], s);
  }
  return new MatmulDispatch(gpu, kernel, buffers, words, [
    groups(s.N, 4 * TILE),
    groups(s.M, 4 * TILE),
  ], s);
}

/**
 * Binds out[j] (+)= Σ_i X[i,j] for a row-major M×N matrix (the vec4 kernel when `kernel` has
 * one and N % 4 = 0).
 */
export function bindColsum(
  gpu: Gpu,
  kernel: Kernel | ColsumKernel,
  M: number,
  N: number,
  X: Tensor,
  out: Tensor,
  accumulate = false,
): Dispatch {
  const words = packUniforms({ M, N, accumulate: accumulate ? 1 : 0 });
  if ("vec4" in kernel && N % 4 === 0) {
    return new Dispatch(gpu, kernel.vec4, [X, out], words, [groups(N / 4, COLSUM4_WG)]);
  }
  return new Dispatch(gpu, kernel, [X, out], words, [groups(N, 64)]);
}
