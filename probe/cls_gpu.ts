/**
 * The class probe on a WebGPU device, from existing kernels (linear, activation, softmax's
 * log_softmax and nll_backward, adam): no kernel of its own. It mirrors probe/cls_cpu.ts op for
 * op and is held to it in tests/cls_probe_test.ts; read that file for the maths.
 *
 * Parameters live in one flat buffer (probe/cls_params.ts clsFlatLayout), gradients in another,
 * so one Adam dispatch updates the probe and clears the gradients. Per row count a
 * {@link ClsProgram} makes its buffers and bind groups once; a step uploads the features and the
 * per-row labels, records forward, backward and Adam in one pass and reads log p back (the host
 * scores NLL and accuracy from it: T·B·C floats).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";
import { type Dispatch, encodePass } from "../gpu/kernel.ts";
import { Readback, type Tensor, tensor, upload } from "../gpu/tensor.ts";
import type { TrainState } from "../ram/backend.ts";
import { type DenseViews, FlatState } from "../ram/flat_state.ts";
import { type ClassProbe, clsScore, type ClsStepResult, clsTargets } from "./cls_api.ts";
import {
  checkClsParams,
  type ClsConfig,
  clsFeatures,
  clsFeatureSize,
  clsFlatLayout,
  initClsParams,
} from "./cls_params.ts";
import {
  bindLinearBackward,
  bindLinearForward,
  type LinearKernels,
  linearKernels,
} from "../kernels/linear.ts";
import {
  type ActivationKernels,
  activationKernels,
  bindActivationBackward,
} from "../kernels/activation.ts";
import {
  bindLogSoftmax,
  bindNllBackward,
  type SoftmaxKernels,
  softmaxKernels,
} from "../kernels/softmax.ts";
import { type AdamKernels, adamKernels } from "../kernels/adam.ts";

interface Kernels {
  linear: LinearKernels;
  activation: ActivationKernels;
  softmax: SoftmaxKernels;
  adam: AdamKernels;
}

type Dense = DenseViews;

/** The prepared dispatches and buffers of one row count R. */
class ClsProgram {
  readonly x: Tensor; // (R, F) uploaded features
  readonly labels: Tensor; // (R) f32 label of each row
  readonly logp: Tensor; // (R, C)
  /** Forward, NLL gradient and backward (Adam is added by the owner). */
  readonly train: Dispatch[] = [];
  /** Forward only. */
  readonly forward: Dispatch[] = [];
  readonly readback: Readback;
  readonly #owned: Tensor[] = [];

  constructor(gpu: Gpu, cfg: ClsConfig, k: Kernels, fc1: Dense | null, out: Dense, R: number) {
    const C = cfg.classes, F = clsFeatureSize(cfg);
    const t = (shape: number[], label: string) => {
      const x = tensor(gpu, shape, `cls ${label} R=${R}`);
      this.#owned.push(x);
      return x;
    };
    this.x = t([R, F], "x");
    this.labels = t([R], "labels");
    this.logp = t([R, C], "logp");
    const logits = t([R, C], "logits"), dlogits = t([R, C], "dlogits");
    const u = fc1 ? t([R, fc1.outF], "u") : null, du = fc1 ? t([R, fc1.outF], "du") : null;
    this.readback = new Readback(gpu, `cls readback R=${R}`);
    const fwd = (l: Dense, x: Tensor, y: Tensor, act: "relu" | "none") =>
      bindLinearForward(gpu, k.linear, { batch: R, inF: l.inF, outF: l.outF }, x, l.W, l.b, y, act);
    if (fc1 && u) this.forward.push(fwd(fc1, this.x, u, "relu"));
    this.forward.push(
      fwd(out, u ?? this.x, logits, "none"),
      bindLogSoftmax(gpu, k.softmax, R, C, logits, this.logp),
    );
    this.train.push(
      ...this.forward,
      bindNllBackward(gpu, k.softmax, R, C, this.logp, this.labels, dlogits),
      ...bindLinearBackward(
        gpu,
        k.linear,
        { batch: R, inF: out.inF, outF: C },
        u ?? this.x,
        out.W,
        dlogits,
        { dx: du, dW: out.dW, db: out.db },
      ),
    );
    if (fc1 && u && du) {
      this.train.push(
        bindActivationBackward(gpu, k.activation, "relu", u.size, u, du, du),
        ...bindLinearBackward(
          gpu,
          k.linear,
          { batch: R, inF: fc1.inF, outF: fc1.outF },
          this.x,
          fc1.W,
          du,
          { dx: null, dW: fc1.dW, db: fc1.db }, // h is detached
        ),
      );
    }
  }

