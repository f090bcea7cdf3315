// Element-wise activations and their backward through the forward output y.
// CPU reference: kernels/activation_ref.ts.
//
//   forward:   out[i] = act(x[i])
//   backward:  dx[i] = dy[i] · act'(y[i])  (+ dx[i] when accumulate = 1), where y = act(pre):
//              relu: [y > 0]; tanh: 1 − y²; sigmoid: y·(1 − y); none: 1.
// Each entry point declares only the bindings it uses (WGSL checks binding collisions per entry
// point), and loops with a grid stride so any n fits under the 65535-workgroup limit.
// Buffers are bound as vec4 arrays (their sizes are multiples of 16 bytes, see gpu/tensor.ts).
//
// Bindings of `forward`:  0 uniforms Params, 1 x (read, n), 2 out (read_write, n).
// Bindings of `backward`: 0 uniforms Params, 1 y (read, n), 2 dy (read, n), 3 dx (read_write, n).
// Bindings of `backward_in_place`: 0 uniforms Params, 1 y (read, n), 2 d (read_write, n):
//   d = d·act'(y), for callers that overwrite the upstream gradient (a buffer cannot be bound
//   both read-only and writable in one dispatch).

struct Params {
  n: u32,
  act: u32,        // 0 none, 1 relu, 2 tanh, 3 sigmoid
  accumulate: u32, // backward only: 1 adds into dx
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 256u;

// Component-wise on vec4: the loops move 16 bytes per access (about 30% faster than scalar on
// llvmpipe). Tensors are padded to 16 bytes, so the last, partial vec4 exists; its lanes past
// n are written back unchanged (a masked select: indexing single components of a storage
// vec4 made the whole shader about 10% slower on llvmpipe).
fn activate(v: vec4f) -> vec4f {
  switch p.act {
    case 1u: { return max(v, vec4f(0.0)); }
    // tanh(±20) is ±1 in f32; clamping keeps implementations that compute tanh through
    // exp(2x) from returning inf/inf = NaN on large inputs.
    case 2u: { return tanh(clamp(v, vec4f(-20.0), vec4f(20.0))); }
    // exp(-v) overflows to inf for v < -88, and 1/(1 + inf) = 0 is the right limit.
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

fn derivative(y: vec4f) -> vec4f {
  switch p.act {
    case 1u: { return select(vec4f(0.0), vec4f(1.0), y > vec4f(0.0)); }
    case 2u: { return 1.0 - y * y; }
    case 3u: { return y * (1.0 - y); }
    default: { return vec4f(1.0); }
  }
}

// Lanes of vec4 i that hold elements < n: only the last vec4 of a ragged n has any false.
fn live(i: u32) -> vec4<bool> {
  return vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.n);
}

@group(0) @binding(1) var<storage, read> fx: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> fout: array<vec4f>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < (p.n + 3u) / 4u; i += nwg.x * WG) {
    let v = activate(fx[i]);
    if (4u * i + 4u <= p.n) { fout[i] = v; } else { fout[i] = select(fout[i], v, live(i)); }
  }
}

@group(0) @binding(1) var<storage, read> by: array<vec4f>;
@group(0) @binding(2) var<storage, read> bdy: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> bdx: array<vec4f>;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < (p.n + 3u) / 4u; i += nwg.x * WG) {
    var d = bdy[i] * derivative(by[i]);
    if (p.accumulate != 0u) { d += bdx[i]; }
    if (4u * i + 4u <= p.n) { bdx[i] = d; } else { bdx[i] = select(bdx[i], d, live(i)); }
  }
}

@group(0) @binding(1) var<storage, read> iy: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> id: array<vec4f>;

@compute @workgroup_size(WG)
fn backward_in_place(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  for (var i = gid.x; i < (p.n + 3u) / 4u; i += nwg.x * WG) {
    let d0 = id[i];
    id[i] = select(d0, d0 * derivative(iy[i]), live(i));
  }
}
