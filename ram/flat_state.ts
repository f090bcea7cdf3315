/**
 * Moving a model's flat parameter and Adam buffers (ram/params.ts flat layouts) between the
 * device and a {@link TrainState}: shared by the RAM's and the VAE probe's WebGPU backends.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Readback, type Tensor, upload } from "../gpu/tensor.ts";
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
