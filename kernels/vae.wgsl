// VAE probe operations (DESIGN.md "The VAE probe"). CPU reference: kernels/vae_ref.ts.
// `stats` (R, 2L) holds μ in columns [0, L) and log σ² in [L, 2L) of each row; dstats alike.
// Element-wise entries index with gid.y·(groups.x·WG) + gid.x (a 2D grid past 65535 groups).
//
// Entry "latent_forward" (one invocation per row; L is small): z = μ + exp(½ lv)·ε and
//   kl[r] = −½ Σ_j (1 + lv − μ² − exp(lv)) when has_out2 = 1.
//   Bindings: 1 stats (read, R×2L), 2 eps (read, R×L), 3 z (read_write, R×L),
//   4 kl (read_write, R).
// Entry "latent_backward" (one invocation per element of R×L):
//   dμ = dz + kl_scale·μ,  dlv = dz·½·exp(½ lv)·ε + kl_scale·½·(exp(lv) − 1).
//   Bindings: 1 stats (read), 2 eps (read), 3 dz (read, R×L), 4 dstats (read_write, R×2L).
// Entries "bce_wg" (one workgroup per row, rows strided by the workgroup count; a tree in
//   workgroup memory) and "bce_thread" (one invocation per row, no barriers: faster on
//   software adapters; kernels/_grid.ts RowStrategy picks one): stable
//   bce = max(x,0) − x·t + log(1 + e^−|x|) against target row r % target_rows;
//   loss[r] = Σ_p bce when has_out1 = 1; dlogits = (σ(x) − t)·scale when has_out2 = 1.
//   Bindings: 1 logits (read, R×P), 2 target (read, target_rows×P), 3 loss (read_write, R),
//   4 dlogits (read_write, R×P).
// Entry "sigmoid" (element-wise over R·C): out = σ(logits).
//   Bindings: 1 logits (read), 2 out (read_write).

struct Params {
  rows: u32,
  cols: u32,        // L for the latent entries, P for bce and sigmoid
  target_rows: u32, // bce only
  has_out1: u32,    // bce: write loss
  has_out2: u32,    // latent_forward: write kl; bce: write dlogits
  scale: f32,       // bce: gradient scale; latent_backward: kl_scale
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> eps: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read_write> kl: array<f32>;

@group(0) @binding(1) var<storage, read> stats_b: array<f32>;
@group(0) @binding(2) var<storage, read> eps_b: array<f32>;
@group(0) @binding(3) var<storage, read> dz: array<f32>;
@group(0) @binding(4) var<storage, read_write> dstats: array<f32>;

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

@group(0) @binding(1) var<storage, read> logits_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> recon: array<f32>;

override WG: u32 = 64u; // a power of two (the bce reduction halves it)

var<workgroup> partial: array<f32, WG>;

// σ(v) = 1/(1+e^−v) written so that neither branch overflows.
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

// log(1 + e) for e in [0, 1]; the series keeps relative accuracy where 1 + e rounds to 1.
fn log1p_small(e: f32) -> f32 {
  return select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-3);
}

@compute @workgroup_size(WG)
fn latent_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let r = gid.y * n.x * WG + gid.x;
  if (r >= p.rows) { return; }
  let L = p.cols;
  var k = 0.0;
  for (var j = 0u; j < L; j++) {
    let mu = stats[r * 2u * L + j];
    let lv = stats[r * 2u * L + L + j];
    z[r * L + j] = mu + exp(0.5 * lv) * eps[r * L + j];
    k += 1.0 + lv - mu * mu - exp(lv);
  }
  if (p.has_out2 != 0u) { kl[r] = -0.5 * k; }
}

@compute @workgroup_size(WG)
fn latent_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gid.y * n.x * WG + gid.x;
  let L = p.cols;
  if (i >= p.rows * L) { return; }
  let r = i / L;
  let j = i - r * L;
  let mu = stats_b[r * 2u * L + j];
  let lv = stats_b[r * 2u * L + L + j];
  let d = dz[i];
  dstats[r * 2u * L + j] = d + p.scale * mu;
  dstats[r * 2u * L + L + j] = d * 0.5 * exp(0.5 * lv) * eps_b[i] + p.scale * 0.5 * (exp(lv) - 1.0);
}

// Σ bce over pixels start, start + stride, … of row r, writing their gradients on the way.
fn bce_part(r: u32, start: u32, stride: u32) -> f32 {
  let P = p.cols;
  let t0 = (r % p.target_rows) * P;
  var s = 0.0;
  for (var q = start; q < P; q += stride) {
    let x = logits[r * P + q];
    let t = targets[t0 + q];
    let e = exp(-abs(x));
    s += max(x, 0.0) - x * t + log1p_small(e);
    if (p.has_out2 != 0u) {
      dlogits[r * P + q] = (select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0) - t) * p.scale;
    }
  }
  return s;
}

@compute @workgroup_size(WG)
fn bce_wg(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) n: vec3u,
) {
  // Rows are strided by the workgroup count, so the loop bound is uniform across the
  // workgroup and the barriers inside are legal.
  for (var r = wg.x; r < p.rows; r += n.x) {
    let s = bce_part(r, li, WG);
    if (p.has_out1 != 0u) {
      partial[li] = s;
      workgroupBarrier();
      for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (li < h) { partial[li] += partial[li + h]; }
        workgroupBarrier();
      }
      // Only invocation 0 reads partial[0] after the last barrier, and only it writes
      // partial[0] for the next row, so no trailing barrier is needed.
      if (li == 0u) { loss[r] = partial[0]; }
    }
  }
}

@compute @workgroup_size(WG)
fn bce_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let r = gid.y * n.x * WG + gid.x;
  if (r >= p.rows) { return; }
  let s = bce_part(r, 0u, 1u);
  if (p.has_out1 != 0u) { loss[r] = s; }
}

@compute @workgroup_size(WG)
fn sigmoid_out(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gid.y * n.x * WG + gid.x;
  if (i >= p.rows * p.cols) { return; }
  recon[i] = sigmoid(logits_s[i]);
}
