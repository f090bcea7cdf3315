/**
 * Opening a RAM backend by name: the one place that turns "auto", "webgpu" or "cpu" into a
 * {@link RamBackend} (train, eval, explain, probe, compare and the benches all come here).
 * `auto` (the default) is decided by ram/choose_backend.ts: WebGPU on a hardware adapter, the
 * cpu path on the BLAS when the only adapter is a software one or there is none. `cpu` opens the
 * BLAS path when a BLAS library opens, else the TypeScript reference ({@link openCpuRam}). Each
 * backend's module is imported only when chosen, so `cpu` never opens a WebGPU device. A new
 * backend is one more case of the switch.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import type { GpuRamOptions } from "../ram/gpu.ts";
import { loadBlas } from "../util/blas.ts";
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

/** A cpu RAM and what runs its products. */
export interface OpenedCpu {
  /** The RAM, parameters initialised from the seed. */
  backend: RamBackend;
  /** e.g. "cpu (OpenBLAS /usr/lib/…/libopenblasp-r0.3.21.so, 2 lanes × 1 thread)". */
  description: string;
  /** True when the products run on a BLAS. */
  blas: boolean;
}

/**
 * Cores the fast cpu path splits a batch over (ram/blas_lanes.ts): GLIMPSE_CPU_LANES when set
 * (1 runs on one thread and leaves the BLAS its own thread count), else the machine's cores,
 * at most 4 (a lane needs 32 of the batch's 128 rows to pay for its handovers).
 */
export function defaultCpuLanes(): number {
  let env: string | undefined;
  try {
    env = globalThis.Deno?.env.get("GLIMPSE_CPU_LANES"); // no Deno in a browser
  } catch {
    // no --allow-env: the default
  }
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`GLIMPSE_CPU_LANES=${env}: must be a whole number ≥ 1`);
    }
    return n;
  }
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.max(1, Math.min(4, cores));
}

/**
 * Opens the cpu RAM for `config`, initialised from `seed`: the fast path on the machine's BLAS
 * (ram/blas_cpu.ts) over `lanes` cores (default {@link defaultCpuLanes}) when a BLAS library
 * opens, else the TypeScript reference (ram/cpu.ts), with a line saying which runs. Both take
 * the same checkpoints.
 *
 * @example
 * ```ts
 * import { openCpuRam } from "./backend.ts";
 * import { resolveRamConfig } from "../ram/config.ts";
 * const { backend, description } = await openCpuRam(resolveRamConfig({ glimpses: 2 }), 1);
 * console.log(description);
 * backend.dispose();
 * ```
 */
export async function openCpuRam(
  config: RamConfig,
  seed: number,
  { lanes }: { lanes?: number } = {},
): Promise<OpenedCpu> {
  const blas = loadBlas();
  if (blas) {
    const { BlasRam } = await import("../ram/blas_cpu.ts");
    const n = lanes ?? defaultCpuLanes();
    const backend = new BlasRam(config, seed, blas, { lanes: n });
    const base = blas.description.replace(/, \d+ threads?$/, "");
    return {
      backend,
      description: `cpu (${n > 1 ? `${base}, ${n} lanes × 1 thread` : blas.description})`,
      blas: true,
    };
  }
  const { CpuRam } = await import("../ram/cpu.ts");
  return {
    backend: new CpuRam(config, seed),
    description: "cpu (TypeScript reference: no BLAS library opened; apt-get install " +
      "libopenblas0-pthread for the fast path)",
    blas: false,
  };
}
