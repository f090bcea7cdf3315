/**
 * CPU reference for kernels/activation.wgsl: element-wise activations and their backward
 * expressed through the forward output y (what the forward pass keeps).
 *
 * @module
 */
import { activate, type Activation } from "./matmul_ref.ts";

/** out[i] = act(x[i]). */
export function activationRef(act: Activation, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = activate(x[i], act);
}

/**
 * dx = dy · act'(pre), written through y = act(pre):
 * relu: y > 0; tanh: 1 − y²; sigmoid: y(1 − y); none: 1.
 *
 * @example
 * ```ts
 * import { activationBackwardRef } from "./activation_ref.ts";
 * const dx = new Float32Array(2);
 * activationBackwardRef("relu", new Float32Array([0, 2]), new Float32Array([5, 5]), dx);
 * // dx is [0, 5]
 * ```
 */
export function activationBackwardRef(
  act: Activation,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
): void {
  if (act === "relu") {
    // The common case without the per-value switch (the CPU probes run it on every step).
    for (let i = 0; i < y.length; i++) dx[i] = dy[i] * (y[i] > 0 ? 1 : 0);
    return;
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    let d: number;
    switch (act) {
      case "tanh":
        d = 1 - v * v;
        break;
      case "sigmoid":
        d = v * (1 - v);
        break;
      default:
        d = 1;
    }
    dx[i] = dy[i] * d;
  }
}
