/**
 * The VAE probe on plain Float32Arrays, composed from the CPU references (kernels/linear_ref.ts,
 * kernels/activation_ref.ts, kernels/vae_ref.ts, kernels/adam_ref.ts). It is the reference the
 * WebGPU probe (probe/vae_gpu.ts) is held to, and the probe of the `cpu` backend.
 *
 * Forward on R rows (shapes in comments; probe/vae.ts explains rows and targets):
 * ```
 * e      = ReLU(enc h)            (R, hidden)
 * stats  = stats e                (R, 2L)  μ | log σ²
 * z      = μ + exp(½ log σ²)·ε    (R, L),  kl (R)
 * d      = ReLU(dec1 z)           (R, hidden)
 * logits = dec2 d                 (R, pixels), bce (R) against clean row r % B
 * ```
 * and the backward in reverse, with the 1/R of the mean-over-rows loss in dlogits and in the
 * KL gradient (kernels/vae_ref.ts). h is detached: no gradient is formed for it.
 *
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import type { Vae, VaeStepResult } from "./vae_api.ts";
import { vaeRows } from "./vae_api.ts";
import { checkVaeParams, initVaeParams, type VaeConfig, zeroVaeParams } from "./vae_params.ts";
import { type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { activationBackwardRef } from "../kernels/activation_ref.ts";
import { bceRef, latentBackwardRef, latentForwardRef, sigmoidRef } from "../kernels/vae_ref.ts";
import { rowSqErrRef } from "../kernels/reduce_ref.ts";
import { ParamState } from "../ram/param_state.ts";

/** The loss, its parts and the gradient of every parameter, without an Adam update. */
export interface VaeLossAndGrads extends VaeStepResult {
  /** Gradient of `loss` for every parameter (a fresh map, names as probe/vae_params.ts). */
  grads: ParamMap;
}

/** Activations of one forward pass. */
interface Trace {
  e: Float32Array; // (R, hidden) ReLU(enc h)
  stats: Float32Array; // (R, 2L)
  z: Float32Array; // (R, L)
  kl: Float32Array; // (R)
  d: Float32Array; // (R, hidden) ReLU(dec1 z)
  logits: Float32Array; // (R, pixels)
}

/**
 * The VAE probe on the CPU implementing {@link Vae}.
 *
 * @example
 * ```ts
 * import { CpuVae } from "./vae_cpu.ts";
 * import { resolveVaeConfig } from "./vae_params.ts";
 * const vae = new CpuVae(resolveVaeConfig({ input: 4, hidden: 6, latent: 2, pixels: 9 }), 1);
 * const h = new Float32Array(3 * 4).fill(0.5); // (T=3, B=1, H=4)
 * const clean = new Float32Array(9).fill(1); // (B=1, 9)
 * const r = await vae.trainStep(h, clean, new Float32Array(3 * 2));
 * const recon = await vae.reconstruct(h); // (3, 9)
 * ```
 */
export class CpuVae implements Vae {
  readonly name = "cpu" as const;
  readonly config: VaeConfig;
  readonly #state: ParamState;
  #ops: LinearOps;

  /**
   * A probe initialised as probe/vae_params.ts initVaeParams(config, seed); its products run on
   * `ops` (the TypeScript references by default, kernels/linear_blas.ts for BLAS speed).
   */
  constructor(config: VaeConfig, seed: number, ops: LinearOps = REF_LINEAR) {
    this.config = { ...config };
    this.#ops = ops;
    this.#state = new ParamState(initVaeParams(config, seed));
  }

  /** The live parameter tensors (mutating them changes the probe: for tests). */
  get params(): ParamMap {
    return this.#state.params;
  }

