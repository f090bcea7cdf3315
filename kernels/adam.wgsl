// Adam (PyTorch's formulation, no weight decay) over a range of flat parameter buffers.
// CPU reference: kernels/adam_ref.ts.
//
//   tick:    advances the step state held on the device, so a whole training step records
//            into one encoder with no host write:  t ← t + 1,
//            c1 ← (1 − β1) + β1·c1  and  c2 ← (1 − β2) + β2·c2,
//            the recurrences of c = 1 − β^t (starting from t = 0, c = 0), which keep the small
//            values of the first steps exact instead of subtracting two numbers near 1.
//   update:  for i in offset .. offset + n:
//            m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
//            param −= lr·(m / c1) / (√(v / c2) + ε);  grad = 0 when zero_grad = 1
//            (saves clearing the gradients before the next backward).
// `state` is 4 f32: [t, c1, c2, unused]; the host sets it for a resumed run (adamState in
// kernels/adam.ts). 1 − β1 and 1 − β2 come from the host in float64.
//
// Bindings of `tick`:   0 uniforms Params, 1 state (read_write, 4).
// Bindings of `update`: 0 uniforms Params, 1 param, 2 grad, 3 m, 4 v (read_write, ≥ offset + n,
//                       as vec4 arrays), 5 state (read, 4).

struct Params {
  offset: u32,
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  zero_grad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 256u;

@group(0) @binding(1) var<storage, read_write> t_state: array<f32>;

@compute @workgroup_size(1)
fn tick() {
  t_state[0] = t_state[0] + 1.0;
  t_state[1] = p.one_minus_beta1 + p.beta1 * t_state[1];
  t_state[2] = p.one_minus_beta2 + p.beta2 * t_state[2];
}

// The buffers are bound as vec4 arrays (tensor sizes are multiples of 16 bytes): the loop moves
// 16 bytes per access, about 2.5× faster than scalar on llvmpipe. The vec4s at unaligned ends
// of the range are written back with their lanes outside it unchanged (a masked select; this
// is safe because dispatches run in order, and indexing single components of storage vec4s
// made the whole shader 40% slower on llvmpipe).
@group(0) @binding(1) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m1: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> m2: array<vec4f>;
@group(0) @binding(5) var<storage, read> u_state: array<f32>;

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c1 = u_state[1];
  let c2 = u_state[2];
  let start = p.offset;
  let end = p.offset + p.n;
  for (var i = start / 4u + gid.x; i < (end + 3u) / 4u; i += nwg.x * WG) {
    let e = vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u);
    let inside = (e >= vec4u(start)) & (e < vec4u(end));
    let g = grad[i];
    let m0 = m1[i];
    let v0 = m2[i];
    let p0 = param[i];
    let m = p.beta1 * m0 + p.one_minus_beta1 * g;
    let v = p.beta2 * v0 + p.one_minus_beta2 * g * g;
    m1[i] = select(m0, m, inside);
    m2[i] = select(v0, v, inside);
    param[i] = select(p0, p0 - p.lr * (m / c1) / (sqrt(v / c2) + p.eps), inside);
    if (p.zero_grad != 0u) { grad[i] = select(g, vec4f(0.0), inside); }
  }
}
