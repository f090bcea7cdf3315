/**
 * The model side of the browser explorer, free of the DOM so Deno's tests run it too: a shipped
 * checkpoint opened from its fetched bytes on a WebGPU device (or, without one, on the CPU
 * reference), explained exactly as `glimpse explain` does (report/explain.ts), and the
 * counterfactual: make glimpse k look at a chosen location while every other action follows
 * the policy's mean.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";
import { modelCheckpoint } from "../run/checkpoint.ts";
import { decodeSafetensors } from "../util/safetensors.ts";
import { checkpointState } from "../run/checkpoint.ts";
import type { RunConfig } from "../run/run_config.ts";
import { createVae, type Vae } from "../probe/vae.ts";
import { type ClassProbe, clsConfigFor, createClassProbe } from "../probe/cls.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { explainInput, type Explanation, type Steering } from "../report/explain.ts";

/** A checkpoint opened for the explorer. */
export interface ExplorerModel {
  /** The name it is listed under, e.g. "mnist-entropy". */
  name: string;
  config: RunConfig;
  ram: RamBackend;
  /** The VAE probe, or null when the run has none. */
  vae: Vae | null;
  /** The class probe (calibrated beliefs per glimpse), or null when the run has none. */
  cls: ClassProbe | null;
  /** Frees the RAM and the probe (the device stays open). */
  dispose(): void;
}

/**
 * Opens the model.safetensors `bytes` (named `file` in errors) on `gpu`, or on the CPU
 * reference when `gpu` is null.
 *
 * @example
 * ```ts ignore
 * import { openExplorerModel } from "./explorer_model.ts";
 * const bytes = new Uint8Array(await (await fetch("models/mnist-entropy/model.safetensors")).arrayBuffer());
 * const model = await openExplorerModel("mnist-entropy", bytes, "model.safetensors", gpu);
 * ```
 */
export async function openExplorerModel(
  name: string,
  bytes: Uint8Array,
  file: string,
  gpu: Gpu | null,
): Promise<ExplorerModel> {
  const ckpt = modelCheckpoint(decodeSafetensors(bytes, file), file);
  // One image at a time: on a software adapter compile time outweighs throughput, and the
  // register-blocked products (the training default there) took SwiftShader 26 s to compile
  // one pipeline against milliseconds for the strided ones. Real GPUs keep their default.
  const matmul: MatmulStrategy | undefined = gpu?.isSoftware ? "strided" : undefined;
  const config = ckpt.meta.config, seed = config.train.seed;
  let ram: RamBackend | null = null, vae: Vae | null = null, cls: ClassProbe | null = null;
  try {
    if (gpu) {
      const { GpuRam } = await import("../ram/gpu.ts");
      ram = await GpuRam.create(gpu, config.model, seed, { matmul });
    } else {
      // the machine's BLAS under Deno, the TypeScript reference in a browser
      const { openCpuRam } = await import("../run/backend.ts");
      ram = (await openCpuRam(config.model, seed)).backend;
    }
    ram.setState(checkpointState(ckpt));
    if (config.vae && ckpt.vae) {
      const backend = gpu ? "webgpu" : "cpu";
      vae = await createVae(
        backend,
        gpu ?? undefined,
        vaeModelConfig(config.model, config.vae),
        seed,
        matmul,
      );
      vae.setState(ckpt.vae);
    }
    if (config.cls && ckpt.cls) {
      const backend = gpu ? "webgpu" : "cpu";
      const cfg = clsConfigFor(config.model, config.cls);
      cls = await createClassProbe(backend, gpu ?? undefined, cfg, seed, matmul);
      cls.setState(ckpt.cls);
    }
  } catch (e) {
    cls?.dispose();
    vae?.dispose();
    ram?.dispose();
    throw new Error(`Cannot open ${file}: ${(e as Error).message}`);
  }
  const openRam = ram, openVae = vae, openCls = cls;
  return {
    name,
    config,
    ram: openRam,
    vae: openVae,
    cls: openCls,
    dispose: () => {
      openCls?.dispose();
      openVae?.dispose();
      openRam.dispose();
    },
  };
}

