/**
 * The `cpu` backend as the CLI opens it: the fast path on the machine's BLAS (ram/blas_cpu.ts)
 * when a BLAS library opens, else the TypeScript reference (ram/cpu.ts), with a line
 * saying which runs. Both take the same checkpoints.
 *
 * @module
 */
import type { RamBackend } from "./backend.ts";
import type { RamConfig } from "./config.ts";
import { loadBlas } from "../util/blas.ts";

/** A cpu RAM and what runs its products. */
export interface OpenedCpu {
  /** The RAM, parameters initialised from the seed. */
  backend: RamBackend;
  /** e.g. "cpu (OpenBLAS /usr/lib/…/libopenblasp-r0.3.21.so, 2 threads)". */
  description: string;
  /** True when the products run on a BLAS. */
  blas: boolean;
}

/**
 * Opens the cpu RAM for `config`, initialised from `seed`.
 *
 * @example
 * ```ts
 * import { openCpuRam } from "./open_cpu.ts";
 * import { resolveRamConfig } from "./config.ts";
 * const { backend, description } = await openCpuRam(resolveRamConfig({ glimpses: 2 }), 1);
 * console.log(description);
 * backend.dispose();
 * ```
 */
export async function openCpuRam(config: RamConfig, seed: number): Promise<OpenedCpu> {
  const blas = loadBlas();
  if (blas) {
    const { BlasRam } = await import("./blas_cpu.ts");
    return {
      backend: new BlasRam(config, seed, blas),
      description: `cpu (${blas.description})`,
      blas: true,
    };
  }
  const { CpuRam } = await import("./cpu.ts");
  return {
    backend: new CpuRam(config, seed),
    description: "cpu (TypeScript reference: no BLAS library opened; apt-get install " +
      "libopenblas0-pthread for the fast path)",
    blas: false,
  };
}
