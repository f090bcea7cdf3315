/**
 * The class probe on plain Float32Arrays, from the CPU references (kernels/linear_ref.ts,
 * kernels/activation_ref.ts, kernels/softmax_ref.ts, kernels/adam_ref.ts). It is the reference
 * probe/cls_gpu.ts is held to, and the probe of the `cpu` backend, which swaps in the BLAS
 * linear pair (kernels/linear_blas.ts) as the VAE probe does: in the default `separate` mode the
 * first layer reads T·H features per row, and the TypeScript products cost about as much as a
 * whole RAM training step.
 *
 * Forward on R = T·B rows (x from probe/cls_params.ts clsFeatures):
 * ```
 * u      = ReLU(fc1 x)        (R, hidden)   only when hidden > 0
 * logits = out u (or out x)   (R, C)
 * logp   = log_softmax(logits)
 * loss   = mean_r −logp[r, y_{r % B}]
 * ```
 * Backward: dlogits = (p − onehot(y)) / R, then the linear and ReLU backwards. h is detached:
 * no gradient is formed for it.
 *
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { type ClassProbe, clsScore, type ClsStepResult, clsTargets } from "./cls_api.ts";
import {
  checkClsParams,
  type ClsConfig,
  clsFeatures,
  clsFeatureSize,
  clsParamSpecs,
  initClsParams,
  zeroClsParams,
} from "./cls_params.ts";
import { type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { activationBackwardRef } from "../kernels/activation_ref.ts";
import { logSoftmaxRef, nllBackwardRef } from "../kernels/softmax_ref.ts";
import { adamRef } from "../kernels/adam_ref.ts";

/** The loss and the gradient of every parameter, without an Adam update. */
export interface ClsLossAndGrads extends ClsStepResult {
  /** Gradient of the mean NLL for every parameter (a fresh map). */
  grads: ParamMap;
}

/**
 * The class probe on the CPU implementing {@link ClassProbe}.
 *
 * @example
 * ```ts
 * import { CpuClassProbe } from "./cls_cpu.ts";
 * const probe = new CpuClassProbe(
 *   { input: 4, glimpses: 2, classes: 3, hidden: 5, glimpse: "separate", lr: 1e-3 }, 1);
 * const h = new Float32Array(2 * 1 * 4).fill(0.5); // (T=2, B=1, H=4)
 * const r = await probe.trainStep(h, Int32Array.from([2])); // r.nll, r.accuracy
 * const logp = await probe.beliefs(h); // (2, 1, 3)
 * ```
 */
export class CpuClassProbe implements ClassProbe {
  readonly name = "cpu" as const;
  readonly config: ClsConfig;
  #params: ParamMap;
  #m: ParamMap;
  #v: ParamMap;
  #step = 0;
  #ops: LinearOps;

  /**
   * A probe initialised as probe/cls_params.ts initClsParams(config, seed); `ops` runs its
   * products (default the TypeScript references).
   */
  constructor(config: ClsConfig, seed: number, ops: LinearOps = REF_LINEAR) {
    this.#ops = ops;
    this.config = { ...config };
    this.#params = initClsParams(config, seed);
    this.#m = zeroClsParams(config);
    this.#v = zeroClsParams(config);
  }

  /** The live parameter tensors (mutating them changes the probe: for tests). */
  get params(): ParamMap {
    return this.#params;
  }

