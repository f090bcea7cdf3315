/**
 * `--backend webgpu|cpu`: builds the chosen {@link RamBackend}. Each backend's module is imported
 * only when chosen, so `--backend cpu` never touches WebGPU.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import { choiceOption } from "./options.ts";

/** The backends `--backend` accepts; the first is the default. */
export const BACKENDS = ["webgpu", "cpu"] as const;
export type BackendName = typeof BACKENDS[number];

/** Parses --backend (default webgpu). */
export function backendOption(value: string | undefined): BackendName {
  return choiceOption("--backend", value, BACKENDS) ?? "webgpu";
}

/** A backend plus a line saying what runs it. */
export interface OpenedBackend {
  backend: RamBackend;
  /** e.g. "cpu (TypeScript reference)" or "webgpu (llvmpipe (LLVM 15.0.6, 256 bits))". */
  description: string;
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
 * const { backend, close } = await openBackend("cpu", config, 1);
 * ```
 */
export async function openBackend(
  name: BackendName,
  config: RamConfig,
  seed: number,
): Promise<OpenedBackend> {
  if (name === "cpu") {
    const { CpuRam } = await import("../ram/cpu.ts");
    const backend = new CpuRam(config, seed);
    return { backend, description: "cpu (TypeScript reference)", close: () => backend.dispose() };
  }
  const { requestGpu } = await import("../gpu/device.ts");
  const { GpuRam } = await import("../ram/gpu.ts");
  const gpu = await requestGpu();
  try {
    const backend = await GpuRam.create(gpu, config, seed);
    return {
      backend,
      description: `webgpu (${gpu.description})`,
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