  destroy(): void {
    for (const x of this.#owned) x.buffer.destroy();
    for (const d of new Set([...this.train, ...this.forward])) d.destroy();
    this.readback.destroy();
  }
}

/**
 * The class probe on WebGPU implementing {@link ClassProbe}.
 *
 * @example
 * ```ts ignore
 * import { requestGpu } from "../gpu/device.ts";
 * import { GpuClassProbe } from "./cls_gpu.ts";
 * const probe = await GpuClassProbe.create(await requestGpu(), cfg, 1);
 * const logp = await probe.beliefs(rollout.hidden); // (T, B, C)
 * ```
 */
export class GpuClassProbe implements ClassProbe {
  readonly name = "webgpu" as const;
  readonly config: ClsConfig;
  readonly #state: FlatState;
  readonly #fc1: Dense | null;
  readonly #out: Dense;
  readonly #programs = new Map<number, ClsProgram>();

  private constructor(
    readonly gpu: Gpu,
    config: ClsConfig,
    readonly kernels: Kernels,
    seed: number,
  ) {
    this.config = { ...config };
    this.#state = new FlatState(gpu, clsFlatLayout(config), initClsParams(config, seed), "cls");
    const dense = (m: string) => this.#state.dense(`${m}.weight`, `${m}.bias`);
    this.#fc1 = config.hidden > 0 ? dense("classprobe.fc1") : null;
    this.#out = dense("classprobe.out");
  }

  /** Compiles the kernels and initialises the parameters from `seed` as the cpu probe does. */
  static async create(
    gpu: Gpu,
    config: ClsConfig,
    seed: number,
    matmul?: MatmulStrategy, // default: the fastest on this adapter
  ): Promise<GpuClassProbe> {
    const kernels: Kernels = {
      linear: await linearKernels(gpu, matmul),
      activation: await activationKernels(gpu),
      softmax: await softmaxKernels(gpu),
      adam: await adamKernels(gpu),
    };
    const probe = new GpuClassProbe(gpu, config, kernels, seed);
    gpu.check();
    return probe;
  }

  #program(R: number): ClsProgram {
    let p = this.#programs.get(R);
    if (!p) {
      p = new ClsProgram(this.gpu, this.config, this.kernels, this.#fc1, this.#out, R);
      this.#programs.set(R, p);
    }
    return p;
  }

  /** One Adam step; see {@link ClassProbe.trainStep}. */
  async trainStep(hidden: Float32Array, labels: Int32Array): Promise<ClsStepResult> {
    const x = clsFeatures(this.config, hidden);
    const R = x.length / clsFeatureSize(this.config);
    const B = clsTargets(this.config, R, labels);
    const p = this.#program(R);
    const rowLabels = new Float32Array(R);
    for (let r = 0; r < R; r++) rowLabels[r] = labels[r % B];
    upload(this.gpu, p.x, x);
    upload(this.gpu, p.labels, rowLabels);
    const adam = this.#state.adam(this.kernels.adam, [{ lr: this.config.lr }]);
    const [logp] = await p.readback.read(
      [p.logp],
      encodePass(this.gpu, [...p.train, ...adam], "cls train step"),
    );
    this.#state.step++;
    return clsScore(logp, labels, this.config.classes);
  }

  /** Log-probabilities; see {@link ClassProbe.beliefs}. */
  async beliefs(hidden: Float32Array, glimpse?: number): Promise<Float32Array> {
    const x = clsFeatures(this.config, hidden, glimpse);
    const p = this.#program(x.length / clsFeatureSize(this.config));
    upload(this.gpu, p.x, x);
    const [logp] = await p.readback.read([p.logp], encodePass(this.gpu, p.forward, "cls beliefs"));
    return logp;
  }

  /** Copies parameters and Adam state to the host. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads parameters and Adam state (names and shapes must match the config). */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkClsParams(this.config, p, what), "class probe ");
  }

  /** Frees every buffer (the device stays open: it may be the RAM's). */
  dispose(): void {
    for (const p of this.#programs.values()) p.destroy();
    this.#programs.clear();
    this.#state.destroy();
  }
}
