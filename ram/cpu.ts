/**
 * The `cpu` backend: the RAM of shared DESIGN.md on plain Float32Arrays, composed from the CPU
 * references (ram/cpu_pass.ts), with Adam from kernels/adam_ref.ts. It is the reference
 * the `webgpu` backend is held to, number for number, and the fallback without an adapter.
 *
 * Conventions both backends share (see also ram/returns.ts):
 * - nll: mean over the batch of −log p_T(y) (the last glimpse only).
 * - baseline: mean of (b_t − G_{t+1})² over the (T−1)·B action steps (0 when T = 1).
 * - reinforce: λ·mean_b Σ_{t<T} −log π(a_t)·(G_{t+1} − b_t); loss = nll + baseline + reinforce.
 * - accuracy: fraction of the batch whose argmax p_T is the label.
 * - reward: mean over the batch of the episode's total reward Σ_{t=1..T} r_t.
 * - Episodes given to the reward function: probs = exp(log p_t), predictions = the first index
 *   of the largest log p_t, locations l_1..l_T (l_1 = noise.start, l_{t+1} = clamp(a_t)).
 * - Rewards must be a Float32Array of T·B finite values, else the step throws (no update).
 * - Adam: PyTorch defaults (β 0.9, 0.999, ε 1e-8), each parameter at its group's learning rate
 *   (TrainConfig lr, policyLr, baselineLr: config.ts groupLrs), bias correction with the 1-based
 *   step count kept in TrainState.step.
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
  runBeside,
  type StepNoise,
  type StepResult,
  type TrainState,
  type TrainStepOptions,
} from "./backend.ts";
import { groupLrs, paramGroup, type RamConfig, type TrainConfig } from "./config.ts";
import type { Episodes, RewardFn } from "../rewards/types.ts";
import { checkParams, cloneParams, initParams, zeroParams } from "./params.ts";
import { returnsFromRewards } from "./returns.ts";
import { checkRewards, episodesFrom, stepResult } from "./step.ts";
import {
  actionArrays,
  type ActionSource,
  backwardPass,
  bindNet,
  forwardPass,
  type Net,
  type Trace,
} from "./cpu_pass.ts";
import { ParamState } from "./param_state.ts";

/** The loss parts, gradients and intermediate values of one step, without an Adam update. */
export interface LossAndGrads extends StepResult {
  /** Gradient of `loss` for every parameter (a fresh map, names as ram/params.ts). */
  grads: ParamMap;
  /** Actions a_1..a_{T−1} taken, unclamped, (T−1, B, 2). */
  actions: Float32Array;
  /** Returns G_{t+1} credited to each action, (T−1, B). */
  returns: Float32Array;
  /** Baselines b_t, (T−1, B). */
  baselines: Float32Array;
  /** REINFORCE gradient reaching each policy mean μ_t, (T−1, B, 2). */
  dmu: Float32Array;
}

/** Options of {@link CpuRam.lossAndGrads}. */
export interface LossOptions {
  /** Weight λ of the REINFORCE term (default 0.01, DESIGN.md). */
  lambda?: number;
  /**
   * Fixed actions (T−1, B, 2) instead of μ + σ·noise.policy. Since actions are constants of
   * the loss, fixing them gives the loss as a function of the parameters (finite differences).
   */
  actions?: Float32Array;
}

/**
 * A RAM on the CPU implementing {@link RamBackend}.
 *
 * @example
 * ```ts
 * import { CpuRam } from "./cpu.ts";
 * import { resolveRamConfig, resolveTrainConfig } from "./config.ts";
 * const cfg = resolveRamConfig({ height: 12, width: 12, patch: 4, glimpses: 2, hidden: 8,
 *   glimpseHidden: 8, locationHidden: 8, glimpseOut: 8, policyHidden: 8, classes: 2 });
 * const ram = new CpuRam(cfg, 1);
 * const batch = { size: 1, images: new Float32Array(144), labels: new Int32Array([0]) };
 * const noise = { start: new Float32Array(2), policy: new Float32Array(2) };
 * const reward = (e: { T: number; B: number }) => new Float32Array(e.T * e.B);
 * const r = await ram.trainStep(batch, reward, noise, resolveTrainConfig({ lr: 1e-3 }));
 * // r.loss === r.nll + r.baseline + r.reinforce
 * ```
 */
export class CpuRam implements RamBackend {
  /** Which backend this is. */
  readonly name = "cpu" as const;
  /** The model's sizes. */
  readonly config: RamConfig;
  readonly #state: ParamState;
  #grads: ParamMap;
  #net: Net;
  #gradNet: Net;

  /** A RAM initialised as ram/params.ts initParams(config, seed). */
  constructor(config: RamConfig, seed: number) {
    this.config = { ...config };
    this.#state = new ParamState(initParams(config, seed));
    this.#grads = zeroParams(config);
    this.#net = bindNet(config, this.#state.params);
    this.#gradNet = bindNet(config, this.#grads);
  }

  /** The live parameter tensors (mutating them changes the model: for tests and probes). */
  get params(): ParamMap {
    return this.#state.params;
  }

