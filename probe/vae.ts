/**
 * The VAE probe (shared DESIGN.md "The VAE probe"): what the trainer, `probe`, `eval` and
 * `explain` call, whichever backend runs it.
 *
 * The probe reads the RAM's recurrent state h_t after every glimpse (detached: it never
 * changes the RAM) and learns to reconstruct the clean 28×28 digit from it. One encoder and
 * one decoder are shared by all glimpses, so a training batch is all T·B rows of a rollout's
 * hidden states (T, B, H), row r = t·B + b, each compared with clean digit b = r % B.
 *
 * Loss per row: BCE summed over pixels + KL = −½ Σ(1 + log σ² − μ² − σ²); the step minimises
 * their mean over the T·B rows (nats per image) with its own Adam (lr 1e-3 by default).
 * Reconstructions decode μ (no sampling).
 *
 * Randomness: the reparameterisation noise ε (T·B, L) is drawn by the caller, e.g.
 * `Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch).fillNormal(eps)`, so both backends see the
 * same numbers and a run is reproducible.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";
import type { RamBackend } from "../ram/backend.ts";
import { type VaeConfig, vaeConfigFor } from "./vae_params.ts";

export {
  checkVaeParams,
  DEFAULT_VAE,
  initVaeParams,
  resolveVaeConfig,
  splitVaeParams,
  VAE_PREFIX,
  type VaeConfig,
  vaeConfigFor,
  vaeParamSpecs,
} from "./vae_params.ts";

/** Random stream of the probe's ε: Rng.derive(seed, VAE_NOISE_STREAM, epoch, batch). */
export const VAE_NOISE_STREAM = 0x7661656e; // "vaen"

export { type Vae, vaeRows, type VaeStepResult } from "./vae_api.ts";
import type { Vae } from "./vae_api.ts";

/**
 * Opens the probe on `backend` ("cpu" or "webgpu"; the latter needs `gpu`), parameters
 * initialised from `seed`. Each implementation is imported only when chosen.
 *
 * @example
 * ```ts
 * import { createVae, resolveVaeConfig } from "./vae.ts";
 * const vae = await createVae("cpu", undefined, resolveVaeConfig({ input: 8, hidden: 8,
 *   latent: 2, pixels: 4 }), 1);
 * const r = await vae.trainStep(new Float32Array(8), new Float32Array(4), new Float32Array(2));
 * // r.loss === r.bce + r.kl
 * vae.dispose();
 * ```
 */
export async function createVae(
  backend: "cpu" | "webgpu",
  gpu: Gpu | undefined,
  cfg: VaeConfig,
  seed: number,
  matmul?: MatmulStrategy,
): Promise<Vae> {
  if (backend === "cpu") {
    // The machine's BLAS when one opens (as the cpu RAM does), else the TypeScript references.
    const { CpuVae } = await import("./vae_cpu.ts");
    const { loadBlas } = await import("../util/blas.ts");
    const { blasLinear, REF_LINEAR } = await import("../kernels/linear_blas.ts");
    const blas = loadBlas();
    return new CpuVae(cfg, seed, blas ? blasLinear(blas.sgemm) : REF_LINEAR);
  }
  if (!gpu) throw new Error("createVae: the webgpu probe needs a WebGPU device");
  const { GpuVae } = await import("./vae_gpu.ts");
  return await GpuVae.create(gpu, cfg, seed, matmul);
}

/**
 * Opens the probe beside a RAM: same backend (and device), `input` = the RAM's hidden size,
 * other sizes from `over` or the defaults.
 *
 * @example
 * ```ts ignore
 * import { createVaeFor } from "./vae.ts";
 * const vae = await createVaeFor(ram, {}, config.train.seed);
 * ```
 */
export function createVaeFor(
  ram: RamBackend,
  over: Partial<VaeConfig>,
  seed: number,
): Promise<Vae> {
  const cfg = vaeConfigFor(ram.config, over);
  const gpu = ram.name === "webgpu" ? (ram as unknown as { gpu: Gpu }).gpu : undefined;
  return createVae(ram.name, gpu, cfg, seed);
}
