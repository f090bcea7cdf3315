// Column sums of a row-major (M,N) matrix, N a multiple of 4, optionally accumulated:
//   out[j] = Σ_i X[i*N + j]  (+ out[j] when accumulate = 1)
// The vec4 form of colsum.wgsl: one invocation per 4 columns, so each row costs one vec4 load
// instead of four scalar ones (llvmpipe turns every storage load into a loop over its 8 lanes,
// so fewer, wider loads are cheaper). kernels/matmul.ts picks it when N % 4 = 0.
//
// Bindings: 0 uniforms Params, 1 X (read, M×N), 2 out (read_write, N).

struct Params { M: u32, N: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let N4 = p.N / 4u;
  if (j >= N4) { return; }
  var s = vec4f(0.0);
  for (var i = 0u; i < p.M; i++) { s += X[i * N4 + j]; }
  if (p.accumulate != 0u) { s += out[j]; }
  out[j] = s;
}
