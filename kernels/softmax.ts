/**
 * GPU wrapper for kernels/softmax.wgsl: row-wise log-softmax, entropy, the fused log-softmax +
 * NLL backward, and argmax predictions. CPU reference: kernels/softmax_ref.ts.
 *
 * Labels and predictions are f32 tensors holding class indices (exact below 2^24), so they
 * upload with `upload(gpu, labels, Int32Array)` and come back in the same {@link Readback} as
 * everything else. A label outside 0..C−1 matches no class (check labels on the host).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import softmaxWgsl from "./softmax.wgsl" with { type: "text" };

const WG = 64;
const MAX_GROUPS = 65535;

/** The compiled entry points of kernels/softmax.wgsl. */
export interface SoftmaxKernels {
  logSoftmax: Kernel;
  entropy: Kernel;
  nllBackward: Kernel;
  argmax: Kernel;
}

/**
 * Compiles every entry point of kernels/softmax.wgsl.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { bindLogSoftmax, softmaxKernels } from "./softmax.ts";
 * const gpu = await sharedGpu();
 * const k = await softmaxKernels(gpu);
 * const logits = tensor(gpu, [1, 2], "logits", [0, 0]), logp = tensor(gpu, [1, 2], "logp");
 * run(gpu, [bindLogSoftmax(gpu, k, 1, 2, logits, logp)]);
 * console.log(await read(gpu, logp)); // [-0.693…, -0.693…]
 * ```
 */
export async function softmaxKernels(gpu: Gpu): Promise<SoftmaxKernels> {
  const compile = (entryPoint: string, storage: ("read" | "read_write")[]) =>
    compileKernel(gpu, {
      name: `softmax.${entryPoint}`,
      code: softmaxWgsl,
      entryPoint,
      storage,
      constants: { WG },
    });
  return {
    logSoftmax: await compile("log_softmax", ["read", "read_write"]),
    entropy: await compile("entropy", ["read", "read_write"]),
    nllBackward: await compile("nll_backward", ["read", "read", "read_write"]),
    argmax: await compile("argmax", ["read", "read_write"]),
  };
}

function need(what: string, t: Tensor, n: number): void {
  if (t.size < n) {
    throw new Error(`softmax: ${what} ${t.label} [${t.shape}] holds ${t.size} < ${n} values`);
  }
}

function rowDispatch(
  gpu: Gpu,
  kernel: Kernel,
  B: number,
  C: number,
  buffers: Tensor[],
  extra: { scale?: number; accumulate?: boolean } = {},
): Dispatch {
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(C) || C < 1) {
    throw new Error(`${kernel.name}: bad shape B=${B} C=${C}`);
  }
  const out = buffers[buffers.length - 1];
  if (buffers.slice(0, -1).includes(out)) {
    throw new Error(`${kernel.name}: output ${out.label} must not alias an input`);
  }
  const words = packUniforms(
    { B, C, scale: extra.scale ?? 1, accumulate: extra.accumulate ? 1 : 0 },
    ["scale"],
  );
  return new Dispatch(gpu, kernel, buffers, words, [Math.min(groups(B, WG), MAX_GROUPS)]);
}

/** Binds logp(B,C) = log_softmax(logits(B,C)) row-wise. Bytes per encode: 8·B·C. */
export function bindLogSoftmax(
  gpu: Gpu,
  k: SoftmaxKernels,
  B: number,
  C: number,
  logits: Tensor,
  logp: Tensor,
): Dispatch {
  need("logits", logits, B * C);
  need("log-probabilities", logp, B * C);
  return rowDispatch(gpu, k.logSoftmax, B, C, [logits, logp]);
}

/** Binds H(B) = −Σ_c p·log p in nats from logp(B,C). Bytes per encode: 4·B·(C + 1). */
export function bindEntropy(
  gpu: Gpu,
  k: SoftmaxKernels,
  B: number,
  C: number,
  logp: Tensor,
  H: Tensor,
): Dispatch {
  need("log-probabilities", logp, B * C);
  need("entropy", H, B);
  return rowDispatch(gpu, k.entropy, B, C, [logp, H]);
}

/**
 * Binds the gradient of scale·mean_b NLL with respect to the logits, from the
 * log-probabilities: dlogits(B,C) = scale/B·(softmax − onehot(labels)) (+ dlogits when
 * `accumulate`). `labels` (B) holds f32 class indices; upload new labels every step into the
 * same tensor. Bytes per encode: 4·B·(2C + 1).
 */
export function bindNllBackward(
  gpu: Gpu,
  k: SoftmaxKernels,
  B: number,
  C: number,
  logp: Tensor,
  labels: Tensor,
  dlogits: Tensor,
  opts: { scale?: number; accumulate?: boolean } = {},
): Dispatch {
  need("log-probabilities", logp, B * C);
  need("labels", labels, B);
  need("logit gradient", dlogits, B * C);
  return rowDispatch(gpu, k.nllBackward, B, C, [logp, labels, dlogits], opts);
}

/**
 * Binds pred(B) = argmax_c x(B,C) (first index on ties) as f32 class indices; x may be logits
 * or log-probabilities. Bytes per encode: 4·B·(C + 1).
 */
export function bindArgmax(
  gpu: Gpu,
  k: SoftmaxKernels,
  B: number,
  C: number,
  x: Tensor,
  pred: Tensor,
): Dispatch {
  need("scores", x, B * C);
  need("predictions", pred, B);
  return rowDispatch(gpu, k.argmax, B, C, [x, pred]);
}
