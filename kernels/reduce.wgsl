// Reductions for metrics. CPU reference: kernels/reduce_ref.ts.
// One workgroup per row; rows are strided by the workgroup count (so more than 65535 rows
// work), which keeps the loop bound uniform across the workgroup and the barriers legal.
// Each invocation sums a strided slice of the row, then the workgroup combines its WG
// partial sums (see combine()). A full sum of a vector is row_sum with M = 1 and a larger WG.
//
// Entry "row_sum":   out[out_off + i] = scale·Σ_j X[in_off + i·N + j]  (+ old value when
//   accumulate = 1). Bindings: 1 X (read), 2 out (read_write).
// Entry "row_sqerr": out[out_off + i] = scale·Σ_j (A[in_off + i·N + j] − T[(i % target_rows)·N + j])²
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

@compute @workgroup_size(WG)
fn row_sum(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) n: vec3u,
) {
  for (var i = wg.x; i < p.M; i += n.x) {
    let base = p.in_off + i * p.N;
    var s = 0.0;
    for (var j = li; j < p.N; j += WG) { s += X[base + j]; }
    let total = combine(li, s);
    if (li == 0u) {
      let o = p.out_off + i;
      var v = p.scale * total;
      if (p.accumulate != 0u) { v += out_sum[o]; }
      out_sum[o] = v;
    }
  }
}

@compute @workgroup_size(WG)
fn row_sqerr(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) n: vec3u,
) {
  for (var i = wg.x; i < p.M; i += n.x) {
    let base = p.in_off + i * p.N;
    let tbase = (i % p.target_rows) * p.N;
    var s = 0.0;
    for (var j = li; j < p.N; j += WG) {
      let d = A[base + j] - T[tbase + j];
      s += d * d;
    }
    let total = combine(li, s);
    if (li == 0u) {
      let o = p.out_off + i;
      var v = p.scale * total;
      if (p.accumulate != 0u) { v += out_sq[o]; }
      out_sq[o] = v;
    }
  }
}
