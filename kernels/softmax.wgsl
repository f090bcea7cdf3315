// Row-wise classifier ops on a (B, C) matrix, one invocation per row (C is small: 10 classes).
// CPU reference: kernels/softmax_ref.ts.
//
//   log_softmax:   logp[b,c] = (x[b,c] − m_b) − ln Σ_c' exp(x[b,c'] − m_b),  m_b = max_c x[b,c]
//                  (subtracting m_b before adding the log-sum keeps logits of ±1e4 exact to f32)
//   entropy:       H[b] = −Σ_c p·logp with p = exp(logp), 0·log 0 = 0
//   nll_backward:  dlogits[b,c] = scale/B · (exp(logp[b,c]) − [c = y_b])  (+ dlogits if accumulate)
//   argmax:        pred[b] = first c with the largest x[b,c], written as an f32 index
// Labels are f32 class indices (exact below 2^24), so they upload and read back like every
// other tensor; a label outside 0..C−1 matches no class.
// Each entry point declares only its own bindings (WGSL checks collisions per entry point).
//
// Bindings of `log_softmax`:  1 logits (read, B×C), 2 logp (read_write, B×C).
// Bindings of `entropy`:      1 logp (read, B×C), 2 H (read_write, B).
// Bindings of `nll_backward`: 1 logp (read, B×C), 2 labels (read, B), 3 dlogits (read_write, B×C).
// Bindings of `argmax`:       1 x (read, B×C), 2 pred (read_write, B).
// Binding 0 of every entry point: uniforms Params.

struct Params {
  B: u32,
  C: u32,
  scale: f32,      // nll_backward: loss weight (the gradient is scale/B per sample)
  accumulate: u32, // nll_backward: 1 adds into dlogits
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> ls_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ls_out: array<f32>;

@compute @workgroup_size(WG)
fn log_softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    let row = b * p.C;
    var m = ls_x[row];
    for (var c = 1u; c < p.C; c++) { m = max(m, ls_x[row + c]); }
    var s = 0.0;
    for (var c = 0u; c < p.C; c++) { s += exp(ls_x[row + c] - m); }
    let lse = log(s); // s ≥ 1: the maximum contributes exp(0)
    for (var c = 0u; c < p.C; c++) { ls_out[row + c] = (ls_x[row + c] - m) - lse; }
  }
}

@group(0) @binding(1) var<storage, read> en_logp: array<f32>;
@group(0) @binding(2) var<storage, read_write> en_h: array<f32>;

@compute @workgroup_size(WG)
fn entropy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    let row = b * p.C;
    var h = 0.0;
    for (var c = 0u; c < p.C; c++) {
      let lp = en_logp[row + c];
      let q = exp(lp);
      // exp underflows to 0 for lp < −104; skipping keeps 0·(−inf) from making NaN.
      if (q > 0.0) { h -= q * lp; }
    }
    en_h[b] = h;
  }
}

@group(0) @binding(1) var<storage, read> nb_logp: array<f32>;
@group(0) @binding(2) var<storage, read> nb_labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> nb_dlogits: array<f32>;

@compute @workgroup_size(WG)
fn nll_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = p.scale / f32(p.B);
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    let row = b * p.C;
    let y = nb_labels[b];
    for (var c = 0u; c < p.C; c++) {
      var d = k * (exp(nb_logp[row + c]) - select(0.0, 1.0, f32(c) == y));
      if (p.accumulate != 0u) { d += nb_dlogits[row + c]; }
      nb_dlogits[row + c] = d;
    }
  }
}

@group(0) @binding(1) var<storage, read> am_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> am_pred: array<f32>;

@compute @workgroup_size(WG)
fn argmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var b = gid.x; b < p.B; b += nwg.x * WG) {
    let row = b * p.C;
    var best = 0u;
    var top = am_x[row];
    for (var c = 1u; c < p.C; c++) {
      let v = am_x[row + c];
      if (v > top) { top = v; best = c; }
    }
    am_pred[b] = f32(best);
  }
}
