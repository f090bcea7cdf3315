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
  runBeside,
  type StepNoise,
  type StepResult,
  type TrainState,
  type TrainStepOptions,
} from "./backend.ts";
import { type GroupLrs, groupLrs, type RamConfig, type TrainConfig } from "./config.ts";
import type { Episodes, RewardFn } from "../rewards/types.ts";
import { checkTrainState, initParams } from "./params.ts";
import { returnsFromRewards } from "./returns.ts";
import { checkRewards, episodesFrom, stepResult } from "./step.ts";
import type { Blas } from "../util/blas.ts";
import { SimdHeap } from "../util/simd.ts";
import {
  type ActionFill,
  blasBackward,
  blasForward,
  givenFill,
  noiseFill,
  Workspace,
} from "./blas_pass.ts";
import { BlasLanes, type LaneActions, laneSplit, sharedF32 } from "./blas_lanes.ts";
import {
  adamRange,
  bindBlasNet,
  type BlasLayout,
  blasLayout,
  type BlasNet,
  packParams,
  sumBiases,
  unpackParams,
} from "./blas_layout.ts";

/** Options of {@link BlasRam}. */
export interface BlasRamOptions {
  /** Cores a training step or rollout may split its batch over (default 1). */
  lanes?: number;
}

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
  /** Cores a step may use (ram/blas_lanes.ts); 1 runs everything on the calling thread. */
  get lanes(): number {
    return this.#laneCount;
  }
  #laneCount: number;
  #layout: BlasLayout;
  #params: Float32Array;
  #grads: Float32Array;
  #m: Float32Array;
  #v: Float32Array;
  readonly #heap: SimdHeap | null;
  /** Each lane's gradient share (allocated once: lanes reopened reuse them). */
  readonly #laneGrads: Float32Array[];
  #step = 0;
  #lanes: BlasLanes | null = null;
  #opening: Promise<BlasLanes> | null = null;
  #net: BlasNet;
  #gradNet: BlasNet;
  #ws: Workspace | null = null;

  /**
   * A RAM initialised as ram/params.ts initParams(config, seed): the reference's numbers.
   * `lanes` > 1 runs training steps and rollouts of batches of at least 2·MIN_LANE_ROWS rows
   * split over that many cores (ram/blas_lanes.ts; default 1: one thread, the BLAS's own).
   */
  constructor(config: RamConfig, seed: number, blas: Blas, { lanes = 1 }: BlasRamOptions = {}) {
    if (!Number.isInteger(lanes) || lanes < 1) {
      throw new Error(`cpu backend: lanes ${lanes} must be a whole number ≥ 1`);
    }
    this.config = { ...config };
    this.blas = blas;
    this.#laneCount = lanes;
    this.#layout = blasLayout(config);
    const n = this.#layout.total;
    // Parameters, moments and gradients (the host's, and with lanes every lane's share) in one
    // block of WebAssembly memory where it runs, so that Adam is one f32x4 loop (util/simd.ts);
    // shared with the lanes' Workers, which read and update them where the host reads them.
    const shared = lanes > 1;
    this.#heap = SimdHeap.create((4 + lanes) * (n + 4), { shared });
    const flat = this.#heap
      ? (k: number) => this.#heap!.alloc(k)
      : shared
      ? sharedF32
      : (k: number) => new Float32Array(k);
    if (lanes > 1) blas.setThreads(1); // lanes, not the BLAS, use the cores (process-wide)
    this.#params = flat(n);
    this.#grads = flat(n);
    this.#m = flat(n);
    this.#v = flat(n);
    this.#laneGrads = lanes > 1 ? Array.from({ length: lanes }, () => flat(n)) : [];
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
    const ws = this.#workspace(batch), B = batch.size, { hidden, beside } = options;
    if (hidden) checkHiddenOut("cpu backend", this.config, B, hidden);
    const actions = this.#noiseActions(B, noise.policy);
    const lanes = await this.#lanesFor(B);
    if (lanes) {
      this.#checkStart(B, noise.start);
      const eps = { mode: "noise" as const, eps: noise.policy };
      // The states go straight into the caller's buffer, beside the lanes' backward (update).
      await lanes.forward(ws, B, batch.images, batch.labels, noise.start, eps, null, beside);
    } else {
      this.#forward(ws, batch, noise.start, actions);
      hidden?.set(ws.h.subarray(0, hidden.length));
    }
    const rewards = await reward(this.#episodes(ws, batch));
    const r = this.#loss(ws, batch, rewards, train.lambda);
    this.#step++;
    if (lanes) {
      await lanes.update(B, r.returns, train.lambda, groupLrs(train), this.#step, beside, hidden);
    } else {
      this.#backward(ws, batch, r.returns, train.lambda);
      this.#adam(groupLrs(train));
      runBeside(beside);
    }
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
      source = givenFill(B, fixed);
    }
    this.#forward(ws, batch, noise.start, source);
    const lambda = options.lambda ?? 0.01;
    const r = this.#loss(ws, batch, rewards, lambda);
    this.#backward(ws, batch, r.returns, lambda);
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
  async rollout(batch: Batch, options: RolloutOptions): Promise<Rollout> {
    const ws = this.#workspace(batch);
    const B = batch.size, T = this.config.glimpses;
    const source = rolloutAction(
      "cpu backend",
      T,
      B,
      options,
      (policy) => this.#noiseActions(B, policy),
    );
    const start = options.start ?? new Float32Array(B * 2);
    const lanes = await this.#lanesFor(B);
    if (lanes) {
      this.#checkStart(B, start);
      const actions: LaneActions = options.locations
        ? { mode: "given", actions: options.locations }
        : options.stochastic
        ? { mode: "noise", eps: options.policy! }
        : { mode: "mean" };
      await lanes.forward(
        ws,
        B,
        batch.images,
        batch.labels,
        start,
        actions,
        options.hidden !== false ? ws.h : null,
      );
    } else {
      this.#forward(ws, batch, start, source);
    }
    const H = this.config.hidden, C = this.config.classes;
    return {
      ...this.#episodes(ws, batch),
      logp: ws.logp.slice(0, T * B * C),
      hidden: options.hidden === false ? new Float32Array(0) : ws.h.slice(0, T * B * H),
    };
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

  /** Drops the workspace and ends the lanes' Workers (the BLAS stays open for the process). */
  dispose(): void {
    this.#ws = null;
    this.#closeLanes();
  }

  #closeLanes(): void {
    const lanes = this.#lanes;
    this.#lanes = null;
    this.#opening = null;
    void lanes?.close();
  }

  /**
   * One lane fewer, for a Worker that will keep a core busy beside this RAM (the probes': on 2
   * cores one lane and the probes' Worker train at 14.4 ms a step against 15.9–17.2 for two
   * lanes and the Worker, bench/probe_cost.ts). The BLAS stays on one thread.
   */
  shareCore(): void {
    if (this.#laneCount > 1) this.#laneCount--;
  }

  /** True when a training step on B rows runs in lanes and so hides TrainStepOptions.beside. */
  hidesBeside(B: number): boolean {
    return this.lanes > 1 && laneSplit(B, this.lanes).length > 2;
  }

  /** The lanes for a batch of B, opened on first use; null when B runs on one lane. */
  async #lanesFor(B: number): Promise<BlasLanes | null> {
    if (!this.hidesBeside(B)) return null;
    // shareCore() changed the count, or a lane's Worker died (that step failed): new lanes
    if (this.#lanes && (this.#lanes.count !== this.lanes || this.#lanes.broken)) {
      this.#closeLanes();
    }
    if (this.#lanes) return this.#lanes;
    const flat = {
      params: this.#params,
      m: this.#m,
      v: this.#v,
      grads: this.#laneGrads.slice(0, this.lanes),
      memory: this.#heap?.memory ?? null,
    };
    this.#opening ??= BlasLanes.open(this.config, flat, this.lanes, this.blas);
    this.#lanes = await this.#opening;
    return this.#lanes;
  }

  /** Adam over the flat buffer, each tensor at its group's rate (blas_layout.ts adamRange). */
  #adam(lrs: GroupLrs): void {
    const heap = this.#heap;
    adamRange(this.#layout, lrs, this.#step, this.#params, this.#m, this.#v, [this.#grads], heap);
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
    if (!this.#ws || this.#ws.capacity < B) {
      this.#ws = Workspace.inHeap(this.config, B) ?? new Workspace(this.config, B);
    }
    return this.#ws;
  }

  #noiseActions(B: number, eps: Float32Array): ActionFill {
    const n = (this.config.glimpses - 1) * B * 2, sigma = this.config.sigma;
    if (eps.length !== n) {
      throw new Error(
        `cpu backend: policy noise has ${eps.length} values, expected (T−1)·B·2 = ${n}`,
      );
    }
    return noiseFill(B, sigma, eps);
  }

  #checkStart(B: number, start: Float32Array): void {
    if (start.length !== 2 * B) {
      throw new Error(
        `cpu backend: start locations have ${start.length} values, expected ${2 * B}`,
      );
    }
  }

  #forward(ws: Workspace, batch: Batch, start: Float32Array, source: ActionFill): void {
    const B = batch.size;
    this.#checkStart(B, start);
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

  /** The step's losses and returns from the forward in `ws`, rewards checked. */
  #loss(
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
    return { ...result, returns };
  }

  /** The gradients into the flat buffer, on this thread. */
  #backward(ws: Workspace, batch: Batch, returns: Float32Array, lambda: number): void {
    blasBackward(
      this.blas.sgemm,
      this.config,
      this.#net,
      this.#gradNet,
      ws,
      batch.size,
      batch.labels,
      returns,
      lambda,
    );
  }
}
