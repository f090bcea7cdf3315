/**
 * GPU wrapper for kernels/lstm.wgsl: the element-wise LSTM cell and its backward.
 * CPU reference: kernels/lstm_ref.ts.
 *
 * A full LSTM step is three dispatches: z = x·Wihᵀ + b, then z += h·Whhᵀ (both with
 * `bindLinearForward` from kernels/linear.ts, the second with accumulate), then
 * {@link bindLstmCell}. Backward: {@link bindLstmCellBackward}, then `bindLinearBackward` for
 * each of the two layers with dy = dz.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { elementGrid } from "./_grid.ts";
import type { LstmShape } from "./lstm_ref.ts";
import lstmWgsl from "./lstm.wgsl" with { type: "text" };

export type { LstmShape } from "./lstm_ref.ts";

const WG = 64;

/** The compiled entry points of kernels/lstm.wgsl. */
export interface LstmKernels {
  forward: Kernel;
  backward: Kernel;
}

/** Compiles the LSTM cell kernels (once per device; bind them many times). */
export async function lstmKernels(gpu: Gpu): Promise<LstmKernels> {
  return {
    forward: await compileKernel(gpu, {
      name: "lstm forward",
      code: lstmWgsl,
      entryPoint: "forward",
      storage: ["read", "read", "read_write", "read_write", "read_write"],
      constants: { WG },
    }),
    backward: await compileKernel(gpu, {
      name: "lstm backward",
      code: lstmWgsl,
      entryPoint: "backward",
      storage: ["read", "read", "read", "read", "read_write", "read_write"],
      constants: { WG },
    }),
  };
}

function need(what: string, t: Tensor, size: number): void {
  if (t.size < size) {
    throw new Error(`kernels/lstm.ts: ${what} ${t.label} [${t.shape}] holds fewer than ${size}`);
  }
}

/**
 * Binds one cell step: gates = (σ(z_i), σ(z_f), tanh(z_g), σ(z_o)), c' = f·c + i·g,
 * h' = o·tanh(c'). Reads and writes per encode: 4·B·H + B·H floats in, 6·B·H out.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { tensor } from "../gpu/tensor.ts";
 * import { bindLstmCell, lstmKernels } from "./lstm.ts";
 * const gpu = await sharedGpu();
 * const s = { batch: 2, hidden: 3 };
 * const z = tensor(gpu, [2, 12], "z"), c = tensor(gpu, [2, 3], "c");
 * const gates = tensor(gpu, [2, 12], "gates");
 * const c1 = tensor(gpu, [2, 3], "c1"), h1 = tensor(gpu, [2, 3], "h1");
 * run(gpu, [bindLstmCell(gpu, await lstmKernels(gpu), s, z, c, gates, c1, h1)]);
 * ```
 */
export function bindLstmCell(
  gpu: Gpu,
  k: LstmKernels,
  s: LstmShape,
  z: Tensor, // (B, 4H)
  c: Tensor, // (B, H)
  gates: Tensor, // (B, 4H) out
  cNext: Tensor, // (B, H) out
  hNext: Tensor, // (B, H) out
): Dispatch {
  const { batch: B, hidden: H } = s;
  need("z", z, 4 * B * H);
  need("c", c, B * H);
  need("gates", gates, 4 * B * H);
  need("cNext", cNext, B * H);
  need("hNext", hNext, B * H);
  return new Dispatch(
    gpu,
    k.forward,
    [z, c, gates, cNext, hNext],
    packUniforms({ B, H, has_dc_next: 0 }),
    elementGrid(B * H, WG),
  );
}

/**
 * Binds the cell backward: from dh' and dc' writes dz (B, 4H) and dc (B, H).
 * `dc` is read and overwritten in place: it holds dL/dc' from the next step on entry and
 * dL/dc on exit, so one buffer carries the cell gradient through time. Pass
 * `hasDcNext = false` for the last glimpse, where dL/dc' is zero (dc's contents are then
 * ignored, so it need not be cleared). Floats moved per encode: 8·B·H in, 5·B·H out.
 */
export function bindLstmCellBackward(
  gpu: Gpu,
  k: LstmKernels,
  s: LstmShape,
  gates: Tensor, // (B, 4H) from the forward
  c: Tensor, // (B, H) previous cell state
  cNext: Tensor, // (B, H) c' from the forward
  dh: Tensor, // (B, H) dL/dh'
  dc: Tensor, // (B, H) in: dL/dc' (when hasDcNext); out: dL/dc
  dz: Tensor, // (B, 4H) out
  hasDcNext = true,
): Dispatch {
  const { batch: B, hidden: H } = s;
  need("gates", gates, 4 * B * H);
  need("c", c, B * H);
  need("cNext", cNext, B * H);
  need("dh", dh, B * H);
  need("dc", dc, B * H);
  need("dz", dz, 4 * B * H);
  return new Dispatch(
    gpu,
    k.backward,
    [gates, c, cNext, dh, dc, dz],
    packUniforms({ B, H, has_dc_next: hasDcNext ? 1 : 0 }),
    elementGrid(B * H, WG),
  );
}
