/**
 * The contract both backends (`cpu`, the composed CPU references, and `webgpu`) implement,
 * so the trainer, evaluator and explainer do not care which one runs.
 *
 * @module
 */
import type { RamConfig, TrainConfig } from "./config.ts";
import type { Episodes, RewardFn } from "../rewards/types.ts";

/** A batch of inputs. */
export interface Batch {
  /** Samples in this batch (may be less than the configured batch size at an epoch's end). */
  size: number;
  /** Images (size, height, width) in [0, 1]. */
  images: Float32Array;
  /** Labels (size). */
  labels: Int32Array;
}

/** Host-side random draws of one training step, so both backends see the same numbers. */
export interface StepNoise {
  /** First locations l_1, uniform in [−1, 1]², (B, 2). */
  start: Float32Array;
  /** Policy noise ε for actions a_1..a_{T−1}, standard normal, (T−1, B, 2). */
  policy: Float32Array;
}

/** What one training step reports (means over the batch). */
export interface StepResult {
  /** NLL of the last glimpse's classifier. */
  nll: number;
  /** Baseline mean squared error over action steps. */
  baseline: number;
  /** REINFORCE surrogate λ·mean_b Σ_t −log π(a_t)·(G_{t+1} − b_t). */
  reinforce: number;
  /** nll + baseline + reinforce. */
  loss: number;
  /** Fraction of the batch classified correctly at the last glimpse. */
  accuracy: number;
  /** Mean total reward Σ_t r_t per episode. */
  reward: number;
}

/** Evaluation rollout options. */
export interface RolloutOptions {
  /** Sample actions (true) or follow the policy mean (false, the default for evaluation). */
  stochastic: boolean;
  /** First locations (B, 2); default the centre (0, 0). */
  start?: Float32Array;
  /** Policy noise (T−1, B, 2) when stochastic. */
  policy?: Float32Array;
  /**
   * Locations l_2..l_T (T−1, B, 2) in [−1, 1]² to look at instead of the policy's (eval
   * controls: run/controls.ts). The policy still runs but its choice is not used; everything
   * else (l_1, the parameters, the images) is as without it. Overrides `stochastic`.
   */
  locations?: Float32Array;
  /**
   * false: the caller does not read {@link Rollout.hidden}, and a backend may leave it empty
   * rather than copy T·B·hidden states out (evaluation). Default true.
   */
  hidden?: boolean;
}

