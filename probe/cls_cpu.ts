/**
 * The class probe on plain Float32Arrays, from the CPU references (kernels/linear_ref.ts,
 * kernels/activation_ref.ts, kernels/softmax_ref.ts, kernels/adam_ref.ts). It is the reference
 * probe/cls_gpu.ts is held to, and the probe of the `cpu` backend, which swaps in the BLAS
 * linear pair (kernels/linear_blas.ts) as the VAE probe does. In the default `separate` mode the
 * first layer's features (R, T·H) are zero outside glimpse t's block, so it runs as T products
 * (B, H)·(H, out) on the states themselves, never building the features: the dense form spent
 * about 10 ms a step (bench/probe_cost.ts load) allocating and multiplying zeros, the blocked one
 * about 2.5 ms; the result is the same sum without the zero terms.
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
import type { ProbePhases } from "./vae_api.ts";
import {
  checkClsParams,
  type ClsConfig,
  clsFeatures,
  clsFeatureSize,
  clsFlatLayout,
  initClsParams,
} from "./cls_params.ts";
import { linearKind, type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { reluBackwardFast } from "../kernels/activation_ref.ts";
import { logSoftmaxRef } from "../kernels/softmax_ref.ts";
import { expNonPositive } from "../kernels/vae_ref.ts";
import { ParamState } from "../ram/param_state.ts";

/** The loss and the gradient of every parameter, without an Adam update. */
export interface ClsLossAndGrads extends ClsStepResult {
  /** Gradient of the mean NLL for every parameter (a fresh map). */
  grads: ParamMap;
}

/**
 * The rows of one call: `x` the dense features (R, F), or in `separate` mode the states (R, H)
 * themselves with the rows [r0, r1) of each glimpse t in `blocks`.
 */
interface Rows {
  x: Float32Array;
  R: number;
  blocks: { t: number; r0: number; r1: number }[];
}

/** A training step's forward pass: its rows, hidden activations (or null) and log-probabilities. */
interface ClsPass {
  rows: Rows;
  u: Float32Array | null;
  logp: Float32Array;
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
  // Parameters, Adam moments and gradients each in one flat buffer (clsFlatLayout), the maps
  // views into them: Adam runs once over the whole buffer and a step allocates no gradients.
  readonly #state: ParamState;
  #ops: LinearOps;
  /** Scratch (out, H) for one glimpse's block of a first-layer weight and its gradient. */
  readonly #wt: Float32Array;
  readonly #dwt: Float32Array;

  /**
   * A probe initialised as probe/cls_params.ts initClsParams(config, seed); `ops` runs its
   * products (default the TypeScript references).
   */
  constructor(config: ClsConfig, seed: number, ops: LinearOps = REF_LINEAR) {
    this.#ops = ops;
    this.config = { ...config };
    this.#state = new ParamState(initClsParams(config, seed), clsFlatLayout(config));
    const first = config.hidden > 0 ? config.hidden : config.classes;
    this.#wt = new Float32Array(first * config.input);
    this.#dwt = new Float32Array(first * config.input);
  }

  /** The live parameter tensors (mutating them changes the probe: for tests). */
  get params(): ParamMap {
    return this.#state.params;
  }

