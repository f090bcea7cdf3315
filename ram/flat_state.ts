/**
 * Moving a model's flat parameter and Adam buffers (ram/params.ts flat layouts) between the
 * device and a {@link TrainState}: shared by the RAM's and the VAE probe's WebGPU backends.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Readback, type Tensor, upload, view } from "../gpu/tensor.ts";
import { adamState } from "../kernels/adam.ts";
import type { ParamMap, TrainState } from "./backend.ts";
import { type FlatLayout, flattenParams, unflattenParams } from "./params.ts";

/** The device buffers of a model laid out by one flat layout. */
export interface FlatBuffers {
  layout: FlatLayout;
  params: Tensor; // (total)
  m: Tensor; // (total) Adam first moments
  v: Tensor; // (total) Adam second moments
  adamState: Tensor; // (4) [t, 1 − β1^t, 1 − β2^t, 0]
}

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
 * gradient buffers laid out by `layout`; the RAM's and the probe's WebGPU programs bind these.
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

/** Copies parameters and Adam moments to the host with one readback. */
export async function readFlatState(gpu: Gpu, b: FlatBuffers, step: number): Promise<TrainState> {
  const rb = new Readback(gpu, "state readback");
  try {
    const [params, m, v] = await rb.read([b.params, b.m, b.v]);
    return {
      params: unflattenParams(params, b.layout),
      adamM: unflattenParams(m, b.layout),
      adamV: unflattenParams(v, b.layout),
      step,
    };
  } finally {
    rb.destroy();
  }
}

/**
 * Checks a state with `check` (names and shapes) and uploads it; `prefix` starts every error
 * (e.g. "VAE "). Returns the state's step count.
 */
export function writeFlatState(
  gpu: Gpu,
  b: FlatBuffers,
  state: TrainState,
  check: (p: ParamMap, what: string) => void,
  prefix = "",
): number {
  check(state.params, `${prefix}parameters`);
  check(state.adamM, `${prefix}Adam first moments`);
  check(state.adamV, `${prefix}Adam second moments`);
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new Error(`${prefix}state step ${state.step} is not a step count`);
  }
  upload(gpu, b.params, flattenParams(state.params, b.layout));
  upload(gpu, b.m, flattenParams(state.adamM, b.layout));
  upload(gpu, b.v, flattenParams(state.adamV, b.layout));
  upload(gpu, b.adamState, adamState(state.step));
  return state.step;
}
