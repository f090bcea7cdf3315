/**
 * WebAssembly SIMD for the CPU path's element-wise loops that V8 does not vectorise: Adam over
 * the flat parameter buffers, the sum of the lanes' gradient shares, the VAE probe's loss, and
 * the ReLUs of the RAM and the VAE probe with their backward. A {@link SimdHeap} is a
 * fixed block of WebAssembly memory that Float32Arrays are carved from; its loops run on arrays
 * that live in it, four floats at a time (f32x4).
 *
 * Why: a training step's Adam runs over about 242k RAM and 294k probe parameters. In V8 the loop
 * of kernels/adam_ref.ts adamHoisted takes 1.2 ms for 294,912 values (a division and a square
 * root in double precision each); the f32x4 loop here takes 0.18–0.31 ms (bench/cpu_step_bench.ts
 * "adam" rows). The VAE probe's loss (`bce`, kernels/vae_ref.ts bceSimd) likewise: 0.31 ms
 * with its copies against 1.1 for the best scalar form. It computes Adam in float32, as
 * PyTorch's Adam on float32 tensors does:
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + ((1−β2)·g)·g,  p ← p − s·m / (√v + f)
 * with s = lr·√(1−β2ᵗ)/(1−β1ᵗ) and f = ε·√(1−β2ᵗ) (adamHoisted's hoisting), every operation
 * rounded to float32. So it agrees with adamRef to float32 rounding, not bit for bit
 * (tests/simd_test.ts holds it to adamRef), and gives the same bits on every machine.
 *
 * The module is assembled here from its instructions (no toolchain, nothing fetched): five
 * functions, `adam(p, g, m, v, n, β1, 1−β1, β2, 1−β2, s, f)`, `add(dst, src, n)` (dst += src),
 * `bce(…)` ({@link SimdHeap.bce}), `relu(x, n)` and `reluBack(y, dy, dx, n)` (the ReLU and its
 * backward on the bits, as kernels/activation_ref.ts reluFast and reluBackwardFast: the RAM's and
 * the VAE probe's workspaces live in heaps for them), pointers in bytes; all but bce run a vector
 * loop over whole groups of four and a scalar loop over the rest, bce needs rows of a multiple of
 * four. A heap is `shared` when lane Workers (ram/blas_lanes.ts) update the same arrays: its memory
 * then travels to them in a message, and {@link SimdHeap.adopt} opens it there.
 *
 * @module
 */
/** Adam's hyper-parameters (as kernels/adam_ref.ts AdamOptions). */
export interface SimdAdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

const PAGE = 65536;

// ---- a minimal assembler: just what the three functions need ----
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)], set = (i: number) => [0x21, ...uleb(i)];
const i32 = (n: number) => [0x41, ...uleb(n)]; // n < 64: the unsigned and signed LEB agree
const simd = (op: number) => [0xfd, ...uleb(op)];
const ADD_I32 = [0x6a], SHL_I32 = [0x74], GE_U = [0x4f], GT_U = [0x4b];
const BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40], END = [0x0b];
const brIf = (d: number) => [0x0d, d], br = (d: number) => [0x0c, d];
const v128Load = [...simd(0x00), 4, 0], v128Store = [...simd(0x0b), 4, 0];
const f32Load = [0x2a, 2, 0], f32Store = [0x38, 2, 0];
const i32Load = [0x28, 2, 0], i32Store = [0x36, 2, 0];
const [AND_I32, OR_I32, XOR_I32, SUB_I32, SHR_S_I32] = [[0x71], [0x72], [0x73], [0x6b], [0x75]];
const I32_ALL_ONES = [0x41, 0x7f]; // i32.const −1 (signed LEB)
const F4 = { splat: 0x13, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7 };
const F1 = { sqrt: [0x91], add: [0x92], sub: [0x93], mul: [0x94], div: [0x95] };

/** A function body: its locals and instructions. */
function body(locals: [number, number][], code: number[][]): number[] {
  const b = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code.flat(), ...END];
  return [...uleb(b.length), ...b];
}

/**
 * One element-wise loop over bytes [0, 4n) from the pointers' starts: `vector` on 16 bytes at
 * offset i (local `i`) while 16 fit, then `scalar` on 4 bytes.
 */
