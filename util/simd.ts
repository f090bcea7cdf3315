/**
 * WebAssembly SIMD for the CPU path's element-wise loops that V8 does not vectorise: Adam over
 * the flat parameter buffers, and the sum of the lanes' gradient shares. A {@link SimdHeap} is a
 * fixed block of WebAssembly memory that Float32Arrays are carved from; its loops run on arrays
 * that live in it, four floats at a time (f32x4).
 *
 * Why: a training step's Adam runs over about 242k RAM and 294k probe parameters. In V8 the loop
 * of kernels/adam_ref.ts adamHoisted takes 1.2 ms for 294,912 values (a division and a square
 * root in double precision each); the f32x4 loop here takes 0.18–0.31 ms (bench/cpu_step_bench.ts
 * "adam" rows). The VAE probe's loss (`bce`, kernels/vae_ref.ts bceSimd) likewise: 0.49 ms
 * against 1.1 for the best scalar form. It computes Adam in float32, as PyTorch's Adam on float32 tensors does:
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + ((1−β2)·g)·g,  p ← p − s·m / (√v + f)
 * with s = lr·√(1−β2ᵗ)/(1−β1ᵗ) and f = ε·√(1−β2ᵗ) (adamHoisted's hoisting), every operation
 * rounded to float32. So it agrees with adamRef to float32 rounding, not bit for bit
 * (tests/simd_test.ts holds it to adamRef), and gives the same bits on every machine.
 *
 * The module is assembled here from its instructions (no toolchain, nothing fetched): three
 * functions, `adam(p, g, m, v, n, β1, 1−β1, β2, 1−β2, s, f)`, `add(dst, src, n)` (dst += src)
 * and `bce(…)` ({@link SimdHeap.bce}), pointers in bytes; adam and add run a vector loop over
 * whole groups of four and a scalar loop over the rest, bce needs rows of a multiple of four.
 * A heap is `shared` when lane Workers (ram/blas_lanes.ts) update the same arrays: its memory
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
 * bce(logits, target, dbias, loss, rows, P, scale): the VAE probe's loss and its gradient in
 * place, as kernels/vae_ref.ts bceInPlace (P a multiple of 4, target row r for logit row r):
 * per pixel, with a = min(|x|, 87) and e = e^−a (range reduction by k = round(−a/ln 2), Taylor
 * to r⁷, 2^k from the exponent bits),
 *   g = ((x < 0 ? e : 1) / (1 + e) − t)·scale   over the logit, added to dbias[p],
 *   ℓ = max(x, 0) − x·t + ln(1 + e)             ln(1 + e) = 2·atanh(e / (2 + e)) to u¹¹,
 * and the four lanes' sums of ℓ of row r at loss[4r..4r+3]. Params 0–6; locals 7 r, 8 off,
 * 9 row end, 10 pixel offset; 11 x, 12 t, 13 a, 14 k, 15 r, 16 p, 17 e, 18 q, 19 g, 20 u, 21 u²,
 * 22 sum, 23 scale (vectors).
 */
function bceBody(): number[] {
  const op = (n: number) => simd(n);
  const [ABS, NEG, MIN, MAX, NEAREST, LT] = [0xe0, 0xe1, 0xe8, 0xe9, 0x6a, 0x43].map(op);
  const [TRUNC_I32, ADD_I4, SHL_I4, BITSELECT] = [0xf8, 0xae, 0xab, 0x52].map(op);
  const [ADD, SUB, MUL, DIV] = [F4.add, F4.sub, F4.mul, F4.div].map(op);
  const tee = (i: number) => [0x22, ...uleb(i)];
  const horner = (x: number, coeffs: number[]) => {
    const out: number[][] = [f4(coeffs[0])];
    for (const c of coeffs.slice(1)) out.push(get(x), MUL, f4(c), ADD);
    return out;
  };
  const at = (ptr: number, off: number) => [get(ptr), get(off), ADD_I32];
  // deno-fmt-ignore
  const pixel = [
    ...at(0, 8), v128Load, set(11),
    ...at(1, 8), v128Load, set(12),
    get(11), ABS, f4(87), MIN, set(13),
    get(13), NEG, f4(Math.LOG2E), MUL, NEAREST, set(14),
    get(13), NEG, get(14), f4(0.693359375), MUL, SUB, get(14), f4(-2.12194440e-4), MUL, SUB,
    set(15),
    ...horner(15, [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1]), set(16),
    get(16), get(14), TRUNC_I32, i4(127), ADD_I4, i32(23), SHL_I4, MUL, tee(17),
    f4(1), ADD, set(18),
    // g = (select(e, 1, x < 0) / q − t)·scale, in place and into dbias
    ...at(0, 8),
    get(17), f4(1), get(11), f4(0), LT, BITSELECT, get(18), DIV, get(12), SUB, get(23), MUL,
    tee(19), v128Store,
    ...at(2, 10), ...at(2, 10), v128Load, get(19), ADD, v128Store,
    // ℓ = max(x, 0) − x·t + 2·atanh(u), u = e / (2 + e)
    get(17), get(17), f4(2), ADD, DIV, tee(20), get(20), MUL, set(21),
    get(22), get(11), f4(0), MAX, ADD, get(11), get(12), MUL, SUB,
    get(20), ...horner(21, [2 / 11, 2 / 9, 2 / 7, 2 / 5, 2 / 3, 2]), MUL, ADD, set(22),
    get(8), i32(16), ADD_I32, set(8), get(10), i32(16), ADD_I32, set(10),
  ];
  // deno-fmt-ignore
  const code = [
    get(6), simd(F4.splat), set(23),
    BLOCK, LOOP, get(7), get(4), GE_U, brIf(1),
    get(8), get(5), i32(2), SHL_I32, ADD_I32, set(9),
    i32(0), set(10), f4(0), set(22),
    BLOCK, LOOP, get(8), get(9), GE_U, brIf(1), ...pixel, br(0), END, END,
    get(3), get(7), i32(4), SHL_I32, ADD_I32, get(22), v128Store,
    get(7), i32(1), ADD_I32, set(7), br(0), END, END,
  ];
  return body([[4, I32], [13, V128]], code);
}

/** The module's bytes; `shared` imports a shared memory (of up to 65536 pages). */
export function simdModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const adamType = [0x60, ...vec([...Array(5).fill([I32]), ...Array(6).fill([F32])]), 0];
  const addType = [0x60, ...vec([[I32], [I32], [I32]]), 0];
  const bceType = [0x60, ...vec([...Array(6).fill([I32]), [F32]]), 0];
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // the magic "\0asm", version 1
    ...section(1, vec([adamType, addType, bceType])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vec([[0], [1], [2]])),
    ...section(7, vec([[...name("adam"), 0, 0], [...name("add"), 0, 1], [...name("bce"), 0, 2]])),
    ...section(10, vec([adamBody(), addBody(), bceBody()])),
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

  /** dst += src in float32 (the arrays must be this heap's and of one length). */
  add(dst: Float32Array, src: Float32Array): void {
    if (!this.owns(dst, src) || src.length !== dst.length) {
      throw new Error("SimdHeap.add: the arrays must be this heap's, of one length");
    }
    this.#x.add(dst.byteOffset, src.byteOffset, dst.length);
  }
}
