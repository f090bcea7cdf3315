// Register-blocked matrix products for software adapters (llvmpipe, lavapipe), one operand
// layout per pipeline, with fused bias, accumulation, activation and ReLU-backward mask as in
// matmul.wgsl:
//   nt: C = act(A·Bᵀ + bias [+ C]), A (M,K), B (N,K)  forward y = x·Wᵀ      K, N multiples of 4
//   nn: C = act(A·B  + bias [+ C]), A (M,K), B (K,N)  input grad dx = dy·W  K, N multiples of 4
//   tn: C = act(Aᵀ·B + bias [+ C]), A (K,M), B (K,N)  weight grad dW = dyᵀ·x M, N multiples of 4
// (all row-major). Each invocation keeps an RB×(4·CB) block of C in registers and reads both
// operands as vec4s along their contiguous axis; no workgroup memory, no barriers.
//
// Why the block is large (16×16 by default): llvmpipe runs 8 invocations per SIMD batch, but
// every storage-buffer load becomes a loop over the 8 lanes with a bounds check per component,
// whatever the addresses, so the cost of a product is set by the scalar loads per lane and
// multiply-add. An RB×4CB block needs (4·RB + 16·CB) loads per 16·RB·CB multiply-adds; the
// accumulators spill to the stack, which is far cheaper than the loads it saves
// (bench/matmul_variants_bench.ts: 16×16 runs 4–6× faster than the 4×4 strided kernel).
// Loops over a local array were not unrolled by the driver at these sizes (they ran slower than
// 8×4), so kernels/matmul.ts generates the unrolled entry point `main` for a given
// (layout, RB, CB) and appends it to this file; the shared parts are here.
//
// Bindings: 0 uniforms Params (as matmul.wgsl; strides unused), 1 A (read), 2 B (read),
// 3 bias (read, N; ignored unless has_bias), 4 C (read_write, M×N), 5 Y (read, M×N; ignored
// unless has_mask).

struct Params {
  M: u32, N: u32, K: u32,
  a_rs: u32, a_cs: u32, b_rs: u32, b_cs: u32,
  accumulate: u32, // 1: add the existing C
  has_bias: u32,
  act: u32,        // 0 none, 1 relu, 2 tanh, 3 sigmoid
  has_mask: u32,   // 1: C ⊙ (Y > 0), a ReLU's backward fused in
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read> B: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(5) var<storage, read> Y: array<vec4f>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 1u;

fn activate(v: vec4f) -> vec4f {
  switch p.act {
    case 1u: { return max(v, vec4f(0.0)); }
    case 2u: { return tanh(v); }
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

// Writes columns 4·col4 .. 4·col4 + 3 of `row`, dropping what lies outside C.
fn put(row: u32, col4: u32, v: vec4f) {
  let N4 = p.N / 4u;
  if (row >= p.M || col4 >= N4) { return; }
  let idx = row * N4 + col4;
  var o = v;
  if (p.has_bias != 0u) { o += bias[col4]; }
  if (p.accumulate != 0u) { o += C[idx]; }
  o = activate(o);
  if (p.has_mask != 0u) { o = select(vec4f(0.0), o, Y[idx] > vec4f(0.0)); }
  C[idx] = o;
}