/** An explanation with the steering that produced it (what a later redirect builds on). */
export interface Trajectory {
  explanation: Explanation;
  steer: Required<Steering>;
  /** The class probe's p_t (T rows of C) when the model has one, else null. */
  beliefs: number[][] | null;
}

async function trajectory(
  model: ExplorerModel,
  input: Float32Array,
  steer: Required<Steering>,
): Promise<Trajectory> {
  const explanation = await explainInput(model.ram, model.vae, input, steer);
  let beliefs: number[][] | null = null;
  if (model.cls) {
    const logp = await model.cls.beliefs(explanation.hidden); // (T, 1, C)
    const C = model.config.model.classes;
    beliefs = explanation.glimpses.map((_, t) =>
      Array.from(logp.subarray(t * C, (t + 1) * C), Math.exp)
    );
  }
  return { explanation, steer, beliefs };
}

function noSteer(T: number): Required<Steering> {
  return { start: new Float32Array(2), policy: new Float32Array(2 * Math.max(0, T - 1)) };
}

/** The explanation of `input` following the policy's mean from the centre, as `explain` does. */
export async function explainTrajectory(
  model: ExplorerModel,
  input: Float32Array,
): Promise<Trajectory> {
  return await trajectory(model, input, noSteer(model.config.model.glimpses));
}

/**
 * The pixel centre (column x, row y) of a width×height input as a location in [−1, 1]²: the
 * retina centres a glimpse at l on pixel floor((l+1)/2·W), so this location lands on (x, y)
 * with half a pixel to spare for float rounding.
 */
export function pixelLocation(x: number, y: number, width: number, height: number): [
  number,
  number,
] {
  return [(2 * x + 1) / width - 1, (2 * y + 1) / height - 1];
}

/**
 * `base` with glimpse `k` (1-based) moved to (lx, ly): the glimpses before k are kept exactly
 * (their steering is unchanged), glimpse k looks at (lx, ly), and every later glimpse follows
 * the policy's mean from there. For k ≥ 2 the action a_{k−1} is given the noise
 * ε = (l − μ_{k−1})/σ, so a = μ + σ·ε = l; μ_{k−1} is read off a rollout in which that action
 * follows its mean (`base` itself when it already did).
 *
 * @example
 * ```ts ignore
 * import { explainTrajectory, pixelLocation, redirect } from "./explorer_model.ts";
 * const base = await explainTrajectory(model, input);
 * const moved = await redirect(model, input, base, 3, ...pixelLocation(20, 6, 28, 28));
 * // moved.explanation.glimpses[2] is centred on pixel (20, 6)
 * ```
 */
export async function redirect(
  model: ExplorerModel,
  input: Float32Array,
  base: Trajectory,
  k: number,
  lx: number,
  ly: number,
): Promise<Trajectory> {
  const T = model.config.model.glimpses, sigma = model.config.model.sigma;
  if (!(Number.isInteger(k) && k >= 1 && k <= T)) {
    throw new Error(`redirect: glimpse ${k} is not one of 1..${T}`);
  }
  const target = [Math.min(1, Math.max(-1, lx)), Math.min(1, Math.max(-1, ly))];
  if (k === 1) {
    const steer = { start: Float32Array.from(target), policy: new Float32Array(2 * (T - 1)) };
    return await trajectory(model, input, steer);
  }
  const a = k - 2; // action a_{k−1} (0-based index a) places glimpse k
  const policy = Float32Array.from(base.steer.policy);
  const follows = policy.subarray(2 * a).every((v) => v === 0);
  policy.fill(0, 2 * a);
  const steer = { start: Float32Array.from(base.steer.start), policy };
  const mean = follows ? base.explanation : await explainInput(model.ram, model.vae, input, steer);
  const mu = mean.glimpses[k - 1];
  policy[2 * a] = (target[0] - mu.lx) / sigma;
  policy[2 * a + 1] = (target[1] - mu.ly) / sigma;
  return await trajectory(model, input, steer);
}
