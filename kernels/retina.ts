/**
 * GPU wrapper for kernels/retina.wgsl: the multi-scale glimpse sensor. CPU reference:
 * kernels/retina_ref.ts.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type RetinaShape, retinaSize } from "./retina_ref.ts";
import retinaWgsl from "./retina.wgsl" with { type: "text" };

const TILE = 8; // workgroups are TILE×TILE output pixels of one sample

/** Compiles the retina kernel. */
export function retinaKernel(gpu: Gpu): Promise<Kernel> {
  return compileKernel(gpu, {
    name: "retina",
    code: retinaWgsl,
    storage: ["read", "read", "read_write"],
    constants: { WG_X: TILE, WG_Y: TILE },
  });
}

/**
 * Binds out(B, k·g·g) = glimpses of images(B, H, W) at loc(B, 2) (lx column, ly row, in
 * [−1, 1]; locations outside read zeros). Reads per encode: B·k·g²·s^(2i) pixels summed over the
 * scales i (B·64 for the 28×28 default), writes 4·B·k·g² bytes.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { bindRetina, retinaKernel } from "./retina.ts";
 * const gpu = await sharedGpu();
 * const r = { height: 4, width: 4, patch: 2, scales: 1, scale: 2 };
 * const images = tensor(gpu, [1, 4, 4], "images", new Float32Array(16).fill(1));
 * const loc = tensor(gpu, [1, 2], "loc", [0, 0]), out = tensor(gpu, [1, 4], "glimpse");
 * run(gpu, [bindRetina(gpu, await retinaKernel(gpu), r, 1, images, loc, out)]);
 * console.log(await read(gpu, out)); // [1, 1, 1, 1]
 * ```
 */
export function bindRetina(
  gpu: Gpu,
  kernel: Kernel,
  r: RetinaShape,
  B: number,
  images: Tensor,
  loc: Tensor,
  out: Tensor,
): Dispatch {
  const { height: H, width: W, patch: g, scales: k, scale: s } = r;
  for (const [key, v] of Object.entries({ B, H, W, g, k, s })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`retina: ${key} = ${v} must be ≥ 1`);
  }
  const per = retinaSize(r);
  if (B > 65535) throw new Error(`retina: batch ${B} exceeds one dispatch's 65535 workgroups`);
  if (B * per >= 2 ** 32 || g * s ** (k - 1) >= 2 ** 20) {
    throw new Error(`retina: B=${B} with ${per} values per glimpse is too large`);
  }
  for (const [t, n] of [[images, B * H * W], [loc, 2 * B], [out, B * per]] as const) {
    if (t.size < n) {
      throw new Error(`retina: ${t.label} [${t.shape}] holds ${t.size} < ${n} values`);
    }
  }
  if (out === images || out === loc) {
    throw new Error(`retina: output ${out.label} must not alias an input`);
  }
  return new Dispatch(
    gpu,
    kernel,
    [images, loc, out],
    packUniforms({ B, H, W, g, k, s }),
    [groups(g, TILE), groups(g, TILE), B],
  );
}
