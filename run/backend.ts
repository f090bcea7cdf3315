/**
 * Opening a RAM backend by name: the one place that turns "auto", "webgpu" or "cpu" into a
 * {@link RamBackend} (train, eval, explain, probe, compare and the benches all come here).
 * `auto` (the default) is decided by ram/choose_backend.ts: WebGPU on a hardware adapter, the
 * cpu path on the BLAS when the only adapter is a software one or there is none. `cpu` opens the
 * BLAS path when a BLAS library opens, else the TypeScript reference (ram/open_cpu.ts). Each
 * backend's module is imported only when chosen, so `cpu` never opens a WebGPU device. A new
 * backend is one more case of the switch.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import type { GpuRamOptions } from "../ram/gpu.ts";
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendDecision,
  chooseBackend,
} from "../ram/choose_backend.ts";

/** The backend names; the first is the default. */
export const BACKENDS = BACKEND_CHOICES;
/** A backend name ("auto" is resolved on this machine when opened). */
export type BackendName = BackendChoice;

/** A backend plus a line saying what runs it. */
export interface OpenedBackend {
  /** The opened RAM backend. */
  backend: RamBackend;
  /** e.g. "cpu (OpenBLAS /usr/lib/…, 2 threads)" or "webgpu (llvmpipe (LLVM 15.0.6, 256 bits))". */
  description: string;
  /** Which backend was chosen and why (auto's reasoning, or the name as given). */
  decision: BackendDecision;
  /** The WebGPU device the backend runs on (webgpu only): a probe beside it shares it. */
  gpu?: Gpu;
  /** Releases the backend, and the device when openBackend requested it. */
  close(): void;
}

/**
 * Opens backend `name` for a model `config`, parameters initialised from `seed` (a checkpoint's
 * state can be loaded afterwards with setState). `auto` is decided first (see the module doc).
 * `gpu` shares a device already open (it stays open on close()); without it webgpu requests its
 * own. `webgpu` passes kernel choices (the matrix-product strategy) to the webgpu backend.
 *
 * @example
 * ```ts ignore
 * import { openBackend } from "./backend.ts";
 * const opened = await openBackend("auto", config, 1);   // opened.decision.reason says why
 * try { await opened.backend.rollout(batch, { stochastic: false }); } finally { opened.close(); }
 * ```
 */
export async function openBackend(
  name: BackendName,
  config: RamConfig,
  seed: number,
  { gpu, webgpu }: { gpu?: Gpu; webgpu?: GpuRamOptions } = {},
): Promise<OpenedBackend> {
  const decision = await chooseBackend(name);
  switch (decision.name) {
    case "cpu": {
      const { openCpuRam } = await import("../ram/open_cpu.ts");
      const { backend, description } = await openCpuRam(config, seed);
      return { backend, description, decision, close: () => backend.dispose() };
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
          decision,
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
