/**
 * `--backend auto|webgpu|cpu`: builds the chosen {@link RamBackend}. `auto` (the default) is
 * decided by ram/choose_backend.ts: WebGPU on a hardware adapter, the cpu path on the BLAS when
 * the only adapter is a software one or there is none. Each backend's module is imported only
 * when chosen, so `--backend cpu` never opens a WebGPU device.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendDecision,
  chooseBackend,
} from "../ram/choose_backend.ts";
import { openCpuRam } from "../ram/open_cpu.ts";
import { choiceOption } from "./options.ts";

/** The backends `--backend` accepts; the first is the default. */
export const BACKENDS = BACKEND_CHOICES;
export type BackendName = BackendChoice;

/** Parses --backend (default auto). */
export function backendOption(value: string | undefined): BackendName {
  return choiceOption("--backend", value, BACKENDS) ?? "auto";
}

/** Parses --backend and decides auto on this machine: the backend to open and why. */
export function resolveBackendOption(value: string | undefined): Promise<BackendDecision> {
  return chooseBackend(backendOption(value));
}

/** A backend plus a line saying what runs it. */
export interface OpenedBackend {
  backend: RamBackend;
  /** e.g. "cpu (OpenBLAS /usr/lib/…, 2 threads)" or "webgpu (llvmpipe (LLVM 15.0.6, 256 bits))". */
  description: string;
  /** Which backend was chosen and why (auto's reasoning, or the flag). */
  decision: BackendDecision;
  /** Releases the backend and its device. */
  close(): void;
}

/**
 * Opens `name` for a model `config`, parameters initialised from `seed` (a checkpoint's state
 * can be loaded afterwards with setState).
 *
 * @example
 * ```ts ignore
 * import { openBackend } from "./backend.ts";
 * const { backend, close, decision } = await openBackend("auto", config, 1);
 * ```
 */
export async function openBackend(
  name: BackendName,
  config: RamConfig,
  seed: number,
): Promise<OpenedBackend> {
  const decision = await chooseBackend(name);
  if (decision.name === "cpu") {
    const { backend, description } = await openCpuRam(config, seed);
    return { backend, description, decision, close: () => backend.dispose() };
  }
  const { requestGpu } = await import("../gpu/device.ts");
  const { GpuRam } = await import("../ram/gpu.ts");
  const gpu = await requestGpu();
  try {
    const backend = await GpuRam.create(gpu, config, seed);
    return {
      backend,
      description: `webgpu (${gpu.description})`,
      decision,
      close: () => {
        backend.dispose();
        gpu.destroy();
      },
    };
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}