function loops(n: number, i: number, end: number, vector: number[][], scalar: number[][]) {
  // deno-fmt-ignore
  return [
    get(n), i32(2), SHL_I32, set(end),
    BLOCK, LOOP, get(i), i32(16), ADD_I32, get(end), GT_U, brIf(1),
    ...vector,
    get(i), i32(16), ADD_I32, set(i), br(0), END, END,
    BLOCK, LOOP, get(i), get(end), GE_U, brIf(1),
    ...scalar,
    get(i), i32(4), ADD_I32, set(i), br(0), END, END,
  ];
}

/**
 * adam(p, g, m, v, n, b1, a1, b2, a2, s, f): params 0–10; locals 11 i, 12 end, 13–18 splats,
 * 19 g, 20 m, 21 v (vectors), 22–24 the same as scalars.
 */
function adamBody(): number[] {
  const at = (ptr: number) => [get(ptr), get(11), ADD_I32];
  const k = (j: number) => get(13 + j); // splat of param 5 + j
  const s = (j: number) => get(5 + j); // scalar param 5 + j
  const tee = (i: number) => [0x22, ...uleb(i)];
  // deno-fmt-ignore
  const vector = [
    ...at(1), v128Load, set(19),
    // m ← b1·m + a1·g
    ...at(2), k(0), ...at(2), v128Load, simd(F4.mul), k(1), get(19), simd(F4.mul), simd(F4.add),
    tee(20), v128Store,
    // v ← b2·v + (a2·g)·g
    ...at(3), k(2), ...at(3), v128Load, simd(F4.mul), k(3), get(19), simd(F4.mul), get(19),
    simd(F4.mul), simd(F4.add), tee(21), v128Store,
    // p ← p − s·m / (√v + f)
    ...at(0), ...at(0), v128Load, k(4), get(20), simd(F4.mul), get(21), simd(F4.sqrt), k(5),
    simd(F4.add), simd(F4.div), simd(F4.sub), v128Store,
  ];
  // deno-fmt-ignore
  const scalar = [
    ...at(1), f32Load, set(22),
    ...at(2), s(0), ...at(2), f32Load, F1.mul, s(1), get(22), F1.mul, F1.add, tee(23), f32Store,
    ...at(3), s(2), ...at(3), f32Load, F1.mul, s(3), get(22), F1.mul, get(22), F1.mul, F1.add,
    tee(24), f32Store,
    ...at(0), ...at(0), f32Load, s(4), get(23), F1.mul, get(24), F1.sqrt, s(5), F1.add, F1.div,
    F1.sub, f32Store,
  ];
  const splats = [0, 1, 2, 3, 4, 5].flatMap((j) => [s(j), simd(F4.splat), set(13 + j)]);
  return body([[2, I32], [9, V128], [3, F32]], [...splats, ...loops(4, 11, 12, vector, scalar)]);
}

/** add(dst, src, n): params 0–2; locals 3 i, 4 end. */
function addBody(): number[] {
  const at = (ptr: number) => [get(ptr), get(3), ADD_I32];
  const vector = [...at(0), ...at(0), v128Load, ...at(1), v128Load, simd(F4.add), v128Store];
  const scalar = [...at(0), ...at(0), f32Load, ...at(1), f32Load, F1.add, f32Store];
  return body([[2, I32]], loops(2, 3, 4, vector, scalar));
}

/** v128.const of four copies of the float32 `v`. */
function f4(v: number): number[] {
  const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return [...simd(0x0c), ...b];
}
/** v128.const of four copies of the int32 `v`. */
function i4(v: number): number[] {
  const b = new Uint8Array(new Int32Array([v, v, v, v]).buffer);
  return [...simd(0x0c), ...b];
}

/**
 * relu(x, n): on the bits, as kernels/activation_ref.ts reluFast, x ← x & ~(x >> 31): a value
 * with its sign bit set becomes +0. Params 0–1; locals 2 i, 3 end, 4 the vector, 5 the word.
 */
function reluBody(): number[] {
  const at = [get(0), get(2), ADD_I32], tee = (i: number) => [0x22, ...uleb(i)];
  const [SHR_S_I4, ANDNOT] = [simd(0xac), simd(0x4f)];
  // deno-fmt-ignore
  const vector = [...at, ...at, v128Load, tee(4), get(4), i32(31), SHR_S_I4, ANDNOT, v128Store];
  // deno-fmt-ignore
  const scalar = [
    ...at, ...at, i32Load, tee(5), get(5), i32(31), SHR_S_I32, I32_ALL_ONES, XOR_I32, AND_I32,
    i32Store,
  ];
  return body([[2, I32], [1, V128], [1, I32]], loops(1, 2, 3, vector, scalar));
}

