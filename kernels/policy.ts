/**
 * GPU wrapper for kernels/policy.wgsl: sampling the Gaussian location policy, its log-density,
 * the REINFORCE gradient with respect to μ (optionally through μ = tanh(pre)), and the
 * baseline gradient. CPU reference: kernels/policy_ref.ts.
 *
 * Per-step tensors (μ, a, loc, base, dμ, dbase: one per action step, as the linear layers
 * produce them) are bound whole. Tensors the host uploads once per training step for all
 * T−1 action steps (ε (T−1, B, 2), adv and ret (T−1, B)) and a stacked logπ (T−1, B) are
 * addressed with element offsets: bind step t with `epsOffset: t·2B`, `advOffset: t·B`, …
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, groups, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import policyWgsl from "./policy.wgsl" with { type: "text" };

const WG = 64;
const MAX_GROUPS = 65535;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const FLOATS = ["sigma", "log_norm", "grad_scale", "base_scale"];

/** The compiled entry points of kernels/policy.wgsl. */
export interface PolicyKernels {
  sample: Kernel;
  logProb: Kernel;
  grad: Kernel;
  baselineGrad: Kernel;
}

/**
 * Compiles every entry point of kernels/policy.wgsl.
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { bindPolicySample, policyKernels } from "./policy.ts";
 * const gpu = await sharedGpu();
 * const k = await policyKernels(gpu);
 * const mu = tensor(gpu, [1, 2], "mu", [0.99, 0]), eps = tensor(gpu, [1, 2], "eps", [1, -1]);
 * const a = tensor(gpu, [1, 2], "a"), loc = tensor(gpu, [1, 2], "loc");
 * run(gpu, [bindPolicySample(gpu, k, 1, 0.05, mu, eps, a, loc)]);
 * console.log(await read(gpu, loc)); // [1, -0.05]  (a is [1.04, -0.05])
 * ```
 */
export async function policyKernels(gpu: Gpu): Promise<PolicyKernels> {
  const compile = (entryPoint: string, storage: ("read" | "read_write")[]) =>
    compileKernel(gpu, {
      name: `policy.${entryPoint}`,
      code: policyWgsl,
      entryPoint,
      storage,
      constants: { WG },
    });
  return {
    sample: await compile("sample", ["read", "read", "read_write", "read_write"]),
    logProb: await compile("log_prob", ["read", "read", "read_write"]),
    grad: await compile("grad", ["read", "read", "read", "read_write"]),
    baselineGrad: await compile("baseline_grad", ["read", "read", "read_write"]),
  };
}

interface PolicyUniforms {
  B: number;
  sigma?: number;
  lambda?: number;
  steps?: number;
  epsOffset?: number;
  logpiOffset?: number;
  advOffset?: number;
  retOffset?: number;
  accumulate?: boolean;
  throughTanh?: boolean;
}

function bind(
  gpu: Gpu,
  kernel: Kernel,
  u: PolicyUniforms,
  items: number, // invocations needed: 2B element-wise, B per sample
  inputs: [Tensor, number][],
  outputs: [Tensor, number][],
): Dispatch {
  const { B } = u;
  if (!Number.isInteger(B) || B < 1) throw new Error(`${kernel.name}: bad batch size ${B}`);
  const sigma = u.sigma ?? 1;
  if (!(sigma > 0)) throw new Error(`${kernel.name}: σ must be positive, got ${sigma}`);
  for (const [t, n] of [...inputs, ...outputs]) {
    if (t.size < n) {
      throw new Error(`${kernel.name}: ${t.label} [${t.shape}] holds ${t.size} < ${n} values`);
    }
  }
  for (const [out] of outputs) {
    if (inputs.some(([t]) => t === out)) {
      throw new Error(`${kernel.name}: output ${out.label} must not alias an input`);
    }
  }
  const steps = u.steps ?? 1;
  const words = packUniforms({
    B,
    sigma,
    log_norm: -Math.log(sigma) - HALF_LOG_2PI,
    grad_scale: -(u.lambda ?? 0) / (B * sigma * sigma),
    base_scale: 2 / (B * steps),
    eps_off: u.epsOffset ?? 0,
    logpi_off: u.logpiOffset ?? 0,
    adv_off: u.advOffset ?? 0,
    ret_off: u.retOffset ?? 0,
    accumulate: u.accumulate ? 1 : 0,
    through_tanh: u.throughTanh ? 1 : 0,
  }, FLOATS);
  return new Dispatch(
    gpu,
    kernel,
    [...inputs, ...outputs].map(([t]) => t),
    words,
    [Math.min(groups(items, WG), MAX_GROUPS)],
  );
}

/**
 * Binds a(B,2) = μ(B,2) + σ·ε and loc(B,2) = clamp(a, −1, 1), reading ε from `eps` at element
 * `epsOffset` (a stacked (T−1, B, 2) tensor of standard normal draws). A zero ε gives the mean
 * policy. Bytes per encode: 32·B.
 */
