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
 * Cost (it trains beside the RAM on every step, bench/probe_cost.ts): a step allocates nothing
 * (activations in a workspace kept between steps, parameters, moments and gradients in flat
 * buffers with the maps as views), the loss runs as kernels/vae_ref.ts bceInPlace (dlogits over
 * the logits, the decoder bias gradient summed on the way, one log per row), and Adam runs once
 * over the flat buffers in kernels/adam_ref.ts adamHoisted form.
 *
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import type { ProbePhases, Vae, VaeStepResult } from "./vae_api.ts";
import { vaeRows } from "./vae_api.ts";
import { checkVaeParams, initVaeParams, type VaeConfig, vaeFlatLayout } from "./vae_params.ts";
import { linearKind, type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { reluBackwardFast } from "../kernels/activation_ref.ts";
import {
  bceInPlace,
  bceOnHeap,
  latentBackwardRef,
  latentForwardRef,
  sigmoidRef,
} from "../kernels/vae_ref.ts";
import { SimdHeap } from "../util/simd.ts";
import { rowSqErrRef } from "../kernels/reduce_ref.ts";
import { ParamState } from "../ram/param_state.ts";

/** The loss, its parts and the gradient of every parameter, without an Adam update. */
export interface VaeLossAndGrads extends VaeStepResult {
  /** Gradient of `loss` for every parameter (a fresh map, names as probe/vae_params.ts). */
  grads: ParamMap;
}

/**
 * Activations and gradients of one step on up to `capacity` rows, kept between steps so a step
 * allocates nothing; {@link _Workspace.rows} views the first R rows of each. Where WebAssembly
 * SIMD runs they live in a {@link SimdHeap} of their own, with the scratch its loops need
 * (targets, bias-gradient sums, loss partials): the loss then runs four floats at a time
 * without copying the logits in and out, and with BLAS products (the `cpu` backend) so do the
 * ReLUs, their backward and the bias gradients, in the same bits as kernels/linear_blas.ts.
 * With the TypeScript references those stay the references' own.
 */
class _Workspace {
  /** The heap the arrays live in ({@link _Workspace.create}), or null. */
  heap: SimdHeap | null = null;
  readonly e: Float32Array; // (cap, hidden) ReLU(enc h); then de
  readonly stats: Float32Array; // (cap, 2L)
  readonly z: Float32Array; // (cap, L)
  readonly kl: Float32Array; // (cap)
  readonly d: Float32Array; // (cap, hidden) ReLU(dec1 z)
  readonly logits: Float32Array; // (cap, pixels); dlogits in place after the loss
  readonly bce: Float32Array; // (cap)
  readonly dd: Float32Array; // (cap, hidden)
  readonly dz: Float32Array; // (cap, L)
  readonly dstats: Float32Array; // (cap, 2L)
  readonly de: Float32Array; // (cap, hidden)
  readonly zeroEps: Float32Array; // (cap, L) ε = 0: decodes μ
  // The heap's scratch (empty without one): targets, a bias gradient's sum, loss partials.
  readonly target: Float32Array; // (cap, pixels)
  readonly db: Float32Array; // (max(hidden, 2L, pixels))
  readonly loss4: Float32Array; // (cap, 4)

  /**
   * @param alloc where the arrays live (plain memory by default; {@link _Workspace.create} passes
   * a heap's); `scratch` adds the heap loops' scratch (targets, a bias-gradient sum, loss partials).
   */
  constructor(
    readonly capacity: number,
    c: VaeConfig,
    alloc: (n: number) => Float32Array = (k) => new Float32Array(k),
    scratch = false,
  ) {
    const n = capacity, { hidden: Hd, latent: L, pixels: P } = c;
    const f = alloc;
    this.e = f(n * Hd);
    this.stats = f(n * 2 * L);
    this.z = f(n * L);
    this.kl = f(n);
    this.d = f(n * Hd);
    this.logits = f(n * P);
    this.bce = f(n);
    this.dd = f(n * Hd);
    this.dz = f(n * L);
    this.dstats = f(n * 2 * L);
    this.de = f(n * Hd);
    this.zeroEps = f(n * L);
    this.target = f(scratch ? n * P : 0);
    this.db = f(scratch ? Math.max(Hd, 2 * L, P) : 0);
    this.loss4 = f(scratch ? 4 * n : 0);
  }

  /**
   * A workspace for `capacity` rows in a heap of its own with the scratch its loops need, where
   * WebAssembly SIMD runs and the pixels come in fours; else in plain arrays without scratch.
   */
  static create(capacity: number, c: VaeConfig): _Workspace {
    const fitted = c.pixels % 4 === 0
      ? SimdHeap.fitted((alloc) => new _Workspace(capacity, c, alloc, true))
      : null;
    if (!fitted) return new _Workspace(capacity, c);
    fitted.built.heap = fitted.heap;
    return fitted.built;
  }

  /** ReLU in place, four at a time on the heap (activation_ref.ts reluFast's bits). */
  relu(x: Float32Array): void {
    this.heap!.relu(x);
  }

  /** dx = dy ⊙ (y > 0) in place, as activation_ref.ts reluBackwardFast (same bits). */
  reluBackward(y: Float32Array, dy: Float32Array): void {
    this.heap!.reluBackward(y, dy, dy);
  }

  /** db += Σ_r dy[r] over R rows (float32, row order, as kernels/linear_blas.ts: same bits). */
  biasGrad(db: Float32Array, dy: Float32Array, R: number): void {
    const cols = db.length, sum = this.db.subarray(0, cols).fill(0);
    this.heap!.colsum(sum, dy, R);
    for (let j = 0; j < cols; j++) db[j] += sum[j];
  }

  /** The first R rows of every buffer. */
  rows(R: number, c: VaeConfig): Trace {
    const { hidden: Hd, latent: L, pixels: P } = c;
    return {
      e: this.e.subarray(0, R * Hd),
      stats: this.stats.subarray(0, R * 2 * L),
      z: this.z.subarray(0, R * L),
      kl: this.kl.subarray(0, R),
      d: this.d.subarray(0, R * Hd),
      logits: this.logits.subarray(0, R * P),
    };
  }
}

/** Activations of one forward pass (views into the workspace). */
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
  // Parameters, Adam moments and gradients each in one flat buffer (vaeFlatLayout), the maps
  // views into them: Adam runs once over the whole buffer and a step allocates nothing.
  readonly #state: ParamState;
  #ops: LinearOps;
  // BLAS products (kernels/linear_blas.ts): the element-wise work may then run on the heap.
  #blas: boolean;
  #ws: _Workspace | null = null;

  /**
   * A probe initialised as probe/vae_params.ts initVaeParams(config, seed); its products run on
   * `ops` (the TypeScript references by default, kernels/linear_blas.ts for BLAS speed).
   */
  constructor(config: VaeConfig, seed: number, ops: LinearOps = REF_LINEAR) {
    this.config = { ...config };
    this.#ops = ops;
    this.#blas = linearKind(ops) === "blas";
    this.#state = new ParamState(initVaeParams(config, seed), vaeFlatLayout(config));
  }

  /** The live parameter tensors (mutating them changes the probe: for tests). */
  get params(): ParamMap {
    return this.#state.params;
  }

  #p(name: string): Float32Array {
    return this.#state.params.get(name)!.data;
  }

  #workspace(R: number): _Workspace {
    if (!this.#ws || this.#ws.capacity < R) this.#ws = _Workspace.create(R, this.config);
    return this.#ws;
  }

  #forward(hidden: Float32Array, eps: Float32Array | null, R: number): Trace {
    const { input, hidden: Hd, latent: L, pixels: P } = this.config;
    const ws = this.#workspace(R), simd = ws.heap !== null && this.#blas;
    const t = ws.rows(R, this.config);
    const p = (n: string) => this.#p(n);
    this.#ops.forward(
      { batch: R, inF: input, outF: Hd },
      hidden,
      p("vae.enc.weight"),
      p("vae.enc.bias"),
      t.e,
      simd ? "none" : "relu",
    );
    if (simd) ws.relu(t.e);
    this.#ops.forward(
      { batch: R, inF: Hd, outF: 2 * L },
      t.e,
      p("vae.stats.weight"),
      p("vae.stats.bias"),
      t.stats,
    );
    // ε = 0 decodes μ (reconstructions); the KL does not depend on ε.
    latentForwardRef(
      { batch: R, latent: L },
      t.stats,
      eps ?? ws.zeroEps.subarray(0, R * L),
      t.z,
      t.kl,
    );
    this.#ops.forward(
      { batch: R, inF: L, outF: Hd },
      t.z,
      p("vae.dec1.weight"),
      p("vae.dec1.bias"),
      t.d,
      simd ? "none" : "relu",
    );
    if (simd) ws.relu(t.d);
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
    const result = this.#lossAndGrads(hidden, clean, eps);
    const grads: ParamMap = new Map(
      [...this.#state.grads].map(([n, t]) => [n, { shape: [...t.shape], data: t.data.slice() }]),
    );
    return { ...result, grads };
  }

  /** {@link CpuVae.lossAndGrads} with the gradients left in the flat gradient buffer. */
  #lossAndGrads(hidden: Float32Array, clean: Float32Array, eps: Float32Array): VaeStepResult {
    const { rows: R, targets } = vaeRows("cpu vae", this.config, hidden, clean, eps);
    return this.#backward(this.#forward(hidden, eps, R), hidden, clean, eps, R, targets);
  }

  /** The loss and the gradients (into the flat buffer) from the forward pass `t` on R rows. */
  #backward(
    t: Trace,
    hidden: Float32Array,
    clean: Float32Array,
    eps: Float32Array,
    R: number,
    targets: number,
  ): VaeStepResult {
    const { input, hidden: Hd, latent: L, pixels: P } = this.config;
    const ws = this.#ws!, simd = ws.heap !== null && this.#blas;
    this.#state.zeroGrads();
    const g = (n: string) => this.#state.grads.get(n)!.data;
    const p = (n: string) => this.#p(n);
    // dlogits overwrite the logits; the dec2 bias gradient is summed on the way.
    const bce = ws.bce.subarray(0, R), dlogits = t.logits;
    const shape = { rows: R, pixels: P, targetRows: targets };
    if (ws.heap) {
      const target = ws.target.subarray(0, R * P), l4 = ws.loss4.subarray(0, 4 * R);
      bceOnHeap(ws.heap, shape, t.logits, clean, target, bce, g("vae.dec2.bias"), 1 / R, ws.db, l4);
    } else {
      bceInPlace(shape, t.logits, clean, bce, g("vae.dec2.bias"), 1 / R);
    }

    const dd = ws.dd.subarray(0, R * Hd); // (R, hidden)
    this.#ops.backward(
      { batch: R, inF: Hd, outF: P },
      t.d,
      p("vae.dec2.weight"),
      dlogits,
      dd,
      g("vae.dec2.weight"),
      null, // summed by bceInPlace
    );
    if (simd) ws.reluBackward(t.d, dd);
    else reluBackwardFast(t.d, dd, dd);
    const dz = ws.dz.subarray(0, R * L); // (R, L)
    this.#ops.backward(
      { batch: R, inF: L, outF: Hd },
      t.z,
      p("vae.dec1.weight"),
      dd,
      dz,
      g("vae.dec1.weight"),
      simd ? null : g("vae.dec1.bias"),
    );
    if (simd) ws.biasGrad(g("vae.dec1.bias"), dd, R);
    const dstats = ws.dstats.subarray(0, R * 2 * L); // (R, 2L)
    latentBackwardRef({ batch: R, latent: L }, t.stats, eps, dz, 1 / R, dstats);
    const de = ws.de.subarray(0, R * Hd); // (R, hidden)
    this.#ops.backward(
      { batch: R, inF: Hd, outF: 2 * L },
      t.e,
      p("vae.stats.weight"),
      dstats,
      de,
      g("vae.stats.weight"),
      simd ? null : g("vae.stats.bias"),
    );
    if (simd) {
      ws.biasGrad(g("vae.stats.bias"), dstats, R);
      ws.reluBackward(t.e, de);
    } else {
      reluBackwardFast(t.e, de, de);
    }
    this.#ops.backward(
      { batch: R, inF: input, outF: Hd },
      hidden,
      p("vae.enc.weight"),
      de,
      null, // h is detached
      g("vae.enc.weight"),
      simd ? null : g("vae.enc.bias"),
    );
    if (simd) ws.biasGrad(g("vae.enc.bias"), de, R);

    let bceSum = 0, klSum = 0;
    for (let r = 0; r < R; r++) {
      bceSum += bce[r];
      klSum += t.kl[r];
    }
    return { loss: (bceSum + klSum) / R, bce: bceSum / R, kl: klSum / R };
  }

  /** One step: {@link CpuVae.lossAndGrads}, then Adam (PyTorch defaults, lr from the config). */
  trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): Promise<VaeStepResult> {
    // Through a promise, so that bad sizes reject as they do on the GPU rather than throw.
    return Promise.resolve().then(() => this.#trainStep(hidden, clean, eps));
  }

  /**
   * {@link CpuVae.trainStep} in synchronous parts (probe/vae_api.ts ProbePhases): the same
   * arithmetic in the same order, so the same numbers bit for bit. Sizes are checked here.
   */
  phases(hidden: Float32Array, clean: Float32Array, eps: Float32Array): ProbePhases<VaeStepResult> {
    const { rows: R, targets } = vaeRows("cpu vae", this.config, hidden, clean, eps);
    let t: Trace | null = null;
    return {
      forward: () => {
        t = this.#forward(hidden, eps, R);
      },
      backward: () => {
        if (!t) throw new Error("cpu vae: phases' backward() before forward()");
        return this.#backward(t, hidden, clean, eps, R, targets);
      },
      adam: () => this.#state.adamFlat(this.config.lr),
    };
  }

  #trainStep(hidden: Float32Array, clean: Float32Array, eps: Float32Array): VaeStepResult {
    const result = this.#lossAndGrads(hidden, clean, eps);
    this.#state.adamFlat(this.config.lr);
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

  /** Which products it runs (kernels/linear_blas.ts linearKind): a Worker's copy runs the same. */
  get linear(): "reference" | "blas" | "other" {
    return linearKind(this.#ops);
  }

  /** Copies parameters and Adam state. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads parameters and Adam state (copies; names and shapes must match the config). */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkVaeParams(this.config, p, what), "VAE ");
  }

  /** Drops the step's workspace. */
  dispose(): void {
    this.#ws = null;
  }
}