/**
 * reluBack(y, dy, dx, n): dx ← dy & ((y | −y) >> 31) on the bits, as kernels/activation_ref.ts
 * reluBackwardFast (dy where y > 0, else +0 for a y that is +0). Params 0–3; locals 4 i, 5 end,
 * 6 the vector, 7 the word.
 */
function reluBackBody(): number[] {
  const at = (ptr: number) => [get(ptr), get(4), ADD_I32], tee = (i: number) => [0x22, ...uleb(i)];
  const [SHR_S_I4, NEG_I4, AND, OR] = [simd(0xac), simd(0xa1), simd(0x4e), simd(0x50)];
  // deno-fmt-ignore
  const vector = [
    ...at(2), ...at(1), v128Load, ...at(0), v128Load, tee(6), NEG_I4, get(6), OR, i32(31), SHR_S_I4,
    AND, v128Store,
  ];
  // deno-fmt-ignore
  const scalar = [
    ...at(2), ...at(1), i32Load, i32(0), ...at(0), i32Load, tee(7), SUB_I32, get(7), OR_I32,
    i32(31), SHR_S_I32, AND_I32, i32Store,
  ];
  return body([[2, I32], [1, V128], [1, I32]], loops(3, 4, 5, vector, scalar));
}

/**
 * bce(logits, target, dbias, loss, rows, P, scale): the VAE probe's loss and its gradient in
 * place, as kernels/vae_ref.ts bceInPlace (P a multiple of 4, target row r for logit row r):
 * per pixel, with a = min(|x|, 87) and e = e^−a (range reduction by k = round(−a/ln 2), Taylor
 * to r⁷, 2^k from the exponent bits) and q = 1 + e,
 *   g = ((x < 0 ? e : 1) / q − t)·scale   over the logit, added to dbias[p],
 *   ℓ = max(x, 0) − x·t + ln q,
 * where ln q is taken once per 32 pixels of a lane: the lanes multiply their q (each in (1, 2],
 * so 32 of them stay below 2^32), and the product's logarithm is its exponent times ln 2 plus
 * ln m of its mantissa m in [1, 2), 2·atanh((m − 1)/(m + 1)) to u¹³ (bceInPlace's scalar form
 * does likewise, per row). That saves a division and a series a pixel: 0.44 → 0.28 ms for
 * 128 × 784. The four lanes' sums of ℓ of row r go to loss[4r..4r+3]. Constants are splatted
 * once into locals.
 * Params 0–6; locals (i32) 7 r, 8 off, 9 row end, 10 pixel offset, 11 chunk end; (v128) 12 x,
 * 13 t, 14 a, 15 k, 16 r, 17 e, 18 q, 19 g, 20 product, 21 sum, 22 m, 23 u, 24 u², 25 scale,
 * 26.. the constants.
 */
