// Workgroup-tiled matrix product for real GPUs, same contract as matmul.wgsl (strided op(A),
// op(B), fused bias, accumulation, activation and ReLU-backward mask):
//   C(M,N) = act( op(A)(M,K) · op(B)(K,N) + bias(N) [+ C] ),
//   op(A)[i,k] = A[i*a_rs + k*a_cs],  op(B)[k,j] = B[k*b_rs + j*b_cs].
// A 16×16 workgroup computes a 64×64 tile of C, each invocation a 4×4 block; K advances 16 at a
// time through workgroup memory, loaded with neighbouring invocations on the operand's unit-
// stride axis so the loads coalesce. Outside M, N or K the tiles hold zeros.
// On software adapters the barriers make this slow (DESIGN.md); kernels/matmul.ts picks the
// register-blocked kernels there and this one where !gpu.isSoftware.
//
// Bindings: 0 uniforms Params, 1 A (read), 2 B (read), 3 bias (read, N; ignored unless
// has_bias), 4 C (read_write, M×N row-major), 5 Y (read, M×N; ignored unless has_mask).

struct Params {
  M: u32, N: u32, K: u32,
  a_rs: u32, a_cs: u32, b_rs: u32, b_cs: u32,
  accumulate: u32,
  has_bias: u32,
  act: u32,
  has_mask: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read> Y: array<f32>;

const TILE: u32 = 64u; // rows and columns of C per workgroup
const TK: u32 = 16u;   // K per step
var<workgroup> As: array<f32, 1024>; // (TK, TILE): As[k*TILE + i] = op(A)[row0 + i, k0 + k]
var<workgroup> Bs: array<f32, 1024>; // (TK, TILE): Bs[k*TILE + j] = op(B)[k0 + k, col0 + j]

fn activate(v: f32) -> f32 {
  switch p.act {
    case 1u: { return max(v, 0.0); }
    case 2u: { return tanh(v); }
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let li = lid.y * 16u + lid.x;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var e = 0u; e < 4u; e++) {
      let idx = li + e * 256u;
      // Neighbouring invocations walk the axis whose stride is 1.
      var kk = idx / TILE;
      var ii = idx % TILE;
      if (p.a_cs == 1u) { kk = idx % TK; ii = idx / TK; }
      let i = row0 + ii;
      let k = k0 + kk;
      var a = 0.0;
      if (i < p.M && k < p.K) { a = A[i * p.a_rs + k * p.a_cs]; }
      As[kk * TILE + ii] = a;
      var kb = idx / TILE;
      var jj = idx % TILE;
      if (p.b_cs != 1u && p.b_rs == 1u) { kb = idx % TK; jj = idx / TK; }
      let j = col0 + jj;
      let k2 = k0 + kb;
      var b = 0.0;
      if (j < p.N && k2 < p.K) { b = B[k2 * p.b_rs + j * p.b_cs]; }
      Bs[kb * TILE + jj] = b;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let bv = vec4f(
        Bs[k * TILE + lid.x * 4u],
        Bs[k * TILE + lid.x * 4u + 1u],
        Bs[k * TILE + lid.x * 4u + 2u],
        Bs[k * TILE + lid.x * 4u + 3u],
      );
      for (var r = 0u; r < 4u; r++) {
        acc[r] += As[k * TILE + lid.y * 4u + r] * bv;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + lid.y * 4u + r;
    if (row >= p.M) { break; }
    for (var c = 0u; c < 4u; c++) {
      let col = col0 + lid.x * 4u + c;
      if (col >= p.N) { break; }
      let idx = row * p.N + col;
      var v = acc[r][c];
      if (p.has_bias != 0u) { v += bias[col]; }
      if (p.accumulate != 0u) { v += C[idx]; }
      v = activate(v);
      if (p.has_mask != 0u && !(Y[idx] > 0.0)) { v = 0.0; }
      C[idx] = v;
    }
  }
}
