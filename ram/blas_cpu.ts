/**
 * The fast `cpu` backend: the RAM of shared DESIGN.md with every product on the machine's BLAS
 * (util/blas.ts) and the element-wise work in allocation-free loops over a workspace reused
 * across steps (ram/blas_pass.ts). It follows the reference backend (ram/cpu.ts) in every
 * convention — loss parts, episodes, reward checks, Adam — and the tests hold its forward,
 * gradients, updates and rollouts to it within float tolerance. Checkpoints are the same
 * ParamMaps, so a model moves freely between `cpu`, the reference and `webgpu`.
 *
 * @module
 */
import {
  type Batch,
  checkHiddenOut,
  type ParamMap,
  type RamBackend,
  type Rollout,
  rolloutAction,
  type RolloutOptions,
  type StepNoise,
  type StepResult,
  type TrainState,
  type TrainStepOptions,
} from "./backend.ts";
import { type GroupLrs, groupLrs, paramGroup, type RamConfig, type TrainConfig } from "./config.ts";
import type { Episodes, RewardFn } from "../rewards/types.ts";
import { checkTrainState, initParams } from "./params.ts";
import { returnsFromRewards } from "./returns.ts";
import { checkRewards, episodesFrom, stepResult } from "./step.ts";
import type { Blas } from "../util/blas.ts";
import { type ActionFill, blasBackward, blasForward, Workspace } from "./blas_pass.ts";
import {
  bindBlasNet,
  type BlasLayout,
  blasLayout,
  type BlasNet,
  packParams,
  sumBiases,
  unpackParams,
} from "./blas_layout.ts";

/** What {@link BlasRam.lossAndGrads} returns (as ram/cpu.ts LossAndGrads). */
export interface BlasLossAndGrads extends StepResult {
  grads: ParamMap;
  actions: Float32Array; // (T−1, B, 2)
  returns: Float32Array; // (T−1, B)
  baselines: Float32Array; // (T−1, B)
  dmu: Float32Array; // (T−1, B, 2)
}

/**
 * A RAM on the CPU's BLAS implementing {@link RamBackend}.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "../util/blas.ts";
 * import { BlasRam } from "./blas_cpu.ts";
 * import { DEFAULT_RAM } from "./config.ts";
 * const blas = loadBlas();
 * const ram = blas ? new BlasRam(DEFAULT_RAM, 1, blas) : null; // null: use ram/cpu.ts
 * ```
 */
export class BlasRam implements RamBackend {
  readonly name = "cpu" as const;
  readonly config: RamConfig;
  readonly blas: Blas;
  #layout: BlasLayout;
  #params: Float32Array;
  #grads: Float32Array;
  #m: Float32Array;
  #v: Float32Array;
  #step = 0;
  #net: BlasNet;
  #gradNet: BlasNet;
  #ws: Workspace | null = null;