function bceBody(): number[] {
  const op = (n: number) => simd(n);
  const [ABS, NEG, MIN, MAX, NEAREST, LT] = [0xe0, 0xe1, 0xe8, 0xe9, 0x6a, 0x43].map(op);
  const [TRUNC_I32, ADD_I4, SUB_I4, SHL_I4, SHR_S_I4] = [0xf8, 0xae, 0xb1, 0xab, 0xac].map(op);
  const [BITSELECT, AND, OR, CONVERT] = [0x52, 0x4e, 0x50, 0xfa].map(op);
  const [ADD, SUB, MUL, DIV] = [F4.add, F4.sub, F4.mul, F4.div].map(op);
  const tee = (i: number) => [0x22, ...uleb(i)];
  // The constants, each splatted once into a local from 26 on.
  const consts: number[][] = [];
  const c = (v128: number[]): number[] => {
    const key = v128.join(",");
    let i = consts.findIndex((k) => k.join(",") === key);
    if (i < 0) i = consts.push(v128) - 1;
    return get(26 + i);
  };
  const fc = (v: number) => c(f4(v)), ic = (v: number) => c(i4(v));
  const horner = (x: number, coeffs: number[]) => {
    const out: number[][] = [fc(coeffs[0])];
    for (const k of coeffs.slice(1)) out.push(get(x), MUL, fc(k), ADD);
    return out;
  };
  const at = (ptr: number, off: number) => [get(ptr), get(off), ADD_I32];
  // deno-fmt-ignore
  const pixel = [
    ...at(0, 8), v128Load, set(12),
    ...at(1, 8), v128Load, set(13),
    get(12), ABS, fc(87), MIN, set(14),
    get(14), NEG, fc(Math.LOG2E), MUL, NEAREST, set(15),
    get(14), NEG, get(15), fc(0.693359375), MUL, SUB, get(15), fc(-2.12194440e-4), MUL, SUB,
    set(16),
    ...horner(16, [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1]),
    get(15), TRUNC_I32, ic(127), ADD_I4, i32(23), SHL_I4, MUL, tee(17),
    fc(1), ADD, tee(18),
    get(20), MUL, set(20), // the lanes' product of q
    // g = (select(e, 1, x < 0) / q − t)·scale, in place and into dbias
    ...at(0, 8),
    get(17), fc(1), get(12), fc(0), LT, BITSELECT, get(18), DIV, get(13), SUB, get(25), MUL,
    tee(19), v128Store,
    ...at(2, 10), ...at(2, 10), v128Load, get(19), ADD, v128Store,
    // ℓ − ln q = max(x, 0) − x·t
    get(21), get(12), fc(0), MAX, ADD, get(12), get(13), MUL, SUB, set(21),
    get(8), i32(16), ADD_I32, set(8), get(10), i32(16), ADD_I32, set(10),
  ];
  // sum += ln(product): exponent·ln 2 + 2·atanh(u), u = (m − 1)/(m + 1), then product = 1.
  // deno-fmt-ignore
  const flush = [
    get(20), ic(0x007fffff), AND, ic(0x3f800000), OR, set(22),
    get(22), fc(1), SUB, get(22), fc(1), ADD, DIV, tee(23), get(23), MUL, set(24),
    get(21),
    get(20), i32(23), SHR_S_I4, ic(127), SUB_I4, CONVERT, fc(Math.LN2), MUL, ADD,
    get(23), ...horner(24, [2 / 13, 2 / 11, 2 / 9, 2 / 7, 2 / 5, 2 / 3, 2]), MUL, ADD, set(21),
    fc(1), set(20),
  ];
  const [LT_U, SELECT] = [[0x49], [0x1b]];
  // deno-fmt-ignore
  const code = [
    get(6), simd(F4.splat), set(25),
    BLOCK, LOOP, get(7), get(4), GE_U, brIf(1),
    get(8), get(5), i32(2), SHL_I32, ADD_I32, set(9),
    i32(0), set(10), fc(0), set(21), fc(1), set(20),
    BLOCK, LOOP, get(8), get(9), GE_U, brIf(1),
    // chunk end = min(off + 128 bytes·4, row end): 32 vectors
    get(8), i32(63), i32(3), SHL_I32, i32(8), ADD_I32, ADD_I32, tee(11), get(9),
    get(11), get(9), LT_U, SELECT, set(11),
    BLOCK, LOOP, get(8), get(11), GE_U, brIf(1), ...pixel, br(0), END, END,
    ...flush,
    br(0), END, END,
    get(3), get(7), i32(4), SHL_I32, ADD_I32, get(21), v128Store,
    get(7), i32(1), ADD_I32, set(7), br(0), END, END,
  ];
  const splats = consts.flatMap((v, i) => [v, set(26 + i)]);
  return body([[5, I32], [14 + consts.length, V128]], [...splats, ...code]);
}

/** The module's bytes; `shared` imports a shared memory (of up to 65536 pages). */
export function simdModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const adamType = [0x60, ...vec([...Array(5).fill([I32]), ...Array(6).fill([F32])]), 0];
  const addType = [0x60, ...vec([[I32], [I32], [I32]]), 0];
  const bceType = [0x60, ...vec([...Array(6).fill([I32]), [F32]]), 0];
  const reluType = [0x60, ...vec([[I32], [I32]]), 0];
  const reluBackType = [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0];
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // the magic "\0asm", version 1
    ...section(1, vec([adamType, addType, bceType, reluType, reluBackType])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vec([[0], [1], [2], [3], [4]])),
    ...section(
      7,
      vec(["adam", "add", "bce", "relu", "reluBack"].map((f, i) => [...name(f), 0, i])),
    ),
    ...section(10, vec([adamBody(), addBody(), bceBody(), reluBody(), reluBackBody()])),
  ]);
}

