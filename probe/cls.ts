/**
 * The class probe (shared DESIGN.md "Information gain"): opens an implementation on a backend.
 * Its `beliefs(h)` is the model's belief log p_t after t glimpses that the EIG table, the
 * controls and the EIG map report; the RAM's own head (trained on log p_T only) stands beside it.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RamBackend } from "../ram/backend.ts";
import { type ClsConfig, clsConfigFor, type ClsRunConfig } from "./cls_params.ts";
import type { ClassProbe } from "./cls_api.ts";

export type { ClassProbe, ClsStepResult } from "./cls_api.ts";
export {
  type ClsConfig,
  clsConfigFor,
  type ClsRunConfig,
  DEFAULT_CLS_RUN,
  resolveClsRunConfig,
} from "./cls_params.ts";

/**
 * Opens the class probe on `backend` ("cpu" or "webgpu"; the latter needs `gpu`), parameters
 * initialised from `seed`.
 *
 * @example
 * ```ts
 * import { createClassProbe } from "./cls.ts";
 * const probe = await createClassProbe("cpu", undefined,
 *   { input: 4, glimpses: 2, classes: 3, hidden: 0, glimpse: "separate", lr: 1e-3 }, 1);
 * const logp = await probe.beliefs(new Float32Array(8)); // (T=2, B=1, C=3)
 * probe.dispose();
 * ```
 */
export async function createClassProbe(
  backend: "cpu" | "webgpu",
  gpu: Gpu | undefined,
  cfg: ClsConfig,
  seed: number,
): Promise<ClassProbe> {
  if (backend === "cpu") {
    // The machine's BLAS when one opens (as the cpu RAM and the VAE probe do), else the references.
    const { CpuClassProbe } = await import("./cls_cpu.ts");
    const { loadBlas } = await import("../util/blas.ts");
    const { blasLinear, REF_LINEAR } = await import("../kernels/linear_blas.ts");
    const blas = loadBlas();
    return new CpuClassProbe(cfg, seed, blas ? blasLinear(blas.sgemm) : REF_LINEAR);
  }
  if (!gpu) throw new Error("createClassProbe: the webgpu class probe needs a WebGPU device");
  const { GpuClassProbe } = await import("./cls_gpu.ts");
  return await GpuClassProbe.create(gpu, cfg, seed);
}

/**
 * Opens the class probe beside a RAM: same backend and device, sizes from the RAM and `run`.
 *
 * @example
 * ```ts ignore
 * import { createClassProbeFor } from "./cls.ts";
 * const probe = await createClassProbeFor(ram, config.cls!, config.train.seed);
 * ```
 */
export function createClassProbeFor(
  ram: RamBackend,
  run: Omit<ClsRunConfig, "start">,
  seed: number,
): Promise<ClassProbe> {
  const gpu = ram.name === "webgpu" ? (ram as unknown as { gpu: Gpu }).gpu : undefined;
  return createClassProbe(ram.name, gpu, clsConfigFor(ram.config, run), seed);
}