export function bindPolicySample(
  gpu: Gpu,
  k: PolicyKernels,
  B: number,
  sigma: number,
  mu: Tensor,
  eps: Tensor,
  a: Tensor,
  loc: Tensor,
  opts: { epsOffset?: number } = {},
): Dispatch {
  const epsOffset = opts.epsOffset ?? 0;
  if (a === loc) throw new Error(`policy.sample: a and loc must differ (${a.label})`);
  return bind(gpu, k.sample, { B, sigma, epsOffset }, 2 * B, [[mu, 2 * B], [
    eps,
    epsOffset + 2 * B,
  ]], [
    [a, 2 * B],
    [loc, 2 * B],
  ]);
}

/**
 * Binds logπ[logpiOffset + b] = log N(a_b; μ_b, σ²I) summed over both coordinates, for
 * μ, a (B,2). Bytes per encode: 20·B.
 */
export function bindGaussianLogProb(
  gpu: Gpu,
  k: PolicyKernels,
  B: number,
  sigma: number,
  mu: Tensor,
  a: Tensor,
  logpi: Tensor,
  opts: { logpiOffset?: number } = {},
): Dispatch {
  const logpiOffset = opts.logpiOffset ?? 0;
  return bind(
    gpu,
    k.logProb,
    { B, sigma, logpiOffset },
    B,
    [[mu, 2 * B], [a, 2 * B]],
    [[logpi, logpiOffset + B]],
  );
}

/** Options of {@link bindPolicyGrad}. */
export interface PolicyGradOptions {
  /** Element offset of this step's advantages in `adv` (a stacked (T−1, B) tensor). */
  advOffset?: number;
  /** Add into dμ instead of overwriting it. */
  accumulate?: boolean;
  /**
   * Multiply by 1 − μ², giving the gradient with respect to the pre-activation of
   * μ = tanh(pre): policyGradRef followed by activationBackwardRef("tanh") in one dispatch.
   */
  throughTanh?: boolean;
}

/**
 * Binds dμ(B,2) = ∂/∂μ of λ·(1/B)·Σ_b −logπ(a_b|μ_b)·adv_b = −λ/(B·σ²)·adv_b·(a − μ), with
 * `adv` = G − b read at `advOffset`. Bytes per encode: 28·B (36·B accumulating).
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { read, tensor } from "../gpu/tensor.ts";
 * import { bindPolicyGrad, policyKernels } from "./policy.ts";
 * const gpu = await sharedGpu();
 * const k = await policyKernels(gpu);
 * const mu = tensor(gpu, [1, 2], "mu", [0, 0]), a = tensor(gpu, [1, 2], "a", [0.1, 0]);
 * const adv = tensor(gpu, [1], "adv", [1]), dpre = tensor(gpu, [1, 2], "dpre");
 * run(gpu, [bindPolicyGrad(gpu, k, 1, 0.1, 1, mu, a, adv, dpre, { throughTanh: true })]);
 * console.log(await read(gpu, dpre)); // ≈ [-10, 0]
 * ```
 */
export function bindPolicyGrad(
  gpu: Gpu,
  k: PolicyKernels,
  B: number,
  sigma: number,
  lambda: number,
  mu: Tensor,
  a: Tensor,
  adv: Tensor,
  dmu: Tensor,
  opts: PolicyGradOptions = {},
): Dispatch {
  const advOffset = opts.advOffset ?? 0;
  return bind(
    gpu,
    k.grad,
    { B, sigma, lambda, advOffset, accumulate: opts.accumulate, throughTanh: opts.throughTanh },
    2 * B,
    [[mu, 2 * B], [a, 2 * B], [adv, advOffset + B]],
    [[dmu, 2 * B]],
  );
}

/**
 * Binds dbase(B) = 2·(base − ret)/(B·steps), the gradient of the baseline term
 * (1/(B·steps))·Σ (b − G)² for one of `steps` action steps, with the returns read from `ret`
 * at `retOffset`. Bytes per encode: 12·B (16·B accumulating).
 */
export function bindBaselineGrad(
  gpu: Gpu,
  k: PolicyKernels,
  B: number,
  steps: number,
  base: Tensor,
  ret: Tensor,
  dbase: Tensor,
  opts: { retOffset?: number; accumulate?: boolean } = {},
): Dispatch {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`policy.baseline_grad: steps must be a positive integer, got ${steps}`);
  }
  const retOffset = opts.retOffset ?? 0;
  return bind(
    gpu,
    k.baselineGrad,
    { B, steps, retOffset, accumulate: opts.accumulate },
    B,
    [[base, B], [ret, retOffset + B]],
    [[dbase, B]],
  );
}
