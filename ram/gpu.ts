/**
 * The `webgpu` backend: the RAM of shared DESIGN.md trained with the WGSL kernels in kernels/,
 * held to the `cpu` backend (ram/cpu.ts) number for number from the same seed and noise.
 *
 * All parameters live in one flat buffer (ram/params.ts flatLayout), their gradients in
 * another, so Adam updates the whole model in one dispatch per learning-rate group (lrRanges). Per batch size, a {@link RamProgram}
 * holds every activation buffer and bound dispatch; a step uploads its inputs, submits the
 * forward, reads back once, computes rewards and returns on the host, and submits the backward
 * with the Adam update.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { upload } from "../gpu/tensor.ts";
import {
  type Batch,
  checkHiddenOut,
  checkLocations,
  type RamBackend,
  type Rollout,
  type RolloutOptions,
  runBeside,
  type StepNoise,
  type StepResult,
  type TrainState,
  type TrainStepOptions,
} from "./backend.ts";
import { type GroupLrs, groupLrs, paramGroup, type RamConfig, type TrainConfig } from "./config.ts";
import { FlatState } from "./flat_state.ts";
import type { RewardFn } from "../rewards/types.ts";
import { checkParams, type FlatLayout, flatLayout, initParams } from "./params.ts";
import { returnsFromRewards } from "./returns.ts";
import { checkRewards, episodesFrom, stepResult } from "./step.ts";
import { linearKernels } from "../kernels/linear.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";
import { activationKernels } from "../kernels/activation.ts";
import { retinaKernel } from "../kernels/retina.ts";
import { softmaxKernels } from "../kernels/softmax.ts";
import { policyKernels } from "../kernels/policy.ts";
import { lstmKernels } from "../kernels/lstm.ts";
import { type AdamKernels, adamKernels } from "../kernels/adam.ts";
import { type RamKernels, RamProgram } from "./gpu_program.ts";

/** Options of {@link GpuRam.create}. */
export interface GpuRamOptions {
  /** Matrix-product strategy (default: the fastest measured on this kind of adapter). */
  matmul?: MatmulStrategy;
}

/** Compiles every kernel a {@link RamProgram} binds (bench/step_profile.ts uses it too). */
export async function ramKernels(gpu: Gpu, options: GpuRamOptions = {}): Promise<RamKernels> {
  return {
    linear: await linearKernels(gpu, options.matmul),
    activation: await activationKernels(gpu),
    retina: await retinaKernel(gpu),
    softmax: await softmaxKernels(gpu),
    policy: await policyKernels(gpu),
    lstm: await lstmKernels(gpu),
  };
}

/**
 * The RAM on a WebGPU device.
 *
 * @example
 * ```ts
 * import { requestGpu } from "../gpu/device.ts";
 * import { resolveRamConfig } from "./config.ts";
 * import { GpuRam } from "./gpu.ts";
 * const gpu = await requestGpu();
 * const ram = await GpuRam.create(gpu, resolveRamConfig({ glimpses: 2 }), 1);
 * const images = new Float32Array(4 * 28 * 28); // (B, 28, 28)
 * const r = await ram.rollout({ size: 4, images, labels: new Int32Array(4) }, { stochastic: false });
 * console.log(r.logp.length); // T·B·C = 2·4·10
 * ram.dispose();
 * gpu.destroy();
 * ```
 */
export class GpuRam implements RamBackend {
  /** Which backend this is. */
  readonly name = "webgpu" as const;
  readonly #state: FlatState;
  #programs = new Map<string, RamProgram>();

  private constructor(
    readonly gpu: Gpu,
    readonly config: RamConfig,
    private readonly kernels: RamKernels,
    private readonly adamKernels: AdamKernels,
    seed: number,
  ) {
    this.#state = new FlatState(gpu, flatLayout(config), initParams(config, seed), "");
  }

