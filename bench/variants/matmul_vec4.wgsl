// Variant family: vec4 loads along the contiguous axis of each operand, an RB×(4·CB) block of C
// per invocation, no workgroup memory or barriers. One entry point per operand layout of a
// linear layer (row-major storage):
//   nt: C = A·Bᵀ, A (M,K), B (N,K)   forward y = x·Wᵀ        needs K % 4 = 0, N % 4 = 0
//   nn: C = A·B,  A (M,K), B (K,N)   input gradient dx = dy·W  needs K % 4 = 0, N % 4 = 0
//   tn: C = Aᵀ·B, A (K,M), B (K,N)   weight gradient dW = dyᵀ·x needs M % 4 = 0, N % 4 = 0,
//                                     RB % 4 = 0
// C = act(product + bias [+ C]) as in kernels/matmul.wgsl; the stride fields of Params are
// unused here. With UNIFORM_ROWS the row block comes from the workgroup id alone (WG_Y = 1), so
// every invocation of a workgroup reads the same rows of A (uniform addresses).
//
// Bindings: 0 uniforms Params, 1 A (read), 2 B (read), 3 bias (read, N), 4 C (read_write).

struct Params {
  M: u32, N: u32, K: u32,
  a_rs: u32, a_cs: u32, b_rs: u32, b_cs: u32,
  accumulate: u32,
  has_bias: u32,
  act: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4f>;
@group(0) @binding(2) var<storage, read> B: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> C: array<vec4f>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override RB: u32 = 4u; // rows of C per invocation, 1..8
override CB: u32 = 1u; // vec4 column groups of C per invocation, 1..2
override UNIFORM_ROWS: bool = false;

fn activate(v: vec4f) -> vec4f {
  switch p.act {
    case 1u: { return max(v, vec4f(0.0)); }
    case 2u: { return tanh(v); }
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

/** First row and first vec4 column group of this invocation's block. */
fn origin(gid: vec3u, wid: vec3u) -> vec2u {
  if (UNIFORM_ROWS) { return vec2u(wid.y * RB, gid.x * CB); }
  return vec2u(gid.y * RB, gid.x * CB);
}

fn store(row0: u32, col4: u32, acc: ptr<function, array<vec4f, 16>>) {
  let N4 = p.N / 4u;
  for (var i = 0u; i < RB; i++) {
    let row = row0 + i;
    if (row >= p.M) { break; }
    for (var c = 0u; c < CB; c++) {
      let col = col4 + c;
      if (col >= N4) { break; }
      let idx = row * N4 + col;
      var v = (*acc)[i * CB + c];
      if (p.has_bias != 0u) { v += bias[col]; }
      if (p.accumulate != 0u) { v += C[idx]; }
      C[idx] = activate(v);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn nt(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = origin(gid, wid);
  let N4 = p.N / 4u;
  if (o.x >= p.M || o.y >= N4) { return; }
  let K4 = p.K / 4u;
  var acc: array<vec4f, 16>;
  var ra: array<u32, 8>;
  var rb: array<u32, 8>; // B rows of the 4·CB output columns
  for (var i = 0u; i < RB; i++) { ra[i] = min(o.x + i, p.M - 1u) * K4; }
  for (var j = 0u; j < 4u * CB; j++) { rb[j] = min(4u * o.y + j, p.N - 1u) * K4; }
  for (var k = 0u; k < K4; k++) {
    for (var c = 0u; c < CB; c++) {
      let bm = mat4x4f(B[rb[4u * c] + k], B[rb[4u * c + 1u] + k], B[rb[4u * c + 2u] + k],
        B[rb[4u * c + 3u] + k]);
      for (var i = 0u; i < RB; i++) {
        acc[i * CB + c] += A[ra[i] + k] * bm;
      }
    }
  }
  store(o.x, o.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn nn(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = origin(gid, wid);
  let N4 = p.N / 4u;
  if (o.x >= p.M || o.y >= N4) { return; }
  let K4 = p.K / 4u;
  var acc: array<vec4f, 16>;
  var ra: array<u32, 8>;
  var cb: array<u32, 2>;
  for (var i = 0u; i < RB; i++) { ra[i] = min(o.x + i, p.M - 1u) * K4; }
  for (var c = 0u; c < CB; c++) { cb[c] = min(o.y + c, N4 - 1u); }
  for (var k = 0u; k < K4; k++) {
    let kb = 4u * k * N4;
    for (var c = 0u; c < CB; c++) {
      let bm = mat4x4f(B[kb + cb[c]], B[kb + N4 + cb[c]], B[kb + 2u * N4 + cb[c]],
        B[kb + 3u * N4 + cb[c]]);
      for (var i = 0u; i < RB; i++) {
        acc[i * CB + c] += bm * A[ra[i] + k];
      }
    }
  }
  store(o.x, o.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn tn(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = origin(gid, wid);
  let N4 = p.N / 4u;
  let M4 = p.M / 4u;
  if (o.x >= p.M || o.y >= N4) { return; }
  var acc: array<vec4f, 16>;
  var ra: array<u32, 2>;
  var cb: array<u32, 2>;
  for (var q = 0u; q < RB / 4u; q++) { ra[q] = min(o.x / 4u + q, M4 - 1u); }
  for (var c = 0u; c < CB; c++) { cb[c] = min(o.y + c, N4 - 1u); }
  for (var k = 0u; k < p.K; k++) {
    for (var c = 0u; c < CB; c++) {
      let b = B[k * N4 + cb[c]];
      for (var q = 0u; q < RB / 4u; q++) {
        let a = A[k * M4 + ra[q]];
        acc[(4u * q) * CB + c] += a.x * b;
        acc[(4u * q + 1u) * CB + c] += a.y * b;
        acc[(4u * q + 2u) * CB + c] += a.z * b;
        acc[(4u * q + 3u) * CB + c] += a.w * b;
      }
    }
  }
  store(o.x, o.y, &acc);
}