  #p(name: string): Float32Array {
    return this.#params.get(name)!.data;
  }

  #forward(x: Float32Array, R: number): { u: Float32Array | null; logp: Float32Array } {
    const { hidden: Hd, classes: C } = this.config, F = clsFeatureSize(this.config);
    let u: Float32Array | null = null;
    if (Hd > 0) {
      u = new Float32Array(R * Hd); // (R, hidden)
      this.#ops.forward(
        { batch: R, inF: F, outF: Hd },
        x,
        this.#p("classprobe.fc1.weight"),
        this.#p("classprobe.fc1.bias"),
        u,
        "relu",
      );
    }
    const logits = new Float32Array(R * C); // (R, C)
    this.#ops.forward(
      { batch: R, inF: Hd > 0 ? Hd : F, outF: C },
      u ?? x,
      this.#p("classprobe.out.weight"),
      this.#p("classprobe.out.bias"),
      logits,
    );
    const logp = new Float32Array(R * C);
    logSoftmaxRef(R, C, logits, logp);
    return { u, logp };
  }

  /** The mean NLL over rows and every parameter's gradient; arguments as trainStep. */
  lossAndGrads(hidden: Float32Array, labels: Int32Array): ClsLossAndGrads {
    const { hidden: Hd, classes: C } = this.config, F = clsFeatureSize(this.config);
    const x = clsFeatures(this.config, hidden);
    const R = x.length / F;
    const B = clsTargets(this.config, R, labels);
    const { u, logp } = this.#forward(x, R);
    const rowLabels = new Int32Array(R);
    for (let r = 0; r < R; r++) rowLabels[r] = labels[r % B];
    const dlogits = new Float32Array(R * C); // (R, C)
    nllBackwardRef(R, C, logp, rowLabels, dlogits);
    const grads = zeroClsParams(this.config);
    const g = (n: string) => grads.get(n)!.data;
    const du = u ? new Float32Array(R * Hd) : null; // (R, hidden)
    this.#ops.backward(
      { batch: R, inF: u ? Hd : F, outF: C },
      u ?? x,
      this.#p("classprobe.out.weight"),
      dlogits,
      du,
      g("classprobe.out.weight"),
      g("classprobe.out.bias"),
    );
    if (u && du) {
      activationBackwardRef("relu", u, du, du);
      this.#ops.backward(
        { batch: R, inF: F, outF: Hd },
        x,
        this.#p("classprobe.fc1.weight"),
        du,
        null, // h is detached
        g("classprobe.fc1.weight"),
        g("classprobe.fc1.bias"),
      );
    }
    return { ...clsScore(logp, labels, C), grads };
  }

  /** One step: {@link CpuClassProbe.lossAndGrads}, then Adam (lr from the config). */
  trainStep(hidden: Float32Array, labels: Int32Array): Promise<ClsStepResult> {
    return Promise.resolve().then(() => {
      const { grads, ...result } = this.lossAndGrads(hidden, labels);
      this.#step++;
      for (const s of clsParamSpecs(this.config)) {
        adamRef(
          this.#params.get(s.name)!.data,
          grads.get(s.name)!.data,
          this.#m.get(s.name)!.data,
          this.#v.get(s.name)!.data,
          this.#step,
          { lr: this.config.lr },
        );
      }
      return result;
    });
  }

  /** Log-probabilities; see {@link ClassProbe.beliefs}. */
  beliefs(hidden: Float32Array, glimpse?: number): Promise<Float32Array> {
    return Promise.resolve().then(() => {
      const x = clsFeatures(this.config, hidden, glimpse);
      return this.#forward(x, x.length / clsFeatureSize(this.config)).logp;
    });
  }

  /** Copies parameters and Adam state. */
  getState(): Promise<TrainState> {
    const copy = (p: ParamMap): ParamMap =>
      new Map([...p].map(([n, t]) => [n, { shape: [...t.shape], data: t.data.slice() }]));
    return Promise.resolve({
      params: copy(this.#params),
      adamM: copy(this.#m),
      adamV: copy(this.#v),
      step: this.#step,
    });
  }

  /** Loads parameters and Adam state (copies; names and shapes must match the config). */
  setState(state: TrainState): void {
    checkClsParams(this.config, state.params, "class probe parameters");
    checkClsParams(this.config, state.adamM, "class probe Adam first moments");
    checkClsParams(this.config, state.adamV, "class probe Adam second moments");
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new Error(`class probe state step ${state.step} is not a step count`);
    }
    const load = (dst: ParamMap, src: ParamMap) => {
      for (const [n, t] of dst) t.data.set(src.get(n)!.data);
    };
    load(this.#params, state.params);
    load(this.#m, state.adamM);
    load(this.#v, state.adamV);
    this.#step = state.step;
  }

  /** Nothing to free on the CPU. */
  dispose(): void {}
}
