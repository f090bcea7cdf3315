// Element-wise activations and their backward through the forward output y.
// CPU reference: kernels/activation_ref.ts.
//
//   forward:   out[i] = act(x[i])
//   backward:  dx[i] = dy[i] · act'(y[i])  (+ dx[i] when accumulate = 1), where y = act(pre):
//              relu: [y > 0]; tanh: 1 − y²; sigmoid: y·(1 − y); none: 1.
// Each entry point declares only the bindings it uses (WGSL checks binding collisions per entry
// point), and loops with a grid stride so any n fits under the 65535-workgroup limit.
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

fn activate(v: f32) -> f32 {
  switch p.act {
    case 1u: { return max(v, 0.0); }
    // tanh(±20) is ±1 in f32; clamping keeps implementations that compute tanh through
    // exp(2x) from returning inf/inf = NaN on large inputs.
    case 2u: { return tanh(clamp(v, -20.0, 20.0)); }
    // exp(-v) overflows to inf for v < -88, and 1/(1 + inf) = 0 is the right limit.
    case 3u: { return 1.0 / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

fn derivative(y: f32) -> f32 {
  switch p.act {
    case 1u: { return select(0.0, 1.0, y > 0.0); }
    case 2u: { return 1.0 - y * y; }
    case 3u: { return y * (1.0 - y); }
    default: { return 1.0; }
  }
}

@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read_write> fout: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < p.n; i += stride) {
    fout[i] = activate(fx[i]);
  }
}

@group(0) @binding(1) var<storage, read> by: array<f32>;
@group(0) @binding(2) var<storage, read> bdy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bdx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < p.n; i += stride) {
    var d = bdy[i] * derivative(by[i]);
    if (p.accumulate != 0u) { d += bdx[i]; }
    bdx[i] = d;
  }
}

@group(0) @binding(1) var<storage, read> iy: array<f32>;
@group(0) @binding(2) var<storage, read_write> id: array<f32>;

@compute @workgroup_size(WG)
fn backward_in_place(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < p.n; i += stride) {
    id[i] = id[i] * derivative(iy[i]);
  }
}