  #p(name: string): Float32Array {
    return this.#state.params.get(name)!.data;
  }

  #forward(hidden: Float32Array, eps: Float32Array | null, R: number): Trace {
    const { input, hidden: Hd, latent: L, pixels: P } = this.config;
    const t: Trace = {
      e: new Float32Array(R * Hd),
      stats: new Float32Array(R * 2 * L),
      z: new Float32Array(R * L),
      kl: new Float32Array(R),
      d: new Float32Array(R * Hd),
      logits: new Float32Array(R * P),
    };
    const p = (n: string) => this.#p(n);
    this.#ops.forward(
      { batch: R, inF: input, outF: Hd },
      hidden,
      p("vae.enc.weight"),
      p("vae.enc.bias"),
      t.e,
      "relu",
    );
    this.#ops.forward(
      { batch: R, inF: Hd, outF: 2 * L },
      t.e,
      p("vae.stats.weight"),
      p("vae.stats.bias"),
      t.stats,
    );
    // ε = 0 decodes μ (reconstructions); the KL does not depend on ε.
    latentForwardRef({ batch: R, latent: L }, t.stats, eps ?? new Float32Array(R * L), t.z, t.kl);
    this.#ops.forward(
      { batch: R, inF: L, outF: Hd },
      t.z,
      p("vae.dec1.weight"),
      p("vae.dec1.bias"),
      t.d,
      "relu",
    );
    this.#ops.forward(
      { batch: R, inF: Hd, outF: P },
      t.d,
      p("vae.dec2.weight"),
      p("vae.dec2.bias"),
      t.logits,
    );
    return t;
  }

  /**
   * The loss (mean over rows of BCE + KL) and the gradient of every parameter at the current
   * parameters, without updating them. Arguments as {@link Vae.trainStep}.
   */
  lossAndGrads(hidden: Float32Array, clean: Float32Array, eps: Float32Array): VaeLossAndGrads {
    const { input, hidden: Hd, latent: L, pixels: P } = this.config;
    const { rows: R, targets } = vaeRows("cpu vae", this.config, hidden, clean, eps);
    const t = this.#forward(hidden, eps, R);
    const bce = new Float32Array(R); // (R)
    const dlogits = new Float32Array(R * P); // (R, P)
    bceRef({ rows: R, pixels: P, targetRows: targets }, t.logits, clean, bce, dlogits, 1 / R);

    const grads = zeroVaeParams(this.config);
    const g = (n: string) => grads.get(n)!.data;
    const p = (n: string) => this.#p(n);
    const dd = new Float32Array(R * Hd); // (R, hidden)
    this.#ops.backward(
      { batch: R, inF: Hd, outF: P },
      t.d,
      p("vae.dec2.weight"),
      dlogits,
      dd,
      g("vae.dec2.weight"),
      g("vae.dec2.bias"),
    );
    activationBackwardRef("relu", t.d, dd, dd);
    const dz = new Float32Array(R * L); // (R, L)
    this.#ops.backward(
      { batch: R, inF: L, outF: Hd },
      t.z,
      p("vae.dec1.weight"),
      dd,
      dz,
      g("vae.dec1.weight"),
      g("vae.dec1.bias"),
    );
    const dstats = new Float32Array(R * 2 * L); // (R, 2L)
    latentBackwardRef({ batch: R, latent: L }, t.stats, eps, dz, 1 / R, dstats);
    const de = new Float32Array(R * Hd); // (R, hidden)
    this.#ops.backward(
      { batch: R, inF: Hd, outF: 2 * L },
      t.e,
      p("vae.stats.weight"),
      dstats,
      de,
      g("vae.stats.weight"),
      g("vae.stats.bias"),
    );
    activationBackwardRef("relu", t.e, de, de);
    this.#ops.backward(
      { batch: R, inF: input, outF: Hd },
      hidden,
      p("vae.enc.weight"),
      de,
      null, // h is detached
      g("vae.enc.weight"),
      g("vae.enc.bias"),
    );

    let bceSum = 0, klSum = 0;
    for (let r = 0; r < R; r++) {
      bceSum += bce[r];
      klSum += t.kl[r];
    }
    return { loss: (bceSum + klSum) / R, bce: bceSum / R, kl: klSum / R, grads };
  }

  /** One step: {@link CpuVae.lossAndGrads}, then Adam (PyTorch defaults, lr from the config). */
  trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): Promise<VaeStepResult> {
    // Through a promise, so that bad sizes reject as they do on the GPU rather than throw.
    return Promise.resolve().then(() => this.#trainStep(hidden, clean, eps));
  }

  #trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): VaeStepResult {
    const { grads, ...result } = this.lossAndGrads(hidden, clean, eps);
    this.#state.adamStep(grads, this.config.lr);
    return result;
  }

  /** Reconstructions from μ, see {@link Vae.reconstruct}. */
  reconstruct(hidden: Float32Array): Promise<Float32Array> {
    return Promise.resolve().then(() => this.#reconstruct(hidden));
  }

  #reconstruct(hidden: Float32Array): Float32Array {
    const { rows: R } = vaeRows("cpu vae", this.config, hidden, null, null);
    const out = new Float32Array(R * this.config.pixels); // (R, P)
    sigmoidRef(this.#forward(hidden, null, R).logits, out);
    return out;
  }

  /** Per-row reconstruction MSE, see {@link Vae.reconstructionError}. */
  async reconstructionError(hidden: Float32Array, clean: Float32Array): Promise<Float32Array> {
    const P = this.config.pixels;
    const { rows: R, targets } = vaeRows("cpu vae", this.config, hidden, clean, null);
    const recon = await this.reconstruct(hidden);
    const out = new Float32Array(R); // (R)
    rowSqErrRef(R, P, recon, clean, out, { scale: 1 / P, targetRows: targets });
    return out;
  }

  /** Copies parameters and Adam state. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads parameters and Adam state (copies; names and shapes must match the config). */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkVaeParams(this.config, p, what), "VAE ");
  }

  /** Nothing to free on the CPU. */
  dispose(): void {}
}
