/**
 * GPU wrapper for kernels/activation.wgsl: element-wise activation forward, and its backward
 * through the forward output. CPU reference: kernels/activation_ref.ts.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { Activation } from "./matmul_ref.ts";
import activationWgsl from "./activation.wgsl" with { type: "text" };

const ACT: Record<Activation, number> = { none: 0, relu: 1, tanh: 2, sigmoid: 3 };
const WG = 256;
/**
 * Grid-stride loops in the shader cover any n, so the dispatch never exceeds the limit; each
 * invocation moves vec4s (n/4 of them).
 */
const MAX_GROUPS = 65535;

/** The compiled entry points of kernels/activation.wgsl. */
export interface ActivationKernels {
  forward: Kernel;
  backward: Kernel;
  backwardInPlace: Kernel;
}

/**
 * Compiles both activation entry points.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { activationKernels, bindActivation } from "./activation.ts";
 * const gpu = await sharedGpu();
 * const k = await activationKernels(gpu);
 * const x = tensor(gpu, [3], "x", [-1, 0, 2]), y = tensor(gpu, [3], "y");
 * run(gpu, [bindActivation(gpu, k, "relu", 3, x, y)]);
 * console.log(await read(gpu, y)); // [0, 0, 2]
 * ```
 */
export async function activationKernels(gpu: Gpu): Promise<ActivationKernels> {
  const constants = { WG };
  return {
    forward: await compileKernel(gpu, {
      name: "activation.forward",
      code: activationWgsl,
      entryPoint: "forward",
      storage: ["read", "read_write"],
      constants,
    }),
    backward: await compileKernel(gpu, {
      name: "activation.backward",
      code: activationWgsl,
      entryPoint: "backward",
      storage: ["read", "read", "read_write"],
      constants,
    }),
    backwardInPlace: await compileKernel(gpu, {
      name: "activation.backward_in_place",
      code: activationWgsl,
      entryPoint: "backward_in_place",
      storage: ["read", "read_write"],
      constants,
    }),
  };
}

function need(what: string, t: Tensor, n: number): void {
  // The shader reads whole vec4s: the buffer, not just the shape, must cover them.
  if (t.size < n || Math.min(t.bindingSize, t.buffer.size - t.offset) < Math.ceil(n / 4) * 16) {
    throw new Error(`activation: ${what} ${t.label} [${t.shape}] holds ${t.size} < ${n} values`);
  }
}

/**
 * Binds out(n) = act(x(n)) over the first n elements. `x` and `out` must be different
 * tensors. Bytes per encode: 8·n.
 */
export function bindActivation(
  gpu: Gpu,
  k: ActivationKernels,
  act: Activation,
  n: number,
  x: Tensor,
  out: Tensor,
): Dispatch {
  need("input", x, n);
  need("output", out, n);
  if (x === out) throw new Error(`activation: input and output are the same tensor ${x.label}`);
  return new Dispatch(
    gpu,
    k.forward,
    [x, out],
    packUniforms({ n, act: ACT[act], accumulate: 0 }),
    [Math.min(groups(Math.ceil(n / 4), WG), MAX_GROUPS)],
  );
}

/**
 * Binds dx(n) = dy(n)·act'(y(n)) (+ dx when `accumulate`), where y is the forward output.
 * With act "none" it copies (or adds) dy into dx. `dx` may be `dy` itself (in place, not
 * accumulating), which runs the `backward_in_place` entry point. Bytes per encode: 12·n
 * (16·n accumulating).
 */
export function bindActivationBackward(
  gpu: Gpu,
  k: ActivationKernels,
  act: Activation,
  n: number,
  y: Tensor,
  dy: Tensor,
  dx: Tensor,
  accumulate = false,
): Dispatch {
  need("forward output", y, n);
  need("gradient", dy, n);
  need("input gradient", dx, n);
  if (dx === y) throw new Error(`activation: dx ${dx.label} must not alias the forward output`);
  if (dx === dy) {
    if (accumulate) {
      throw new Error(`activation: in-place backward on ${dx.label} cannot also accumulate`);
    }
    return new Dispatch(
      gpu,
      k.backwardInPlace,
      [y, dx],
      packUniforms({ n, act: ACT[act], accumulate: 0 }),
      [Math.min(groups(Math.ceil(n / 4), WG), MAX_GROUPS)],
    );
  }
  return new Dispatch(
    gpu,
    k.backward,
    [y, dy, dx],
    packUniforms({ n, act: ACT[act], accumulate: accumulate ? 1 : 0 }),
    [Math.min(groups(Math.ceil(n / 4), WG), MAX_GROUPS)],
  );
}
