/**
 * Opens a saved run for use (`openRun`): its checkpoint read and checked, the RAM on a backend
 * with the saved parameters, and the VAE probe and the class probe beside it (same backend and
 * device) when the run has them.
 * What `eval`, `probe`, `explain` and `compare` start from.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import { type BackendName, openBackend } from "./backend.ts";
import type { BackendDecision } from "../ram/choose_backend.ts";
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
import { pathExists } from "../util/read_regular.ts";

/** Options of {@link openRun}. */
export interface LoadRunOptions {
  /** Where the RAM (and probe) run. */
  backend: BackendName;
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

/** A run opened by {@link openRun}. */
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
  /** e.g. "cpu (OpenBLAS …, 2 threads)" or "webgpu (llvmpipe …)". */
  description: string;
  /** Which backend opened and why (auto's reasoning, or the name as given). */
  decision: BackendDecision;
  /** Frees the probe, the RAM and (when loadRun opened it) the device. */
  close(): void;
}

async function isDir(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => null);
  return info?.isDirectory ?? false;
}

/**
 * The run folder `path` names: the folder itself, the folder of a model.safetensors, or
 * checkpoints/NAME for a bare NAME that is not a folder.
 */
export async function runFolderOf(path: string): Promise<string> {
  let dir = path.endsWith(".safetensors")
    ? path.slice(0, Math.max(0, path.lastIndexOf("/"))) || "."
    : path.replace(/\/+$/, "") || "/";
  if (!path.endsWith(".safetensors") && !(await isDir(dir)) && !dir.includes("/")) {
    if (await isDir(`checkpoints/${dir}`)) dir = `checkpoints/${dir}`;
  }
  return dir;
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
 * import { openRun } from "./load_run.ts";
 * const run = await openRun("checkpoints/mnist-classification", { backend: "cpu" });
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
export async function openRun(path: string, options: LoadRunOptions): Promise<LoadedRun> {
  const dir = await runFolderOf(path);
  let optimizer = options.optimizer;
  if (optimizer === undefined) {
    optimizer = await pathExists(runFile(dir, OPTIMIZER_FILE));
  }
  const checkpoint = await loadCheckpoint(
    path.endsWith(".safetensors") ? path : dir,
    { optimizer },
  );
  const config = checkpoint.meta.config;
  const seed = config.train.seed;

  const opened = await openBackend(options.backend, config.model, seed, { gpu: options.gpu });
  let vae: Vae | null = null;
  let cls: ClassProbe | null = null;
  try {
    try {
      opened.backend.setState(checkpointState(checkpoint));
    } catch (e) {
      throw new Error(`Cannot load "${runFile(dir, MODEL_FILE)}": ${(e as Error).message}`);
    }
    if (config.vae && checkpoint.vae) {
      vae = await createVae(
        opened.backend.name,
        opened.gpu,
        vaeModelConfig(config.model, config.vae),
        seed,
      );
      try {
        vae.setState(checkpoint.vae);
      } catch (e) {
        throw new Error(`Cannot load "${runFile(dir, MODEL_FILE)}": ${(e as Error).message}`);
      }
    }
    if (config.cls && checkpoint.cls) {
      cls = await createClassProbe(
        opened.backend.name,
        opened.gpu,
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
    opened.close();
    throw e;
  }
  const openedVae = vae, openedCls = cls;
  return {
    dir,
    config,
    ram: opened.backend,
    vae: openedVae,
    classProbe: openedCls,
    meta: checkpoint.meta,
    checkpoint,
    description: opened.description,
    decision: opened.decision,
    close: () => {
      openedCls?.dispose();
      openedVae?.dispose();
      opened.close();
    },
  };
}

/** @deprecated The former name of {@link openRun}. */
export const loadRun: typeof openRun = openRun;
