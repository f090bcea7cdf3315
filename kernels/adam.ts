/**
 * GPU wrapper for kernels/adam.wgsl: Adam over flat parameter buffers, with its step count kept
 * on the device. CPU reference: kernels/adam_ref.ts.
 *
 * How a training step uses it, with no host write and no buffer creation per step:
 * - at build time: `state = tensor(gpu, [4], "adam state", adamState(0, o))` (or
 *   `adamState(step, o)` when resuming), one {@link bindAdamTick} for the optimiser, and one
 *   {@link bindAdam} per parameter buffer (or a single one when every parameter lives in one
 *   flat buffer with its gradients in another: `offset`/`length` pick a range);
 * - every step: encode the tick, then the updates, after the backward in the same pass (a
 *   dispatch sees the writes of the ones before it). `zeroGrad` clears each gradient as it is
 *   consumed, ready for the next backward's accumulation.
 *
 * `state` holds [t, 1 − β1^t, 1 − β2^t, 0]; read it back to learn the step count.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { AdamOptions } from "./adam_ref.ts";
import adamWgsl from "./adam.wgsl" with { type: "text" };

const WG = 256;
const MAX_GROUPS = 65535;
const FLOATS = ["lr", "beta1", "beta2", "one_minus_beta1", "one_minus_beta2", "eps"];

/** The compiled entry points of kernels/adam.wgsl. */
export interface AdamKernels {
  tick: Kernel;
  update: Kernel;
}

/** Compiles both Adam entry points. */
export async function adamKernels(gpu: Gpu): Promise<AdamKernels> {
  return {
    tick: await compileKernel(gpu, {
      name: "adam.tick",
      code: adamWgsl,
      entryPoint: "tick",
      storage: ["read_write"],
    }),
    update: await compileKernel(gpu, {
      name: "adam.update",
      code: adamWgsl,
      entryPoint: "update",
      storage: ["read_write", "read_write", "read_write", "read_write", "read"],
      constants: { WG },
    }),
  };
}

function resolve(o: AdamOptions): Required<AdamOptions> {
  const r = { lr: o.lr, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8 };
  for (const [key, value] of Object.entries(r)) {
    const ok = key === "lr" || key === "eps"
      ? value >= 0 && Number.isFinite(value)
      : value >= 0 && value < 1;
    if (!ok) throw new Error(`adam: option ${key} = ${value} is out of range`);
  }
  return r;
}

function words(o: Required<AdamOptions>, offset: number, n: number, zeroGrad: boolean) {
  return packUniforms({
    offset,
    n,
    lr: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    one_minus_beta1: 1 - o.beta1,
    one_minus_beta2: 1 - o.beta2,
    eps: o.eps,
    zero_grad: zeroGrad ? 1 : 0,
  }, FLOATS);
}

/**
 * The optimiser state after `t` steps, [t, 1 − β1^t, 1 − β2^t, 0] computed in float64: upload
 * it into the state tensor to start (t = 0) or resume a run.
 */
export function adamState(t: number, o: Partial<AdamOptions> = {}): Float32Array {
  if (!Number.isInteger(t) || t < 0) throw new Error(`adam: step ${t} is not a count`);
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999;
  return Float32Array.from([t, 1 - b1 ** t, 1 - b2 ** t, 0]);
}

/** Binds the per-step advance of `state` (4): t + 1 and the bias corrections. */
export function bindAdamTick(
  gpu: Gpu,
  k: AdamKernels,
  state: Tensor,
  o: Partial<AdamOptions> = {},
): Dispatch {
  if (state.size < 4) throw new Error(`adam: state ${state.label} needs 4 values`);
  return new Dispatch(gpu, k.tick, [state], words(resolve({ ...o, lr: 0 }), 0, 0, false), [1]);
}

/** Options of {@link bindAdam}. */
export interface AdamBindOptions extends AdamOptions {
  /** First element to update (default 0). */
  offset?: number;
  /** Elements to update (default: all of `param` after `offset`). */
  length?: number;
  /** Zero each gradient after using it (default false). */
  zeroGrad?: boolean;
}

/**
 * Binds one Adam update of param[offset .. offset + length) from grad, keeping the moments in
 * m and v (all four laid out alike), with the bias corrections read from `state` (advance it
 * with {@link bindAdamTick} first). Bytes per encode: 28 per element (32 with `zeroGrad`).
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { adamKernels, adamState, bindAdam, bindAdamTick } from "./adam.ts";
 * const gpu = await sharedGpu();
 * const k = await adamKernels(gpu);
 * const o = { lr: 0.1 };
 * const p = tensor(gpu, [1], "p", [1]), g = tensor(gpu, [1], "g", [2]);
 * const m = tensor(gpu, [1], "m"), v = tensor(gpu, [1], "v");
 * const state = tensor(gpu, [4], "adam state", adamState(0));
 * run(gpu, [bindAdamTick(gpu, k, state, o), bindAdam(gpu, k, p, g, m, v, state, o)]);
 * console.log(await read(gpu, p)); // ≈ [0.9]
 * ```
 */
export function bindAdam(
  gpu: Gpu,
  k: AdamKernels,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  state: Tensor,
  o: AdamBindOptions,
): Dispatch {
  const offset = o.offset ?? 0;
  const n = o.length ?? param.size - offset;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(n) || n < 0) {
    throw new Error(`adam: bad range offset ${offset} length ${n} for ${param.label}`);
  }
  for (const t of [param, grad, m, v]) {
    // The shader reads whole vec4s: the buffer, not just the shape, must cover them.
    const bound = Math.min(t.bindingSize, t.buffer.size - t.offset); // what Dispatch binds
    if (t.size < offset + n || bound < Math.ceil((offset + n) / 4) * 16) {
      throw new Error(
        `adam: ${t.label} [${t.shape}] holds ${t.size} < ${offset + n} values (offset + length)`,
      );
    }
  }
  if (state.size < 4) throw new Error(`adam: state ${state.label} needs 4 values`);
  const all = [param, grad, m, v, state];
  if (new Set(all).size !== all.length) {
    throw new Error(`adam: param, grad, m, v and state must be five different tensors`);
  }
  return new Dispatch(
    gpu,
    k.update,
    all,
    words(resolve(o), offset, n, o.zeroGrad ?? false),
    [Math.min(groups(Math.ceil((offset + n) / 4) - Math.floor(offset / 4), WG), MAX_GROUPS)],
  );
}
