/**
 * CPU reference for kernels/policy.wgsl: the fixed-σ Gaussian location policy and the
 * baseline, with the gradients of the REINFORCE and baseline terms of the hybrid loss.
 *
 * For one action step t (an action exists after glimpses 1..T−1):
 *   log π(a|μ) = Σ_d −(a_d − μ_d)²/(2σ²) − ln σ − ½ ln 2π, taken on the unclamped a;
 *   REINFORCE term  λ · mean_b −log π(a_b)·(G_b − b_b)  (G and the baseline b are constants);
 *   baseline term   mean over b and action steps of (b_b − G_b)².
 *
 * @module
 */

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** logpi(B) = log π(a | μ, σ) summed over the two coordinates. */
export function gaussianLogProbRef(
  batch: number,
  mu: Float32Array, // (B, 2)
  a: Float32Array, // (B, 2)
  sigma: number,
  logpi: Float32Array, // (B)
): void {
  const c = -Math.log(sigma) - HALF_LOG_2PI;
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let d = 0; d < 2; d++) {
      const z = (a[2 * b + d] - mu[2 * b + d]) / sigma;
      s += -0.5 * z * z + c;
    }
    logpi[b] = s;
  }
}

/**
 * Samples the action a = μ + σ·ε and the next location l = clamp(a, −1, 1).
 * ε(B,2) are standard normal draws supplied by the caller (seeded on the host).
 */
export function samplePolicyRef(
  batch: number,
  mu: Float32Array,
  eps: Float32Array,
  sigma: number,
  a: Float32Array,
  loc: Float32Array,
): void {
  for (let i = 0; i < 2 * batch; i++) {
    a[i] = mu[i] + sigma * eps[i];
    loc[i] = Math.min(1, Math.max(-1, a[i]));
  }
}

/**
 * dμ(B,2) = gradient of λ·(1/B)·Σ_b −log π(a_b|μ_b)·adv_b with respect to μ:
 * −λ/B · adv_b · (a − μ)/σ².
 *
 * @example
 * ```ts
 * import { policyGradRef } from "./policy_ref.ts";
 * const dmu = new Float32Array(2);
 * policyGradRef(1, new Float32Array([0, 0]), new Float32Array([0.1, 0]),
 *   new Float32Array([1]), 0.1, 1, dmu);
 * // dmu ≈ [-10, 0]
 * ```
 */
export function policyGradRef(
  batch: number,
  mu: Float32Array,
  a: Float32Array,
  adv: Float32Array, // (B): G − b
  sigma: number,
  lambda: number,
  dmu: Float32Array,
): void {
  const k = -lambda / (batch * sigma * sigma);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < 2; d++) {
      const i = 2 * b + d;
      dmu[i] = k * adv[b] * (a[i] - mu[i]);
    }
  }
}

/**
 * Gradient of the baseline term for one action step: the term is
 * (1/(B·steps))·Σ_b (base_b − G_b)², so dbase_b = 2·(base_b − G_b)/(B·steps).
 */
export function baselineGradRef(
  batch: number,
  steps: number,
  base: Float32Array, // (B)
  ret: Float32Array, // (B)
  dbase: Float32Array, // (B)
): void {
  const k = 2 / (batch * steps);
  for (let b = 0; b < batch; b++) dbase[b] = k * (base[b] - ret[b]);
}
