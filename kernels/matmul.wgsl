// General matrix product with fused bias, accumulation, activation and ReLU-backward mask:
//   C(M,N) = act( op(A)(M,K) · op(B)(K,N) + bias(N) [+ C] ) [⊙ (Y > 0)]
// op() is expressed through strides, so one kernel serves x·Wᵀ, dy·W and dyᵀ·x:
//   op(A)[i,k] = A[i*a_rs + k*a_cs],  op(B)[k,j] = B[k*b_rs + j*b_cs].
// Each invocation computes a 4×4 block of C in registers with no workgroup memory and no
// barriers (fast on software adapters, see DESIGN.md). Indices are clamped, not branched,
// inside the K loop; out-of-range rows and columns are dropped at the write.
//
// Bindings: 0 uniforms Params, 1 A (read), 2 B (read), 3 bias (read, N; ignored unless
// has_bias), 4 C (read_write, M×N row-major), 5 Y (read, M×N; ignored unless has_mask).

struct Params {
  M: u32, N: u32, K: u32,
  a_rs: u32, a_cs: u32, b_rs: u32, b_cs: u32,
  accumulate: u32, // 1: add the existing C
  has_bias: u32,
  act: u32,        // 0 none, 1 relu, 2 tanh, 3 sigmoid
  has_mask: u32,   // 1: C ⊙ (Y > 0), a ReLU's backward fused in
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read> Y: array<f32>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
// Blocks along x are rows of C instead of columns: for outputs a few columns wide, where
// columns along x would leave most of a SIMD batch of invocations idle.
override ROWS_ON_X: bool = false;

fn activate(v: f32) -> f32 {
  switch p.act {
    case 1u: { return max(v, 0.0); }
    case 2u: { return tanh(v); }
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = select(gid.y, gid.x, ROWS_ON_X) * 4u;
  let col0 = select(gid.x, gid.y, ROWS_ON_X) * 4u;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let r = min(vec4u(row0, row0 + 1u, row0 + 2u, row0 + 3u), vec4u(p.M - 1u)) * p.a_rs;
  let c = min(vec4u(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4u(p.N - 1u)) * p.b_cs;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.a_cs;
    let bk = k * p.b_rs;
    let b = vec4f(B[bk + c.x], B[bk + c.y], B[bk + c.z], B[bk + c.w]);
    acc0 += A[r.x + ak] * b;
    acc1 += A[r.y + ak] * b;
    acc2 += A[r.z + ak] * b;
    acc3 += A[r.w + ak] * b;
  }
  var rows = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col >= p.N) { break; }
      let idx = row * p.N + col;
      var v = rows[i][j];
      if (p.has_bias != 0u) { v += bias[col]; }
      if (p.accumulate != 0u) { v += C[idx]; }
      v = activate(v);
      if (p.has_mask != 0u && !(Y[idx] > 0.0)) { v = 0.0; }
      C[idx] = v;
    }
  }
}