interface SimdExports {
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    b1: number,
    a1: number,
    b2: number,
    a2: number,
    s: number,
    f: number,
  ): void;
  add(dst: number, src: number, n: number): void;
  relu(x: number, n: number): void;
  reluBack(y: number, dy: number, dx: number, n: number): void;
  bce(
    logits: number,
    target: number,
    dbias: number,
    loss: number,
    rows: number,
    P: number,
    scale: number,
  ): void;
}

const modules: (WebAssembly.Module | null | undefined)[] = [undefined, undefined];
/** The compiled module, or null where WebAssembly SIMD (or shared memory) is missing. */
function moduleFor(shared: boolean): WebAssembly.Module | null {
  const i = shared ? 1 : 0;
  if (modules[i] === undefined) {
    try {
      modules[i] = new WebAssembly.Module(simdModuleBytes(shared));
    } catch {
      modules[i] = null;
    }
  }
  return modules[i]!;
}

/**
 * A fixed block of WebAssembly memory that Float32Arrays are carved from, with the SIMD loops
 * over them. It never grows, so its arrays stay valid.
 *
 * @example
 * ```ts
 * import { SimdHeap } from "./simd.ts";
 * const heap = SimdHeap.create(4)!; // null where WebAssembly SIMD is missing
 * const p = heap.alloc(1), g = heap.alloc(1), m = heap.alloc(1), v = heap.alloc(1);
 * p[0] = 1;
 * g[0] = 2;
 * heap.adam(p, g, m, v, 1, { lr: 0.1 }); // p[0] ≈ 0.9, as adamRef
 * ```
 */
