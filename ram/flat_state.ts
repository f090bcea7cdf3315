/**
 * A model's trainable state on a WebGPU device: parameters, gradients and Adam moments each in
 * one flat buffer (ram/params.ts flat layouts), the Adam bias-correction state, the step count,
 * and the Adam dispatches over them. The RAM's and both probes' WebGPU backends keep their state
 * in one; ram/param_state.ts is the same owner on the host.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { Readback, type Tensor, tensor, upload, view } from "../gpu/tensor.ts";
import { type AdamKernels, adamState, bindAdam, bindAdamTick } from "../kernels/adam.ts";
import type { ParamMap, TrainState } from "./backend.ts";
import { type FlatLayout, flattenParams, unflattenParams } from "./params.ts";
import { checkStateMaps, type ParamCheck } from "./param_state.ts";

/** One layer's weight, bias and their gradients, all views into the flat buffers. */
export interface DenseViews {
  W: Tensor; // (out, in)
  b: Tensor; // (out)
  dW: Tensor; // (out, in)
  db: Tensor; // (out)
  inF: number;
  outF: number;
}

/**
 * The views of layer `weight`/`bias` (PyTorch names, e.g. "fc1.weight") into flat parameter and
 * gradient buffers laid out by `layout`; the RAM's and the probes' WebGPU programs bind these.
 */
export function denseViews(
  layout: FlatLayout,
  params: Tensor,
  grads: Tensor,
  weight: string,
  bias: string,
): DenseViews {
  const entry = (name: string) => {
    const e = layout.byName.get(name);
    if (!e) throw new Error(`webgpu: parameter "${name}" is missing from the layout`);
    return e;
  };
  const ew = entry(weight), eb = entry(bias);
  return {
    W: view(params, ew.offset, ew.shape, weight),
    b: view(params, eb.offset, eb.shape, bias),
    dW: view(grads, ew.offset, ew.shape, `grad ${weight}`),
    db: view(grads, eb.offset, eb.shape, `grad ${bias}`),
    inF: ew.shape[1],
    outF: ew.shape[0],
  };
}

/** A range of the flat buffers that Adam updates at one learning rate (default: all of it). */
export interface AdamRange {
  lr: number;
  offset?: number;
  length?: number;
}

/**
 * Parameters, gradients, Adam moments and step count of a model on a device.
 *
 * @example
 * ```ts ignore
 * import { FlatState } from "./flat_state.ts";
 * import { flatLayout, initParams } from "./params.ts";
 * const state = new FlatState(gpu, flatLayout(cfg), initParams(cfg, 1), "ram");
 * const fc1 = state.dense("fc1.weight", "fc1.bias"); // bind these in forward and backward
 * const adam = state.adam(await adamKernels(gpu), [{ lr: 3e-4 }]); // record after the backward
 * ```
 */
export class FlatState {
  readonly params: Tensor; // (total) flat parameters
  readonly grads: Tensor; // (total) flat gradients, zero between steps
  readonly m: Tensor; // (total) Adam first moments
  readonly v: Tensor; // (total) Adam second moments
  readonly adamState: Tensor; // (4) [t, 1 − β1^t, 1 − β2^t, 0]
  /** Adam steps taken (the count the owner's step submissions advanced adamState by). */
  step = 0;
  readonly #label: string;
  #adam: { key: string; dispatches: Dispatch[] } | null = null;

  /** Uploads `init` (names and shapes as `layout`) with zero gradients and moments. */
  constructor(
    readonly gpu: Gpu,
    readonly layout: FlatLayout,
    init: ParamMap,
    label: string, // starts every buffer's label, e.g. "vae"
  ) {
    const total = layout.total, l = label ? `${label} ` : "";
    this.#label = l;
    this.params = tensor(gpu, [total], `${l}params`, flattenParams(init, layout));
    this.grads = tensor(gpu, [total], `${l}grads`);
    this.m = tensor(gpu, [total], `${l}adam m`);
    this.v = tensor(gpu, [total], `${l}adam v`);
    this.adamState = tensor(gpu, [4], `${l}adam state`, adamState(0));
  }

  /** Views of layer `weight`/`bias` and their gradients (see {@link denseViews}). */
  dense(weight: string, bias: string): DenseViews {
    return denseViews(this.layout, this.params, this.grads, weight, bias);
  }

  /**
   * The Adam tick and one update per range, each zeroing the gradients it used; record them
   * after the backward. Kept (and freed by {@link destroy}) until the ranges change.
   */
  adam(kernels: AdamKernels, ranges: readonly AdamRange[]): Dispatch[] {
    const key = JSON.stringify(ranges);
    if (this.#adam?.key !== key) {
      for (const d of this.#adam?.dispatches ?? []) d.destroy();
      const dispatches = [bindAdamTick(this.gpu, kernels, this.adamState, {})];
      for (const r of ranges) {
        dispatches.push(
          bindAdam(this.gpu, kernels, this.params, this.grads, this.m, this.v, this.adamState, {
            ...r,
            zeroGrad: true,
          }),
        );
      }
      this.#adam = { key, dispatches };
    }
    return this.#adam.dispatches;
  }

  /** Zeroes the gradients (a step that failed after its backward must not leave them). */
  clearGrads(): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: `${this.#label}drop gradients` });
    encoder.clearBuffer(this.grads.buffer);
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  /** Copies parameters and Adam moments to the host with one readback. */
  async getState(): Promise<TrainState> {
    const rb = new Readback(this.gpu, "state readback");
    try {
      const [params, m, v] = await rb.read([this.params, this.m, this.v]);
      return {
        params: unflattenParams(params, this.layout),
        adamM: unflattenParams(m, this.layout),
        adamV: unflattenParams(v, this.layout),
        step: this.step,
      };
    } finally {
      rb.destroy();
    }
  }

  /** Uploads `state` after {@link checkStateMaps}(state, check, prefix). */
  setState(state: TrainState, check: ParamCheck, prefix = ""): void {
    checkStateMaps(state, check, prefix);
    upload(this.gpu, this.params, flattenParams(state.params, this.layout));
    upload(this.gpu, this.m, flattenParams(state.adamM, this.layout));
    upload(this.gpu, this.v, flattenParams(state.adamV, this.layout));
    upload(this.gpu, this.adamState, adamState(state.step));
    this.step = state.step;
  }

  /** Frees the buffers and the Adam dispatches. */
  destroy(): void {
    for (const d of this.#adam?.dispatches ?? []) d.destroy();
    this.#adam = null;
    for (const t of [this.params, this.grads, this.m, this.v, this.adamState]) t.buffer.destroy();
  }
}
