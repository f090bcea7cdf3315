/**
 * Opening a RAM backend by name: the one place that turns "webgpu" or "cpu" into a
 * {@link RamBackend} (train, eval, explain, probe, compare and the benches all come here). Each
 * backend's module is imported only when chosen, so `cpu` never touches WebGPU. A new backend
 * is one more case of the switch.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import type { GpuRamOptions } from "../ram/gpu.ts";

/** The backend names; the first is the default. */
export const BACKENDS = ["webgpu", "cpu"] as const;
/** A backend name. */
export type BackendName = typeof BACKENDS[number];

/** A backend plus a line saying what runs it. */
export interface OpenedBackend {
  backend: RamBackend;
  /** e.g. "cpu (TypeScript reference)" or "webgpu (llvmpipe (LLVM 15.0.6, 256 bits))". */
  description: string;
  /** The WebGPU device the backend runs on (webgpu only): a probe beside it shares it. */
  gpu?: Gpu;
  /** Releases the backend, and the device when openBackend requested it. */
  close(): void;
}

/**
 * Opens backend `name` for a model `config`, parameters initialised from `seed` (a checkpoint's
 * state can be loaded afterwards with setState). `gpu` shares a device already open (it stays
 * open on close()); without it webgpu requests its own. `webgpu` passes kernel choices (the
 * matrix-product strategy) to the webgpu backend.
 *
 * @example
 * ```ts ignore
 * import { openBackend } from "./backend.ts";
 * const opened = await openBackend("cpu", config, 1);
 * try { await opened.backend.rollout(batch, { stochastic: false }); } finally { opened.close(); }
 * ```
 */
export async function openBackend(
  name: BackendName,
  config: RamConfig,
  seed: number,
  { gpu, webgpu }: { gpu?: Gpu; webgpu?: GpuRamOptions } = {},
): Promise<OpenedBackend> {
  switch (name) {
    case "cpu": {
      const { CpuRam } = await import("../ram/cpu.ts");
      const backend = new CpuRam(config, seed);
      return { backend, description: "cpu (TypeScript reference)", close: () => backend.dispose() };
    }
    case "webgpu": {
      const { requestGpu } = await import("../gpu/device.ts");
      const { GpuRam } = await import("../ram/gpu.ts");
      const device = gpu ?? await requestGpu();
      try {
        const backend = await GpuRam.create(device, config, seed, webgpu);
        return {
          backend,
          description: `webgpu (${device.description})`,
          gpu: device,
          close: () => {
            backend.dispose();
            if (!gpu) device.destroy();
          },
        };
      } catch (e) {
        if (!gpu) device.destroy();
        throw e;
      }
    }
  }
}