  #p(name: string): Float32Array {
    return this.#state.params.get(name)!.data;
  }

  /**
   * The rows the first layer reads: `hidden` (T, B, H), or (R, H) all of glimpse `glimpse`. In
   * `separate` mode the features (R, T·H) are zero outside block t, so that layer is one
   * (·, H) product per glimpse with columns [t·H, (t+1)·H) of its weight ({@link #blockForward});
   * the dense features are never built. Other modes build them (clsFeatures).
   */
  #rows(hidden: Float32Array, glimpse?: number): Rows {
    const { input: H, glimpses: T } = this.config;
    if (this.config.glimpse !== "separate") {
      const x = clsFeatures(this.config, hidden, glimpse);
      return { x, R: x.length / clsFeatureSize(this.config), blocks: [] };
    }
    clsFeatures({ ...this.config, glimpse: "shared" }, hidden, glimpse); // the size checks
    const R = hidden.length / H, B = glimpse === undefined ? R / T : R;
    const blocks = glimpse === undefined
      ? Array.from({ length: T }, (_, t) => ({ t, r0: t * B, r1: (t + 1) * B }))
      : [{ t: glimpse - 1, r0: 0, r1: R }];
    return { x: hidden, R, blocks };
  }

  /** Columns [t·H, (t+1)·H) of weight `W` (out, T·H) as a dense (out, H) matrix (scratch). */
  #block(W: Float32Array, outF: number, t: number): Float32Array {
    const { input: H } = this.config, F = clsFeatureSize(this.config);
    const Wt = this.#wt.subarray(0, outF * H); // (out, H)
    for (let o = 0; o < outF; o++) Wt.set(W.subarray(o * F + t * H, o * F + (t + 1) * H), o * H);
    return Wt;
  }

  /** y = act(x Wᵀ + b) for the layer `name` that reads the features. */
  #firstForward(rows: Rows, name: string, outF: number, y: Float32Array, act: "relu" | "none") {
    const W = this.#p(`${name}.weight`), b = this.#p(`${name}.bias`);
    if (rows.blocks.length === 0) {
      const F = clsFeatureSize(this.config);
      this.#ops.forward({ batch: rows.R, inF: F, outF }, rows.x, W, b, y, act);
      return;
    }
    const H = this.config.input;
    for (const { t, r0, r1 } of rows.blocks) {
      this.#ops.forward(
        { batch: r1 - r0, inF: H, outF },
        rows.x.subarray(r0 * H, r1 * H),
        this.#block(W, outF, t),
        b,
        y.subarray(r0 * outF, r1 * outF),
        act,
      );
    }
  }

  /** dW += dyᵀ x and db += Σ dy for the layer `name` that reads the features (no dx). */
  #firstBackward(rows: Rows, name: string, outF: number, dy: Float32Array, grads: ParamMap) {
    const dW = grads.get(`${name}.weight`)!.data, db = grads.get(`${name}.bias`)!.data;
    const W = this.#p(`${name}.weight`), F = clsFeatureSize(this.config);
    if (rows.blocks.length === 0) {
      this.#ops.backward({ batch: rows.R, inF: F, outF }, rows.x, W, dy, null, dW, db);
      return;
    }
    const H = this.config.input;
    const dWt = this.#dwt.subarray(0, outF * H); // (out, H)
    for (const { t, r0, r1 } of rows.blocks) {
      dWt.fill(0);
      this.#ops.backward(
        { batch: r1 - r0, inF: H, outF },
        rows.x.subarray(r0 * H, r1 * H),
        this.#block(W, outF, t),
        dy.subarray(r0 * outF, r1 * outF),
        null, // h is detached
        dWt,
        db,
      );
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < H; i++) dW[o * F + t * H + i] += dWt[o * H + i];
      }
    }
  }

  /**
   * The forward on `rows`; with `reuse` (a training step) into buffers kept between steps,
   * else (beliefs, which hands logp out) into fresh ones. With `labels` too (a training step)
   * it also leaves the NLL's dlogits in the workspace ({@link logSoftmaxNllBackward}: one exp a
   * logit, where logSoftmaxRef then nllBackwardRef take two).
   */
  #forward(
    rows: Rows,
    reuse = false,
    labels?: Int32Array,
  ): { u: Float32Array | null; logp: Float32Array } {
    const { hidden: Hd, classes: C } = this.config, R = rows.R;
    let u: Float32Array | null = null;
    const ws = reuse ? this.#workspace(R) : null;
    const logits = ws ? ws.logits.subarray(0, R * C) : new Float32Array(R * C); // (R, C)
    if (Hd > 0) {
      u = ws ? ws.u.subarray(0, R * Hd) : new Float32Array(R * Hd); // (R, hidden)
      this.#firstForward(rows, "classprobe.fc1", Hd, u, "relu");
      this.#ops.forward(
        { batch: R, inF: Hd, outF: C },
        u,
        this.#p("classprobe.out.weight"),
        this.#p("classprobe.out.bias"),
        logits,
      );
    } else {
      this.#firstForward(rows, "classprobe.out", C, logits, "none");
    }
    const logp = ws ? ws.logp.subarray(0, R * C) : new Float32Array(R * C);
    // A training step (labels given) forms dlogits on the way, with one exp a logit.
    if (ws && labels) logSoftmaxNllBackward(R, C, logits, labels, logp, ws.d.subarray(0, R * C));
    else logSoftmaxRef(R, C, logits, logp);
    return { u, logp };
  }

  #ws: {
    R: number;
    logits: Float32Array;
    logp: Float32Array;
    d: Float32Array;
    u: Float32Array;
    du: Float32Array;
  } | null = null;

  /** Training-step buffers for R rows, kept between steps (a step allocates nothing). */
  #workspace(R: number) {
    if (!this.#ws || this.#ws.R < R) {
      const { hidden: Hd, classes: C } = this.config;
      this.#ws = {
        R,
        logits: new Float32Array(R * C),
        logp: new Float32Array(R * C),
        d: new Float32Array(R * C),
        u: new Float32Array(R * Hd),
        du: new Float32Array(R * Hd),
      };
    }
    return this.#ws;
  }

  /** The workspace's dlogits: n values. */
  #dlogits(n: number): Float32Array {
    return this.#ws!.d.subarray(0, n);
  }

  /** The mean NLL over rows and every parameter's gradient; arguments as trainStep. */
  lossAndGrads(hidden: Float32Array, labels: Int32Array): ClsLossAndGrads {
    const result = this.#lossAndGrads(hidden, labels);
    const grads: ParamMap = new Map(
      [...this.#state.grads].map(([n, t]) => [n, { shape: [...t.shape], data: t.data.slice() }]),
    );
    return { ...result, grads };
  }

  /** {@link CpuClassProbe.lossAndGrads} with the gradients left in the flat gradient buffer. */
  #lossAndGrads(hidden: Float32Array, labels: Int32Array): ClsStepResult {
    return this.#gradients(this.#lossForward(hidden, labels), labels);
  }

  /** The forward of a training step: its rows, activations, log-probabilities and dlogits. */
  #lossForward(hidden: Float32Array, labels: Int32Array): ClsPass {
    const rows = this.#rows(hidden), R = rows.R;
    clsTargets(this.config, R, labels); // B labels for R = T·B rows: row r reads r % B
    return { rows, ...this.#forward(rows, true, labels) };
  }

  /** The gradients (into the flat buffer) and the score from {@link #lossForward}'s pass. */
  #gradients(pass: ClsPass, labels: Int32Array): ClsStepResult {
    const { hidden: Hd, classes: C } = this.config;
    const { rows, u, logp } = pass, R = rows.R;
    const dlogits = this.#dlogits(R * C); // (R, C), written by #forward
    this.#state.zeroGrads();
    const grads = this.#state.grads;
    const g = (n: string) => grads.get(n)!.data;
    if (u) {
      const du = this.#ws!.du.subarray(0, R * Hd); // (R, hidden)
      this.#ops.backward(
        { batch: R, inF: Hd, outF: C },
        u,
        this.#p("classprobe.out.weight"),
        dlogits,
        du,
        g("classprobe.out.weight"),
        g("classprobe.out.bias"),
      );
      reluBackwardFast(u, du, du);
      this.#firstBackward(rows, "classprobe.fc1", Hd, du, grads);
    } else {
      this.#firstBackward(rows, "classprobe.out", C, dlogits, grads);
    }
    return clsScore(logp, labels, C);
  }

  /** One step: {@link CpuClassProbe.lossAndGrads}, then Adam (lr from the config). */
  trainStep(hidden: Float32Array, labels: Int32Array): Promise<ClsStepResult> {
    return Promise.resolve().then(() => {
      const result = this.#lossAndGrads(hidden, labels);
      this.#state.adamFlat(this.config.lr);
      return result;
    });
  }

  /**
   * {@link CpuClassProbe.trainStep} in synchronous parts (probe/vae_api.ts ProbePhases): the
   * forward, log-softmax and dlogits in `forward`, the gradients and the score in `backward`,
   * Adam in `adam`; the same arithmetic in the same order as trainStep.
   */
  phases(hidden: Float32Array, labels: Int32Array): ProbePhases<ClsStepResult> {
    clsTargets(this.config, hidden.length / this.config.input, labels); // the size checks, now
    let pass: ClsPass | null = null;
    return {
      forward: () => {
        pass = this.#lossForward(hidden, labels);
      },
      backward: () => {
        if (!pass) throw new Error("class probe: phases' backward() before forward()");
        return this.#gradients(pass, labels);
      },
      adam: () => this.#state.adamFlat(this.config.lr),
    };
  }

  /** Log-probabilities; see {@link ClassProbe.beliefs}. */
  beliefs(hidden: Float32Array, glimpse?: number): Promise<Float32Array> {
    return Promise.resolve().then(() => {
      return this.#forward(this.#rows(hidden, glimpse)).logp;
    });
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
    this.#state.setState(state, (p, what) => checkClsParams(this.config, p, what), "class probe ");
  }

  /** Nothing to free on the CPU. */
  dispose(): void {}
}