export class SimdHeap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly #x: SimdExports;
  #next = 0;

  private constructor(memory: WebAssembly.Memory, shared: boolean, module: WebAssembly.Module) {
    this.memory = memory;
    this.shared = shared;
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.#x = instance.exports as unknown as SimdExports;
  }

  /**
   * A heap with room for `floats` values (each array padded to 16 bytes: allow 4 a tensor), or
   * null where WebAssembly SIMD (or, `shared`, shared memory) is not available.
   */
  static create(floats: number, { shared = false } = {}): SimdHeap | null {
    const module = moduleFor(shared);
    if (!module) return null;
    const pages = Math.max(1, Math.ceil((4 * floats + 64) / PAGE));
    const memory = new WebAssembly.Memory(
      shared
        ? { initial: pages, maximum: pages, shared: true }
        : { initial: pages, maximum: pages },
    );
    return new SimdHeap(memory, shared, module);
  }

  /**
   * A heap just big enough for the arrays `build` allocates, and what it built from them: `build`
   * runs once to count (its arrays then empty) and once on the heap's arrays. Null where
   * WebAssembly SIMD (or, `shared`, shared memory) is not available.
   */
  static fitted<T>(
    build: (alloc: (n: number) => Float32Array) => T,
    { shared = false } = {},
  ): { heap: SimdHeap; built: T } | null {
    let floats = 16;
    build((n) => {
      floats += n + 4; // each array 16-byte aligned
      return new Float32Array(0);
    });
    const heap = SimdHeap.create(floats, { shared });
    return heap ? { heap, built: build((n) => heap.alloc(n)) } : null;
  }

  /** The heap of a shared `memory` received from another thread (it allocates nothing). */
  static adopt(memory: WebAssembly.Memory): SimdHeap {
    const module = moduleFor(true);
    if (!module) throw new Error("SimdHeap.adopt: WebAssembly SIMD with shared memory is missing");
    const heap = new SimdHeap(memory, true, module);
    heap.#next = memory.buffer.byteLength;
    return heap;
  }

  /** `n` zeros, 16-byte aligned; throws when the heap is full. */
  alloc(n: number): Float32Array {
    const at = this.#next, end = at + 4 * n;
    if (end > this.memory.buffer.byteLength) {
      throw new Error(
        `SimdHeap: ${n} floats do not fit (${this.memory.buffer.byteLength - at} bytes left)`,
      );
    }
    this.#next = Math.ceil(end / 16) * 16;
    return new Float32Array(this.memory.buffer, at, n);
  }

  /** The same values as `a` (an array of this heap's memory sent from another thread), here. */
  view(a: Float32Array): Float32Array {
    return new Float32Array(this.memory.buffer, a.byteOffset, a.length);
  }

  /** True when every array lies in this heap's memory. */
  owns(...arrays: Float32Array[]): boolean {
    const buf = this.memory.buffer;
    return arrays.every((a) => a.buffer === buf);
  }

  /**
   * One Adam step (PyTorch's defaults, step t ≥ 1) in float32, four values at a time; the
   * arrays must be this heap's and of one length. The module doc has the formula.
   */
  adam(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    t: number,
    o: SimdAdamOptions,
  ) {
    const n = p.length;
    if (!this.owns(p, g, m, v) || g.length !== n || m.length !== n || v.length !== n) {
      throw new Error("SimdHeap.adam: the arrays must be this heap's, of one length");
    }
    const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8;
    const c1 = 1 - b1 ** t, sc2 = Math.sqrt(1 - b2 ** t);
    const s = o.lr * sc2 / c1, f = eps * sc2;
    this.#x.adam(
      p.byteOffset,
      g.byteOffset,
      m.byteOffset,
      v.byteOffset,
      n,
      b1,
      1 - b1,
      b2,
      1 - b2,
      s,
      f,
    );
  }

  /** Floats the heap holds in all. */
  get capacity(): number {
    return this.memory.buffer.byteLength / 4;
  }

  /** Starts allocating from the beginning again: arrays allocated before now alias new ones. */
  reset(): void {
    this.#next = 0;
  }

  /**
   * The VAE probe's loss and gradient over `rows` rows of `P` pixels (P a multiple of 4), as
   * kernels/vae_ref.ts bceInPlace computes them but in float32, four pixels at a time: `logits`
   * (rows, P) become the gradient times `scale`, its row sums are added to `dbias` (P), and
   * `loss4` (rows, 4) gets four partial sums of each row's loss (add them). `target` is
   * (rows, P). The arrays must be this heap's.
   */
  bce(
    logits: Float32Array,
    target: Float32Array,
    dbias: Float32Array,
    loss4: Float32Array,
    rows: number,
    P: number,
    scale: number,
  ): void {
    if (
      !this.owns(logits, target, dbias, loss4) || P % 4 !== 0 || logits.length < rows * P ||
      target.length < rows * P || dbias.length < P || loss4.length < 4 * rows
    ) {
      throw new Error("SimdHeap.bce: the arrays must be this heap's, of their sizes, P % 4 = 0");
    }
    this.#x.bce(
      logits.byteOffset,
      target.byteOffset,
      dbias.byteOffset,
      loss4.byteOffset,
      rows,
      P,
      scale,
    );
  }

  /**
   * ReLU in place on the bits, as kernels/activation_ref.ts reluFast (the same bits), four
   * values at a time. `x` must be this heap's.
   */
  relu(x: Float32Array): void {
    if (!this.owns(x)) throw new Error("SimdHeap.relu: the array must be this heap's");
    this.#x.relu(x.byteOffset, x.length);
  }

  /**
   * dx = dy ⊙ (y > 0) for `y` a ReLU output, as kernels/activation_ref.ts reluBackwardFast (the
   * same bits), four values at a time; dx may be dy. The arrays must be this heap's, of one
   * length.
   */
  reluBackward(y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const n = y.length;
    if (!this.owns(y, dy, dx) || dy.length !== n || dx.length !== n) {
      throw new Error("SimdHeap.reluBackward: the arrays must be this heap's, of one length");
    }
    this.#x.reluBack(y.byteOffset, dy.byteOffset, dx.byteOffset, n);
  }

  /**
   * db[j] += Σ_r dy[r·cols + j] over `rows` rows, in float32 in row order, as the bias gradient
   * of kernels/linear_blas.ts (the same bits): one {@link add} a row. The arrays must be this
   * heap's.
   */
  colsum(db: Float32Array, dy: Float32Array, rows: number): void {
    const cols = db.length;
    if (!this.owns(db, dy) || dy.length < rows * cols) {
      throw new Error("SimdHeap.colsum: the arrays must be this heap's, dy of rows × db.length");
    }
    for (let r = 0, at = dy.byteOffset; r < rows; r++, at += 4 * cols) {
      this.#x.add(db.byteOffset, at, cols);
    }
  }

  /** dst += src in float32 (the arrays must be this heap's and of one length). */
  add(dst: Float32Array, src: Float32Array): void {
    if (!this.owns(dst, src) || src.length !== dst.length) {
      throw new Error("SimdHeap.add: the arrays must be this heap's, of one length");
    }
    this.#x.add(dst.byteOffset, src.byteOffset, dst.length);
  }
}
