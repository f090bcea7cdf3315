// LSTM cell (element-wise part of the RAM's optional LSTM core) and its backward.
// The gate pre-activations z (B, 4H) come from two linear layers, laid out as in PyTorch's
// nn.LSTM: each row holds chunks i, f, g, o of H values. One invocation per (b, j) of B×H;
// a 2D grid covers more than 65535 workgroups (index = gid.y·(groups.x·WG) + gid.x).
// CPU reference: kernels/lstm_ref.ts.
//
// Entry "forward" bindings: 0 uniforms Params, 1 z (read, B×4H), 2 c (read, B×H),
//   3 gates (read_write, B×4H: σ(z_i), σ(z_f), tanh(z_g), σ(z_o)), 4 c_next (read_write, B×H),
//   5 h_next (read_write, B×H).
// Entry "backward" bindings: 0 uniforms Params, 1 gates (read, B×4H), 2 c (read, B×H),
//   3 c_next (read, B×H), 4 dh (read, B×H: dL/dh'), 5 dc (read_write, B×H: holds dL/dc' on
//   entry unless has_dc_next = 0, and dL/dc on exit, so one buffer carries the cell gradient
//   backwards through time), 6 dz (read_write, B×4H).

struct Params {
  B: u32,
  H: u32,
  has_dc_next: u32, // backward: 0 treats dL/dc' as zero (the last glimpse) and ignores dc
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> c_prev: array<f32>;
@group(0) @binding(3) var<storage, read_write> gates_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> c_next_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> h_next: array<f32>;

@group(0) @binding(1) var<storage, read> gates: array<f32>;
@group(0) @binding(2) var<storage, read> c_in: array<f32>;
@group(0) @binding(3) var<storage, read> c_next: array<f32>;
@group(0) @binding(4) var<storage, read> dh: array<f32>;
@group(0) @binding(5) var<storage, read_write> dc: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;

override WG: u32 = 64u;

// σ(v) = 1/(1+e^−v) written so that neither branch overflows.
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// Some backends compute tanh through exp and return NaN for |v| ≳ 44; tanh(±15) is ±1 in f32.
fn tanh_safe(v: f32) -> f32 {
  return tanh(clamp(v, -15.0, 15.0));
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let k = gid.y * n.x * WG + gid.x;
  if (k >= p.B * p.H) { return; }
  let b = k / p.H;
  let j = k - b * p.H;
  let r = b * 4u * p.H + j;
  let i = sigmoid(z[r]);
  let f = sigmoid(z[r + p.H]);
  let g = tanh_safe(z[r + 2u * p.H]);
  let o = sigmoid(z[r + 3u * p.H]);
  gates_out[r] = i;
  gates_out[r + p.H] = f;
  gates_out[r + 2u * p.H] = g;
  gates_out[r + 3u * p.H] = o;
  let cn = f * c_prev[k] + i * g;
  c_next_out[k] = cn;
  h_next[k] = o * tanh_safe(cn);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let k = gid.y * n.x * WG + gid.x;
  if (k >= p.B * p.H) { return; }
  let b = k / p.H;
  let j = k - b * p.H;
  let r = b * 4u * p.H + j;
  let i = gates[r];
  let f = gates[r + p.H];
  let g = gates[r + 2u * p.H];
  let o = gates[r + 3u * p.H];
  let tc = tanh_safe(c_next[k]);
  let d_h = dh[k];
  var dc_tot = d_h * o * (1.0 - tc * tc);
  if (p.has_dc_next != 0u) { dc_tot += dc[k]; }
  dz[r] = dc_tot * g * i * (1.0 - i);
  dz[r + p.H] = dc_tot * c_in[k] * f * (1.0 - f);
  dz[r + 2u * p.H] = dc_tot * i * (1.0 - g * g);
  dz[r + 3u * p.H] = d_h * tc * o * (1.0 - o);
  dc[k] = dc_tot * f;
}