  /** A RAM initialised as ram/params.ts initParams(config, seed): the reference's numbers. */
  constructor(config: RamConfig, seed: number, blas: Blas) {
    this.config = { ...config };
    this.blas = blas;
    this.#layout = blasLayout(config);
    const n = this.#layout.total;
    this.#params = new Float32Array(n);
    this.#grads = new Float32Array(n);
    this.#m = new Float32Array(n);
    this.#v = new Float32Array(n);
    packParams(this.#layout, initParams(config, seed), this.#params);
    this.#net = bindBlasNet(config, this.#layout, this.#params);
    this.#gradNet = bindBlasNet(config, this.#layout, this.#grads);
    sumBiases(this.#net);
  }

  /** One training step: forward, rewards, returns, backward through time, one Adam step. */
  async trainStep(
    batch: Batch,
    reward: RewardFn,
    noise: StepNoise,
    train: TrainConfig,
    options: TrainStepOptions = {},
  ): Promise<StepResult> {
    const ws = this.#workspace(batch);
    if (options.hidden) checkHiddenOut("cpu backend", this.config, batch.size, options.hidden);
    this.#forward(ws, batch, noise.start, this.#noiseActions(batch.size, noise.policy));
    options.hidden?.set(ws.h.subarray(0, options.hidden.length));
    const rewards = await reward(this.#episodes(ws, batch));
    const r = this.#lossAndGrads(ws, batch, rewards, train.lambda);
    this.#step++;
    this.#adam(groupLrs(train));
    sumBiases(this.#net);
    const { nll, baseline, reinforce, loss, accuracy, reward: meanReward } = r;
    return { nll, baseline, reinforce, loss, accuracy, reward: meanReward };
  }

  /** The loss and its gradients for given rewards (T, B); parameters and Adam untouched. */
  lossAndGrads(
    batch: Batch,
    rewards: Float32Array,
    noise: StepNoise,
    options: { lambda?: number; actions?: Float32Array } = {},
  ): BlasLossAndGrads {
    const ws = this.#workspace(batch);
    const B = batch.size;
    let source = this.#noiseActions(B, noise.policy);
    if (options.actions) {
      const fixed = options.actions;
      if (fixed.length !== (this.config.glimpses - 1) * B * 2) {
        throw new Error(`cpu backend: options.actions has ${fixed.length} values`);
      }
      source = (i, _mu, a) => a.set(fixed.subarray(i * B * 2, (i + 1) * B * 2));
    }
    this.#forward(ws, batch, noise.start, source);
    const r = this.#lossAndGrads(ws, batch, rewards, options.lambda ?? 0.01);
    const AB = (this.config.glimpses - 1) * B;
    return {
      ...r,
      grads: unpackParams(this.#layout, this.#grads),
      actions: ws.a.slice(0, AB * 2),
      baselines: ws.base.slice(0, AB),
      dmu: ws.dmu.slice(0, AB * 2),
    };
  }

  /** Forward only: the mean policy (or sampled with options.policy), from the centre by default. */
  rollout(batch: Batch, options: RolloutOptions): Promise<Rollout> {
    try {
      const ws = this.#workspace(batch);
      const B = batch.size, T = this.config.glimpses;
      const source = rolloutAction(
        "cpu backend",
        T,
        B,
        options,
        (policy) => this.#noiseActions(B, policy),
      );
      this.#forward(ws, batch, options.start ?? new Float32Array(B * 2), source);
      const H = this.config.hidden, C = this.config.classes;
      return Promise.resolve({
        ...this.#episodes(ws, batch),
        logp: ws.logp.slice(0, T * B * C),
        hidden: ws.h.slice(0, T * B * H),
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Copies of the parameters, Adam moments and step count, named as ram/params.ts. */
  getState(): Promise<TrainState> {
    const unpack = (flat: Float32Array) => unpackParams(this.#layout, flat);
    return Promise.resolve({
      params: unpack(this.#params),
      adamM: unpack(this.#m),
      adamV: unpack(this.#v),
      step: this.#step,
    });
  }

  /** Loads a state (copied in); names and shapes must match this config. */
  setState(state: TrainState): void {
    checkTrainState(this.config, state, "cpu backend setState");
    packParams(this.#layout, state.params, this.#params);
    packParams(this.#layout, state.adamM, this.#m);
    packParams(this.#layout, state.adamV, this.#v);
    this.#step = state.step;
    sumBiases(this.#net);
  }

  /** Drops the workspace (the BLAS stays open for the process). */
  dispose(): void {
    this.#ws = null;
  }

  /**
   * Adam (PyTorch defaults) over the flat buffer, as kernels/adam_ref.ts per tensor, each tensor
   * with its group's learning rate (config.ts groupLrs: model, policy, baseline).
   */
  #adam(lrs: GroupLrs): void {
    const b1 = 0.9, b2 = 0.999, eps = 1e-8, t = this.#step;
    const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t, a1 = 1 - b1, a2 = 1 - b2;
    const p = this.#params, g = this.#grads, m = this.#m, v = this.#v;
    for (const spec of this.#layout.specs) {
      const lr = lrs[paramGroup(spec.name)];
      const from = this.#layout.offset.get(spec.name)!;
      const to = from + spec.shape.reduce((a, b) => a * b, 1);
      for (let i = from; i < to; i++) {
        const gi = g[i];
        // m and v rounded to float32 before use, as adam_ref reads them back from its arrays.
        const mi = Math.fround(b1 * m[i] + a1 * gi), vi = Math.fround(b2 * v[i] + a2 * gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
      }
    }
  }

  #workspace(batch: Batch): Workspace {
    const { height, width } = this.config, B = batch.size;
    if (!Number.isInteger(B) || B < 1) throw new Error(`cpu backend: batch size ${B} must be ≥ 1`);
    if (batch.images.length !== B * height * width) {
      throw new Error(
        `cpu backend: batch images have ${batch.images.length} values, expected ` +
          `size·height·width = ${B}·${height}·${width}`,
      );
    }
    if (batch.labels.length !== B) {
      throw new Error(`cpu backend: batch has ${batch.labels.length} labels, expected ${B}`);
    }
    if (!this.#ws || this.#ws.capacity < B) this.#ws = new Workspace(this.config, B);
    return this.#ws;
  }

  #noiseActions(B: number, eps: Float32Array): ActionFill {
    const n = (this.config.glimpses - 1) * B * 2, sigma = this.config.sigma;
    if (eps.length !== n) {
      throw new Error(
        `cpu backend: policy noise has ${eps.length} values, expected (T−1)·B·2 = ${n}`,
      );
    }
    return (i, mu, a) => {
      for (let j = 0; j < 2 * B; j++) a[j] = mu[j] + sigma * eps[i * B * 2 + j];
    };
  }

  #forward(ws: Workspace, batch: Batch, start: Float32Array, source: ActionFill): void {
    const B = batch.size;
    if (start.length !== 2 * B) {
      throw new Error(
        `cpu backend: start locations have ${start.length} values, expected ${2 * B}`,
      );
    }
    blasForward(this.blas.sgemm, this.config, this.#net, ws, B, batch.images, start, source);
  }

  #episodes(ws: Workspace, batch: Batch): Episodes {
    const T = this.config.glimpses, C = this.config.classes, B = batch.size;
    return episodesFrom(
      T,
      B,
      C,
      ws.logp.subarray(0, T * B * C),
      batch.labels,
      ws.loc.slice(0, T * B * 2),
    );
  }

  #lossAndGrads(
    ws: Workspace,
    batch: Batch,
    rewards: Float32Array,
    lambda: number,
  ): StepResult & { returns: Float32Array } {
    const T = this.config.glimpses, C = this.config.classes, B = batch.size, AB = (T - 1) * B;
    checkRewards("cpu backend", T, B, rewards);
    const returns = returnsFromRewards(T, B, rewards);
    const result = stepResult(
      B,
      C,
      ws.logp.subarray((T - 1) * B * C, T * B * C),
      batch.labels,
      rewards,
      returns,
      ws.logpi.subarray(0, AB),
      ws.base.subarray(0, AB),
      lambda,
    );
    blasBackward(
      this.blas.sgemm,
      this.config,
      this.#net,
      this.#gradNet,
      ws,
      B,
      batch.labels,
      returns,
      lambda,
    );
    return { ...result, returns };
  }
}
