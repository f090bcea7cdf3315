/**
 * Opens a trained run for use: its checkpoint read and checked, the RAM on a backend with the
 * saved parameters, and the VAE probe beside it (same backend and device) when the run has one.
 * What `eval`, `probe`, `explain` and `compare` start from.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import {
  type Checkpoint,
  type CheckpointMeta,
  checkpointState,
  loadCheckpoint,
  MODEL_FILE,
  OPTIMIZER_FILE,
  runFile,
} from "./checkpoint.ts";
import type { RunConfig } from "./run_config.ts";
import { createVae, type Vae } from "../probe/vae.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";
import { type ClassProbe, clsConfigFor, createClassProbe } from "../probe/cls.ts";

/** Options of {@link loadRun}. */
export interface LoadRunOptions {
  /** Where the RAM (and probe) run. */
  backend: "cpu" | "webgpu";
  /**
   * A WebGPU device to use (webgpu only); it stays open on close(). Without it loadRun requests
   * its own device and destroys it on close().
   */
  gpu?: Gpu;
  /**
   * Read optimizer.safetensors too (Adam moments, trainer state, the probe's step): true
   * requires it, false skips it, and the default reads it when the folder has one.
   */
  optimizer?: boolean;
}

/** A run opened by {@link loadRun}. */
export interface LoadedRun {
  /** The run folder (after resolving a bare NAME to checkpoints/NAME). */
  dir: string;
  /** The run's resolved config (config.vae is null when it has no probe). */
  config: RunConfig;
  /** The RAM with the saved parameters (and Adam state when the optimizer file was read). */
  ram: RamBackend;
  /** The probe with the saved parameters, on the RAM's backend and device; null without one. */
  vae: Vae | null;
  /** The class probe with the saved parameters (probe/cls.ts); null without one. */
  classProbe: ClassProbe | null;
  /** epoch, step, batch and (with a probe) vaeStep of the checkpoint. */
  meta: CheckpointMeta;
  /** The checkpoint as read (parameters, optional optimizer state). */
  checkpoint: Checkpoint;
  /** e.g. "cpu (TypeScript reference)" or "webgpu (llvmpipe …)". */
  description: string;
  /** Frees the probe, the RAM and (when loadRun opened it) the device. */
  close(): void;
}

async function isDir(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => null);
  return info?.isDirectory ?? false;
}

/**
 * Opens the run in `path`: a run folder (runs/NAME, checkpoints/NAME), its model.safetensors,
 * or a bare NAME that is not a folder but checkpoints/NAME is. The folder must hold
 * model.safetensors (its metadata holds the config); optimizer.safetensors is optional (see
 * {@link LoadRunOptions.optimizer}). A missing, corrupt or other-version checkpoint throws one
 * line naming the file.
 *
 * @example
 * ```ts
 * import { loadRun } from "./load_run.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * try {
 *   const images = new Float32Array(28 * 28); // one blank image, (B, 28, 28)
 *   const r = await run.ram.rollout({ size: 1, images, labels: new Int32Array(1) }, {
 *     stochastic: false,
 *   }); // r.hidden (T, B, H)
 *   const recon = await run.vae?.reconstruct(r.hidden); // (T·B, 784)
 *   console.log(run.description, r.locations, recon?.length);
 * } finally {
 *   run.close();
 * }
 * ```
 */
export async function loadRun(path: string, options: LoadRunOptions): Promise<LoadedRun> {
  let dir = path.endsWith(".safetensors")
    ? path.slice(0, Math.max(0, path.lastIndexOf("/"))) || "."
    : path.replace(/\/+$/, "") || "/";
  if (!path.endsWith(".safetensors") && !(await isDir(dir)) && !dir.includes("/")) {
    if (await isDir(`checkpoints/${dir}`)) dir = `checkpoints/${dir}`;
  }
  let optimizer = options.optimizer;
  if (optimizer === undefined) {
    optimizer = (await Deno.stat(runFile(dir, OPTIMIZER_FILE)).catch(() => null)) !== null;
  }
  const checkpoint = await loadCheckpoint(
    path.endsWith(".safetensors") ? path : dir,
    { optimizer },
  );
  const config = checkpoint.meta.config;
  const seed = config.train.seed;

  let ram: RamBackend | null = null;
  let vae: Vae | null = null;
  let cls: ClassProbe | null = null;
  let gpu: Gpu | undefined = options.gpu;
  const ownGpu = options.backend === "webgpu" && !gpu;
  let description: string;
  try {
    if (options.backend === "cpu") {
      const { openCpuRam } = await import("../ram/open_cpu.ts");
      ({ backend: ram, description } = await openCpuRam(config.model, seed));
    } else {
      if (!gpu) {
        const { requestGpu } = await import("../gpu/device.ts");
        gpu = await requestGpu();
      }
      const { GpuRam } = await import("../ram/gpu.ts");
      ram = await GpuRam.create(gpu, config.model, seed);
      description = `webgpu (${gpu.description})`;
    }
    try {
      ram.setState(checkpointState(checkpoint));
    } catch (e) {
      throw new Error(`Cannot load "${runFile(dir, MODEL_FILE)}": ${(e as Error).message}`);
    }
    if (config.vae && checkpoint.vae) {
      vae = await createVae(options.backend, gpu, vaeModelConfig(config.model, config.vae), seed);
      try {
        vae.setState(checkpoint.vae);
      } catch (e) {
        throw new Error(`Cannot load "${runFile(dir, MODEL_FILE)}": ${(e as Error).message}`);
      }
    }
    if (config.cls && checkpoint.cls) {
      cls = await createClassProbe(
        options.backend,
        gpu,
        clsConfigFor(config.model, config.cls),
        seed,
      );
      try {
        cls.setState(checkpoint.cls);
      } catch (e) {
        throw new Error(`Cannot load "${runFile(dir, MODEL_FILE)}": ${(e as Error).message}`);
      }
    }
  } catch (e) {
    cls?.dispose();
    vae?.dispose();
    ram?.dispose();
    if (ownGpu) gpu?.destroy();
    throw e;
  }
  const openedRam = ram, openedVae = vae, openedCls = cls;
  return {
    dir,
    config,
    ram: openedRam,
    vae: openedVae,
    classProbe: openedCls,
    meta: checkpoint.meta,
    checkpoint,
    description,
    close: () => {
      openedCls?.dispose();
      openedVae?.dispose();
      openedRam.dispose();
      if (ownGpu) gpu?.destroy();
    },
  };
}
