/**
 * CPU reference for kernels/adam.wgsl: one Adam step (PyTorch's defaults: β1 0.9, β2 0.999,
 * ε 1e-8, no weight decay), bias-corrected with the step number t ≥ 1.
 *
 * @module
 */

/** Adam hyper-parameters. */
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * Updates param in place from grad, keeping the moments m and v; t is the 1-based step.
 *
 * @example
 * ```ts
 * import { adamRef } from "./adam_ref.ts";
 * const p = new Float32Array([1]), m = new Float32Array(1), v = new Float32Array(1);
 * adamRef(p, new Float32Array([2]), m, v, 1, { lr: 0.1 });
 * // p[0] ≈ 0.9 (the first step moves each weight by about lr)
 * ```
 */
export function adamRef(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  t: number,
  o: AdamOptions,
): void {
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8;
  const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    param[i] -= o.lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + eps);
  }
}
