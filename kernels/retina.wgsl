// The multi-scale glimpse sensor (forward only: no gradient flows into the image or the
// location). CPU reference: kernels/retina_ref.ts.
//
// Patch i (i = 0..k−1) of sample b has side g·s^i pixels and its top-left corner at column
// floor((lx+1)/2·W) − side/2 and row floor((ly+1)/2·H) − side/2 (side/2 rounded down); pixels
// outside the image read 0; each output pixel averages its s^i × s^i block:
//   out[b, i, py, px] = mean over the block at (x0 + px·s^i, y0 + py·s^i) of image[b].
// One invocation per output pixel (px, py) of sample b, for every scale, looping over the
// blocks (≤ 64 reads per block for s = 2, k = 4).
// Coordinates are formed in f32 like the reference's float64 arithmetic; a location whose
// (l+1)/2·W lands within f32 rounding of an integer may pick the neighbouring pixel.
//
// Bindings: 0 uniforms Params, 1 images (read, B×H×W), 2 loc (read, B×2: lx column, ly row),
//           3 out (read_write, B×k×g×g).

struct Params {
  B: u32,
  H: u32,
  W: u32,
  g: u32, // output patch side
  k: u32, // scales
  s: u32, // scale factor between successive patches
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read> loc: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

// Far enough outside any image that the whole patch misses it, small enough for i32 maths.
const FAR = 1048576.0;

fn centre(l: f32, size: u32) -> i32 {
  return i32(clamp(floor((l + 1.0) / 2.0 * f32(size)), -FAR, FAR));
}

// The grid is (px, py, b): no integer division to recover indices (software adapters
// scalarise it; this layout ran twice as fast on llvmpipe as one flat index), and one
// invocation writes pixel (px, py) of every scale.
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let px = gid.x;
  let py = gid.y;
  let b = gid.z;
  if (px >= p.g || py >= p.g || b >= p.B) { return; }
  let cx = centre(loc[2u * b], p.W);
  let cy = centre(loc[2u * b + 1u], p.H);
  let img = b * p.H * p.W;
  var block = 1u; // s^i: source pixels per output pixel, each way
  var o = (b * p.k * p.g + py) * p.g + px;
  for (var i = 0u; i < p.k; i++) {
    let half = i32(p.g * block / 2u);
    let x0 = cx - half + i32(px * block);
    let y0 = cy - half + i32(py * block);
    // Clip the block to the image once instead of testing every pixel.
    let xa = max(x0, 0);
    let xb = min(x0 + i32(block), i32(p.W));
    let ya = max(y0, 0);
    let yb = min(y0 + i32(block), i32(p.H));
    var sum = 0.0;
    for (var y = ya; y < yb; y++) {
      let row = img + u32(y) * p.W;
      for (var x = xa; x < xb; x++) { sum += images[row + u32(x)]; }
    }
    out[o] = sum / f32(block * block);
    o += p.g * p.g;
    block *= p.s;
  }
}
