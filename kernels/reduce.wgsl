// Reductions for metrics. CPU reference: kernels/reduce_ref.ts.
//
// Each row reduction has two entry points (kernels/_grid.ts RowStrategy picks one per adapter):
//   *_wg      one workgroup per row: each invocation sums a strided slice, then a halving tree
//             in workgroup memory (log2 WG barriers). Coalesced; what real GPUs want. Rows are
//             strided by the workgroup count (so more than 65535 rows work), which keeps the
//             loop bound uniform across the workgroup and the barriers legal.
//   *_thread  one invocation per row, no workgroup memory and no barriers: about 5× faster on
//             software adapters, where barriers are expensive (bench/vae_bench.ts).
// A full sum of a vector is row_sum_wg with M = 1 (one workgroup loops over the vector).
//
// row_sum:   out[out_off + i] = scale·Σ_j X[in_off + i·N + j]  (+ old value when accumulate = 1).
//   Bindings: 1 X (read), 2 out (read_write).
// row_sqerr: out[out_off + i] = scale·Σ_j (A[in_off + i·N + j] − T[(i % target_rows)·N + j])²
//   (+ old value when accumulate = 1). Bindings: 1 A (read), 2 T (read), 3 out (read_write).

struct Params {
  M: u32,
  N: u32,
  in_off: u32,
  out_off: u32,
  target_rows: u32,
  accumulate: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_sum: array<f32>;

@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_sq: array<f32>;

override WG: u32 = 64u; // a power of two

var<workgroup> partial: array<f32, WG>;

// Returns the workgroup's total of `s` in invocation 0 (the others get 0).
// Halving tree: log2(WG) barriers. Must be called in workgroup-uniform control flow.
fn combine(li: u32, s: f32) -> f32 {
  partial[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (li < h) { partial[li] += partial[li + h]; }
    workgroupBarrier();
  }
  // After the last barrier only invocation 0 reads partial[0], and only it writes
  // partial[0] for the next row, so no trailing barrier is needed.
  var total = 0.0;
  if (li == 0u) { total = partial[0]; }
  return total;
}

// Σ X over columns start, start + stride, … of row i.
fn sum_part(i: u32, start: u32, stride: u32) -> f32 {
  let base = p.in_off + i * p.N;
  var s = 0.0;
  for (var j = start; j < p.N; j += stride) { s += X[base + j]; }
  return s;
}

// Σ (A − T)² over columns start, start + stride, … of row i.
fn sqerr_part(i: u32, start: u32, stride: u32) -> f32 {
  let base = p.in_off + i * p.N;
  let tbase = (i % p.target_rows) * p.N;
  var s = 0.0;
  for (var j = start; j < p.N; j += stride) {
    let d = A[base + j] - T[tbase + j];
    s += d * d;
  }
  return s;
}

fn store_sum(i: u32, total: f32) {
  let o = p.out_off + i;
  var v = p.scale * total;
  if (p.accumulate != 0u) { v += out_sum[o]; }
  out_sum[o] = v;
}

fn store_sq(i: u32, total: f32) {
  let o = p.out_off + i;
  var v = p.scale * total;
  if (p.accumulate != 0u) { v += out_sq[o]; }
  out_sq[o] = v;
}

@compute @workgroup_size(WG)
fn row_sum_wg(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) n: vec3u,
) {
  for (var i = wg.x; i < p.M; i += n.x) {
    let total = combine(li, sum_part(i, li, WG));
    if (li == 0u) { store_sum(i, total); }
  }
}

@compute @workgroup_size(WG)
fn row_sum_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gid.y * n.x * WG + gid.x;
  if (i >= p.M) { return; }
  store_sum(i, sum_part(i, 0u, 1u));
}

@compute @workgroup_size(WG)
fn row_sqerr_wg(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) n: vec3u,
) {
  for (var i = wg.x; i < p.M; i += n.x) {
    let total = combine(li, sqerr_part(i, li, WG));
    if (li == 0u) { store_sq(i, total); }
  }
}

@compute @workgroup_size(WG)
fn row_sqerr_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) n: vec3u) {
  let i = gid.y * n.x * WG + gid.x;
  if (i >= p.M) { return; }
  store_sq(i, sqerr_part(i, 0u, 1u));
}