/** Throws unless `locations` holds (T−1)·B·2 values in [−1, 1]; `where` starts the message. */
export function checkLocations(where: string, T: number, B: number, locations: Float32Array): void {
  const n = (T - 1) * B * 2;
  if (locations.length !== n) {
    throw new Error(
      `${where}: given locations have ${locations.length} values, expected (T−1)·B·2 = ${n}`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (!(locations[i] >= -1 && locations[i] <= 1)) {
      throw new Error(
        `${where}: given location value ${locations[i]} (index ${i}) is outside [−1, 1]`,
      );
    }
  }
}

/** How a CPU rollout picks action a_t from the policy mean μ: writes a (B, 2) into `a`. */
export type RolloutAction = (t: number, mu: Float32Array, a: Float32Array) => void;

/**
 * The action rule of a rollout on the CPU backends: the given locations when
 * `options.locations` is set (checked), else sampled with `sample(options.policy)` when
 * `options.stochastic`, else the policy's mean. `where` starts error messages.
 */
export function rolloutAction(
  where: string,
  T: number,
  B: number,
  options: RolloutOptions,
  sample: (policy: Float32Array) => RolloutAction,
): RolloutAction {
  if (options.locations) {
    checkLocations(where, T, B, options.locations);
    const given = options.locations;
    return (t, _mu, a) => a.set(given.subarray(t * B * 2, (t + 1) * B * 2));
  }
  if (options.stochastic) {
    if (!options.policy) {
      throw new Error(`${where}: rollout with stochastic: true needs options.policy noise`);
    }
    return sample(options.policy);
  }
  return (_t, mu, a) => a.set(mu);
}

/** A rollout's per-glimpse outputs: the reward functions' view plus hidden states. */
export interface Rollout extends Episodes {
  /** Log-probabilities (T, B, C). */
  logp: Float32Array;
  /** Recurrent state after every glimpse (T, B, hidden); what the VAE probe reads. */
  hidden: Float32Array;
}

/** Named parameter tensors, PyTorch names and [out, in] shapes (see ram/params.ts). */
export type ParamMap = Map<string, { shape: number[]; data: Float32Array }>;

/** Parameters plus Adam state, for checkpoints and resume. */
export interface TrainState {
  /** Parameters by PyTorch name. */
  params: ParamMap;
  /** Adam first and second moments, same names as params. */
  adamM: ParamMap;
  /** Adam second moments, same names as params. */
  adamV: ParamMap;
  /** Adam steps taken so far. */
  step: number;
}

/** Optional outputs of a training step. */
export interface TrainStepOptions {
  /**
   * When given, (T, B, hidden): filled with the recurrent states h_1..h_T of the step's forward
   * pass, i.e. computed with the parameters before its update. They are exactly the states a
   * stochastic rollout with the same noise gives before the step (the same forward code), so
   * the probes train on them without a second forward pass (probe/step.ts).
   */
  hidden?: Float32Array;
  /**
   * Work of the caller's that never touches this RAM, for a backend that splits its step over
   * cores ({@link RamBackend.hidesBeside}) to run on the calling thread in the step's gaps:
   * `forward` while the other cores run the forward, `backward` during the backward, `adam`
   * during the Adam step. Each part runs exactly once, in that order, and must not throw
   * (catch and keep the error). A backend without lanes runs them after its step.
   */
  beside?: BesideWork;
}

/** The caller's work that a training step runs beside its own (TrainStepOptions.beside). */
export interface BesideWork {
  /**
   * What the work costs, in rows of this RAM's training step: the calling thread's lane takes
   * about that many rows fewer (its share of the batch goes to the other lanes).
   */
  rows: number;
  forward(): void;
  backward(): void;
  adam(): void;
}

/** Runs the three parts of `work` one after another (a step with no lanes to hide them in). */
export function runBeside(work: BesideWork | undefined): void {
  work?.forward();
  work?.backward();
  work?.adam();
}

/** Throws unless `hidden` holds T·B·H values; `where` starts the message. */
export function checkHiddenOut(where: string, cfg: RamConfig, B: number, hidden: Float32Array) {
  const n = cfg.glimpses * B * cfg.hidden;
  if (hidden.length !== n) {
    throw new Error(
      `${where}: the hidden-state buffer has ${hidden.length} values, expected T·B·H = ` +
        `${cfg.glimpses}·${B}·${cfg.hidden} = ${n}`,
    );
  }
}

/** A RAM that can train and roll out. */
export interface RamBackend {
  /** Which backend this is. */
  readonly name: "cpu" | "webgpu";
  /** The model's sizes. */
  readonly config: RamConfig;
  /**
   * One step: forward all glimpses, rewards, backward through time, Adam; `options.hidden`
   * receives the forward's states.
   */
  trainStep(
    batch: Batch,
    reward: RewardFn,
    noise: StepNoise,
    train: TrainConfig,
    options?: TrainStepOptions,
  ): Promise<StepResult>;
  /** Forward only. */
  rollout(batch: Batch, options: RolloutOptions): Promise<Rollout>;
  /** Copies parameters and optimiser state to the host. */
  getState(): Promise<TrainState>;
  /** Loads parameters and optimiser state (shapes must match). */
  setState(state: TrainState): void;
  /** Frees device resources. */
  dispose(): void;
  /**
   * A thread of this process beside the backend will keep a core busy (the probes' Worker):
   * a backend that spreads its work over the cores may use one fewer. Optional.
   */
  shareCore?(): void;
  /**
   * True when a training step on a batch of `B` splits over several cores and so can hide
   * TrainStepOptions.beside work in its gaps (the `cpu` backend's lanes). Optional.
   */
  hidesBeside?(B: number): boolean;
}