/**
 * kernels/softmax_ref.ts logSoftmaxRef and nllBackwardRef (scale 1) in one pass, as the CPU class
 * probe's training step runs them: one exponential per logit instead of two, so softmax is
 * e^(x − m)/s rather than e^(logp), and that by kernels/vae_ref.ts expNonPositive (x − m ≤ 0:
 * no branch, within 1e-8 of Math.exp; 110 → about 70 µs for 768 × 10). It agrees with the pair
 * to float32 rounding (tests/softmax_test.ts).
 *
 * @example
 * ```ts
 * import { logSoftmaxNllBackward } from "./cls_cpu.ts";
 * const logp = new Float32Array(2), d = new Float32Array(2);
 * logSoftmaxNllBackward(1, 2, new Float32Array([0, Math.log(3)]), new Int32Array([1]), logp, d);
 * // logp ≈ [log 0.25, log 0.75]; d ≈ [0.25, -0.25]
 * ```
 */
export function logSoftmaxNllBackward(
  batch: number,
  C: number,
  logits: Float32Array,
  labels: Int32Array,
  logp: Float32Array,
  dlogits: Float32Array,
): void {
  const k = 1 / batch, L = labels.length;
  for (let b = 0; b < batch; b++) {
    const o = b * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[o + c]);
    let s = 0;
    for (let c = 0; c < C; c++) {
      const e = expNonPositive(logits[o + c] - m);
      dlogits[o + c] = e;
      s += e;
    }
    const lse = m + Math.log(s), ks = k / s;
    for (let c = 0; c < C; c++) {
      logp[o + c] = logits[o + c] - lse;
      dlogits[o + c] *= ks;
    }
    dlogits[o + labels[b % L]] -= k;
  }
}