  /** One training step: forward, rewards, returns, backward through time, one Adam step. */
  async trainStep(
    batch: Batch,
    reward: RewardFn,
    noise: StepNoise,
    train: TrainConfig,
    options: TrainStepOptions = {},
  ): Promise<StepResult> {
    this.#checkBatch(batch);
    const out = options.hidden;
    if (out) checkHiddenOut("cpu backend", this.config, batch.size, out);
    const trace = this.#forward(batch, noise.start, this.#noiseActions(batch.size, noise));
    if (out) trace.glimpses.forEach((s, i) => out.set(s.h, i * s.h.length));
    const episodes = this.#episodes(batch, trace);
    const rewards = await reward(episodes);
    const r = this.#lossAndGrads(batch, trace, rewards, train.lambda);
    const lrs = groupLrs(train);
    this.#state.adamStep(this.#grads, (name) => lrs[paramGroup(name)]);
    runBeside(options.beside);
    const { nll, baseline, reinforce, loss, accuracy, reward: meanReward } = r;
    return { nll, baseline, reinforce, loss, accuracy, reward: meanReward };
  }

  /**
   * The loss of one batch with given rewards (T, B) and its gradients, without touching the
   * parameters or Adam. Rewards are constants here (as in training, where the reward function
   * sees this forward's episodes).
   */
  lossAndGrads(
    batch: Batch,
    rewards: Float32Array,
    noise: StepNoise,
    options: LossOptions = {},
  ): LossAndGrads {
    this.#checkBatch(batch);
    const B = batch.size, n = (this.config.glimpses - 1) * B * 2;
    let source: ActionSource;
    if (options.actions) {
      if (options.actions.length !== n) {
        throw new Error(
          `cpu backend: options.actions has ${options.actions.length} values, ` +
            `expected (T−1)·B·2 = ${n}`,
        );
      }
      const fixed = options.actions;
      source = (i, _mu, a) => a.set(fixed.subarray(i * B * 2, (i + 1) * B * 2));
    } else {
      source = this.#noiseActions(B, noise);
    }
    const trace = this.#forward(batch, noise.start, source);
    const r = this.#lossAndGrads(batch, trace, rewards, options.lambda ?? 0.01);
    return { ...r, grads: cloneParams(this.#grads) };
  }

  /** Forward only: the mean policy (or sampled with options.policy), from the centre by default. */
  rollout(batch: Batch, options: RolloutOptions): Promise<Rollout> {
    try {
      return Promise.resolve(this.#rollout(batch, options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Copies of the parameters, Adam moments and step count. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads a state (copied in); names and shapes must match this config. */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkParams(this.config, p, what), "cpu backend ");
  }

  /** Nothing to free on the CPU. */
  dispose(): void {}

  #rollout(batch: Batch, options: RolloutOptions): Rollout {
    this.#checkBatch(batch);
    const B = batch.size, T = this.config.glimpses;
    const source = rolloutAction(
      "cpu backend",
      T,
      B,
      options,
      (policy) => this.#noiseActions(B, { start: new Float32Array(0), policy }),
    );
    const start = options.start ?? new Float32Array(B * 2);
    const trace = this.#forward(batch, start, source);
    const H = this.config.hidden, C = this.config.classes;
    const logp = new Float32Array(T * B * C);
    const hidden = new Float32Array(T * B * H);
    trace.glimpses.forEach((s, i) => {
      logp.set(s.logp, i * B * C);
      hidden.set(s.h, i * B * H);
    });
    return { ...this.#episodes(batch, trace), logp, hidden };
  }

  #noiseActions(B: number, noise: StepNoise): ActionSource {
    const n = (this.config.glimpses - 1) * B * 2, eps = noise.policy, sigma = this.config.sigma;
    if (eps.length !== n) {
      throw new Error(
        `cpu backend: policy noise has ${eps.length} values, expected (T−1)·B·2 = ${n}`,
      );
    }
    return (i, mu, a) => {
      for (let j = 0; j < 2 * B; j++) a[j] = mu[j] + sigma * eps[i * B * 2 + j];
    };
  }

  #checkBatch(batch: Batch): void {
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
  }

  #forward(batch: Batch, start: Float32Array, source: ActionSource): Trace {
    const B = batch.size;
    if (start.length !== 2 * B) {
      throw new Error(
        `cpu backend: start locations have ${start.length} values, expected ${2 * B}`,
      );
    }
    return forwardPass(this.config, this.#net, B, batch.images, start, source);
  }

  #episodes(batch: Batch, trace: Trace): Episodes {
    const T = this.config.glimpses, C = this.config.classes, B = trace.B;
    const logp = new Float32Array(T * B * C);
    const locations = new Float32Array(T * B * 2);
    trace.glimpses.forEach((s, i) => {
      logp.set(s.logp, i * B * C);
      locations.set(s.loc, i * B * 2);
    });
    return episodesFrom(T, B, C, logp, batch.labels, locations);
  }

  #lossAndGrads(
    batch: Batch,
    trace: Trace,
    rewards: Float32Array,
    lambda: number,
  ): Omit<LossAndGrads, "grads"> {
    const T = this.config.glimpses, C = this.config.classes, B = trace.B;
    checkRewards("cpu backend", T, B, rewards);
    const returns = returnsFromRewards(T, B, rewards);
    const { logpi, baseline: baselines } = actionArrays(trace);
    const last = trace.glimpses[T - 1].logp;
    const result = stepResult(B, C, last, batch.labels, rewards, returns, logpi, baselines, lambda);
    for (const t of this.#grads.values()) t.data.fill(0);
    const dmu = backwardPass(
      this.config,
      this.#net,
      this.#gradNet,
      trace,
      batch.labels,
      returns,
      lambda,
    );
    const actions = new Float32Array(trace.actions.length * B * 2);
    trace.actions.forEach((s, i) => actions.set(s.a, i * B * 2));
    return {
      ...result,
      actions,
      returns,
      baselines,
      dmu,
    };
  }
}
