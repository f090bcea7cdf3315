// Column sums of a row-major (M,N) matrix, optionally accumulated:
//   out[j] = Σ_i X[i*N + j]  (+ out[j] when accumulate = 1)
// Used for bias gradients (db = Σ_batch dy). One invocation per column.
//
// Bindings: 0 uniforms Params, 1 X (read, M×N), 2 out (read_write, N).

struct Params { M: u32, N: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= p.N) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.M; i++) { s += X[i * p.N + j]; }
  if (p.accumulate != 0u) { s += out[j]; }
  out[j] = s;
}
