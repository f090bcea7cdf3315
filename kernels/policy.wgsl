// The fixed-σ Gaussian location policy and the baseline, for one action step.
// CPU reference: kernels/policy_ref.ts.
//
//   sample:        a = μ + σ·ε,  loc = clamp(a, −1, 1)                                (B, 2)
//   log_prob:      logπ[b] = Σ_d −½((a − μ)/σ)² + log_norm, log_norm = −ln σ − ½ ln 2π  (B)
//   grad:          dμ = grad_scale · adv[b] · (a − μ), grad_scale = −λ/(B·σ²)            (B, 2)
//                  through_tanh = 1 multiplies by 1 − μ² (μ = tanh(pre)), giving dpre;
//                  accumulate = 1 adds into dμ.
//   baseline_grad: dbase[b] = base_scale · (base[b] − ret[b]), base_scale = 2/(B·steps)  (B)
// The host computes the constants in float64. Inputs the host uploads once per step for all
// action steps (ε (T−1, B, 2), adv and ret (T−1, B)) and the stacked logπ output (T−1, B)
// are addressed with element offsets, so one tensor serves every step's dispatch.
// Each entry point declares only its own bindings (WGSL checks collisions per entry point).
//
// Bindings of `sample`:        1 mu (read, B×2), 2 eps (read, at eps_off), 3 a (read_write, B×2),
//                              4 loc (read_write, B×2).
// Bindings of `log_prob`:      1 mu (read, B×2), 2 a (read, B×2), 3 logpi (read_write, at
//                              logpi_off).
// Bindings of `grad`:          1 mu (read, B×2), 2 a (read, B×2), 3 adv (read, at adv_off),
//                              4 dmu (read_write, B×2).
// Bindings of `baseline_grad`: 1 base (read, B), 2 ret (read, at ret_off), 3 dbase (read_write, B).
// Binding 0 of every entry point: uniforms Params.

struct Params {
  B: u32,
  sigma: f32,
  log_norm: f32,
  grad_scale: f32,
  base_scale: f32,
  eps_off: u32,
  logpi_off: u32,
  adv_off: u32,
  ret_off: u32,
  accumulate: u32,
  through_tanh: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> s_mu: array<f32>;
@group(0) @binding(2) var<storage, read> s_eps: array<f32>;
@group(0) @binding(3) var<storage, read_write> s_a: array<f32>;
@group(0) @binding(4) var<storage, read_write> s_loc: array<f32>;

@compute @workgroup_size(WG)
fn sample(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < 2u * p.B; i += nwg.x * WG) {
    let a = s_mu[i] + p.sigma * s_eps[p.eps_off + i];
    s_a[i] = a;
    s_loc[i] = clamp(a, -1.0, 1.0);
  }
}

@group(0) @binding(1) var<storage, read> l_mu: array<f32>;
@group(0) @binding(2) var<storage, read> l_a: array<f32>;
@group(0) @binding(3) var<storage, read_write> l_logpi: array<f32>;

@compute @workgroup_size(WG)
fn log_prob(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    let z = (vec2f(l_a[2u * b], l_a[2u * b + 1u]) - vec2f(l_mu[2u * b], l_mu[2u * b + 1u])) /
      p.sigma;
    l_logpi[p.logpi_off + b] = -0.5 * dot(z, z) + 2.0 * p.log_norm;
  }
}

@group(0) @binding(1) var<storage, read> g_mu: array<f32>;
@group(0) @binding(2) var<storage, read> g_a: array<f32>;
@group(0) @binding(3) var<storage, read> g_adv: array<f32>;
@group(0) @binding(4) var<storage, read_write> g_dmu: array<f32>;

@compute @workgroup_size(WG)
fn grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < 2u * p.B; i += nwg.x * WG) {
    let mu = g_mu[i];
    var d = p.grad_scale * g_adv[p.adv_off + i / 2u] * (g_a[i] - mu);
    if (p.through_tanh != 0u) { d *= 1.0 - mu * mu; }
    if (p.accumulate != 0u) { d += g_dmu[i]; }
    g_dmu[i] = d;
  }
}

@group(0) @binding(1) var<storage, read> b_base: array<f32>;
@group(0) @binding(2) var<storage, read> b_ret: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_dbase: array<f32>;

@compute @workgroup_size(WG)
fn baseline_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    var d = p.base_scale * (b_base[b] - b_ret[p.ret_off + b]);
    if (p.accumulate != 0u) { d += b_dbase[b]; }
    b_dbase[b] = d;
  }
}