  /**
   * Compiles the kernels and initialises the parameters from `seed` exactly as the cpu backend
   * does.
   *
   * @example
   * ```ts ignore
   * import { requestGpu } from "../gpu/device.ts";
   * import { resolveRamConfig } from "./config.ts";
   * import { GpuRam } from "./gpu.ts";
   * const ram = await GpuRam.create(await requestGpu(), resolveRamConfig(), 1);
   * ```
   */
  static async create(
    gpu: Gpu,
    config: RamConfig,
    seed: number,
    options: GpuRamOptions = {},
  ): Promise<GpuRam> {
    const kernels = await ramKernels(gpu, options);
    const ram = new GpuRam(gpu, config, kernels, await adamKernels(gpu), seed);
    gpu.check();
    return ram;
  }

  #program(B: number, lambda: number): RamProgram {
    const key = `${B}|${lambda}`;
    let p = this.#programs.get(key);
    if (!p) {
      p = new RamProgram(this.gpu, this.config, this.kernels, this.#state, B, lambda);
      this.#programs.set(key, p);
    }
    return p;
  }

  /**
   * The Adam tick and one update per run of consecutive parameters sharing a learning rate
   * (with the default layout: model, policy, baseline, classifier; one when all lrs agree).
   * Rebuilt only when a learning rate changes.
   */
  #adamDispatches(lrs: GroupLrs): Dispatch[] {
    return this.#state.adam(this.adamKernels, lrRanges(this.#state.layout, lrs));
  }

  #uploadInputs(p: RamProgram, batch: Batch, start: Float32Array, eps: Float32Array | null): void {
    const { height, width, glimpses: T } = this.config;
    const B = batch.size;
    if (batch.images.length < B * height * width) {
      throw new Error(
        `webgpu: batch of ${B} needs ${B * height * width} pixels, got ${batch.images.length}`,
      );
    }
    upload(this.gpu, p.images, batch.images.subarray(0, B * height * width));
    upload(this.gpu, p.labels, Float32Array.from(batch.labels.subarray(0, B)));
    upload(this.gpu, p.start, start.subarray(0, 2 * B));
    upload(this.gpu, p.eps, eps ? eps.subarray(0, 2 * B * (T - 1)) : new Float32Array(p.eps.size));
  }

  #encodeForward(p: RamProgram, mode: "train" | "rollout" | "given"): GPUCommandEncoder {
    const encoder = this.gpu.device.createCommandEncoder({ label: `ram forward (${mode})` });
    p.encodeForward(encoder, mode);
    return encoder;
  }

  #episodes(B: number, labels: Int32Array, out: { logp: Float32Array[]; loc: Float32Array[] }) {
    const { glimpses: T, classes: C } = this.config;
    const logp = new Float32Array(T * B * C);
    const locations = new Float32Array(T * B * 2);
    for (let t = 0; t < T; t++) {
      logp.set(out.logp[t], t * B * C);
      locations.set(out.loc[t], t * B * 2);
    }
    return { episodes: episodesFrom(T, B, C, logp, labels, locations), logp };
  }

  /** One training step; see {@link RamBackend.trainStep}. */
  async trainStep(
    batch: Batch,
    reward: RewardFn,
    noise: StepNoise,
    train: TrainConfig,
    options: TrainStepOptions = {},
  ): Promise<StepResult> {
    const { glimpses: T, classes: C } = this.config;
    const B = batch.size;
    if (options.hidden) checkHiddenOut("webgpu backend", this.config, B, options.hidden);
    const p = this.#program(B, train.lambda);
    const { device } = this.gpu;
    this.#uploadInputs(p, batch, noise.start, noise.policy);
    const forward = p.readForward(
      this.#encodeForward(p, "train"),
      "train",
      options.hidden !== undefined,
    );
    // The classification loss's backward needs no reward: it runs while the map is pending
    // (on software adapters a submission executes before submit() returns, so this hides the
    // map's polling wait; on a GPU it overlaps the host's reward computation).
    const loss = device.createCommandEncoder({ label: "ram backward (loss)" });
    p.encodeBackwardLoss(loss);
    device.queue.submit([loss.finish()]);
    const out = await forward;
    if (options.hidden) {
      const H = this.config.hidden;
      out.hidden!.forEach((h, t) => options.hidden!.set(h, t * B * H));
    }

    let rewards: Float32Array;
    try {
      const { episodes } = this.#episodes(B, batch.labels, out);
      const r = await reward(episodes);
      checkRewards("webgpu backend", T, B, r);
      rewards = r;
    } catch (e) {
      // No update: drop the loss gradients already accumulated so the next step starts clean.
      this.#state.clearGrads();
      throw e;
    }
    const returns = returnsFromRewards(T, B, rewards);
    const baselines = new Float32Array((T - 1) * B);
    out.base!.forEach((b, i) => baselines.set(b, i * B));
    const adv = new Float32Array(returns.length);
    for (let i = 0; i < adv.length; i++) adv[i] = returns[i] - baselines[i];
    if (T > 1) {
      upload(this.gpu, p.returns, returns);
      upload(this.gpu, p.adv, adv);
    }

    const encoder = device.createCommandEncoder({ label: "ram backward (reward) and adam" });
    p.encodeBackwardReward(encoder, this.#adamDispatches(groupLrs(train)));
    device.queue.submit([encoder.finish()]);
    this.#state.step++;
    runBeside(options.beside); // while the device runs the backward

    const logpi = out.logpi!.subarray(0, (T - 1) * B);
    return stepResult(
      B,
      C,
      out.logp[T - 1],
      batch.labels,
      rewards,
      returns,
      logpi,
      baselines,
      train.lambda,
    );
  }

  /** Forward only; see {@link RamBackend.rollout}. */
  async rollout(batch: Batch, options: RolloutOptions): Promise<Rollout> {
    const B = batch.size, T = this.config.glimpses;
    const given = options.locations;
    if (given) checkLocations("webgpu", T, B, given);
    else if (options.stochastic && !options.policy) {
      throw new Error("webgpu: a stochastic rollout needs policy noise");
    }
    const p = this.#program(B, 0.01);
    this.#uploadInputs(
      p,
      batch,
      options.start ?? new Float32Array(2 * B),
      options.stochastic && !given ? options.policy! : null,
    );
    if (given) p.uploadLocations(given);
    const wantHidden = options.hidden !== false; // evaluation reads no states: none read back
    const encoded = this.#encodeForward(p, given ? "given" : "rollout");
    const out = await p.readForward(encoded, "rollout", wantHidden);
    const { episodes, logp } = this.#episodes(B, batch.labels, out);
    const H = this.config.hidden;
    const hidden = new Float32Array(wantHidden ? T * B * H : 0);
    out.hidden?.forEach((h, t) => hidden.set(h, t * B * H));
    return { ...episodes, logp, hidden };
  }

  /** Copies parameters and Adam state to the host. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads parameters and Adam state (names and shapes must match the config). */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkParams(this.config, p, what));
  }

  /** Frees every buffer. */
  dispose(): void {
    for (const p of this.#programs.values()) p.destroy();
    this.#programs.clear();
    this.#state.destroy();
  }
}

/** A range of the flat buffer updated at one learning rate. */
export interface LrRange {
  offset: number;
  length: number;
  lr: number;
}

/**
 * Splits a flat layout into maximal runs of consecutive parameters whose groups share a learning
 * rate (the padding after a parameter goes with it: its gradient is zero, so it stays zero).
 *
 * @example
 * ```ts
 * import { lrRanges } from "./gpu.ts";
 * import { flatLayout } from "./params.ts";
 * import { DEFAULT_RAM } from "./config.ts";
 * lrRanges(flatLayout(DEFAULT_RAM), { model: 3e-4, policy: 3e-4, baseline: 3e-4 }).length; // 1
 * ```
 */
export function lrRanges(layout: FlatLayout, lrs: GroupLrs): LrRange[] {
  const out: LrRange[] = [];
  for (const [i, e] of layout.entries.entries()) {
    const end = i + 1 < layout.entries.length ? layout.entries[i + 1].offset : layout.total;
    const lr = lrs[paramGroup(e.name)];
    const last = out.at(-1);
    if (last && last.lr === lr) last.length = end - last.offset;
    else out.push({ offset: e.offset, length: end - e.offset, lr });
  }
  return out;
}
