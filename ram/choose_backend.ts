/**
 * `--backend auto` (the default): which engine runs the RAM on this machine, and why.
 *
 * - A hardware WebGPU adapter: `webgpu`.
 * - Only a software adapter (llvmpipe, lavapipe, SwiftShader), or none: `cpu`, when a BLAS opens.
 *   A software adapter runs WGSL on the same cores, and its best GEMM (7–20 GFLOP/s measured)
 *   is far below the BLAS's (about 100 a core), so the cores are better used directly.
 * - A software adapter and no BLAS: `webgpu` still, since the TypeScript reference products are
 *   slower than llvmpipe's.
 * - Neither: `cpu` on the TypeScript reference.
 *
 * @module
 */
import { loadBlas } from "../util/blas.ts";

/** What `--backend` accepts; the first is the default. */
export const BACKEND_CHOICES = ["auto", "webgpu", "cpu"] as const;
/** One of {@link BACKEND_CHOICES}. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

/** A resolved backend and the reason, for --verbose and --json. */
export interface BackendDecision {
  /** The backend that runs. */
  name: "cpu" | "webgpu";
  /** What was asked: "auto", "webgpu" or "cpu". */
  choice: BackendChoice;
  /** One line: why this backend, e.g. "auto: the only WebGPU adapter is software (llvmpipe)". */
  reason: string;
}

/** Facts the decision rests on (injectable for tests). */
export interface MachineFacts {
  /** The WebGPU adapter's description and whether it is software; null without one. */
  adapter: { description: string; software: boolean } | null;
  /** Whether a BLAS library opens. */
  blas: boolean;
}

/** Looks at this machine: the WebGPU adapter (without opening a device) and the BLAS. */
export async function machineFacts(): Promise<MachineFacts> {
  let adapter: MachineFacts["adapter"] = null;
  try {
    const a = typeof navigator !== "undefined" && "gpu" in navigator
      ? await navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
      : null;
    if (a) {
      const info = a.info;
      const description = info.description ||
        [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") ||
        "unknown adapter";
      // The same test as gpu/device.ts Gpu.isSoftware.
      const software = info.isFallbackAdapter ||
        /llvmpipe|lavapipe|swiftshader|software/i.test(description);
      adapter = { description, software };
    }
  } catch {
    adapter = null;
  }
  return { adapter, blas: loadBlas() !== null };
}

/** The decision for `choice` given the machine's facts. */
export function decideBackend(choice: BackendChoice, facts: MachineFacts): BackendDecision {
  if (choice !== "auto") return { name: choice, choice, reason: `--backend ${choice}` };
  const { adapter, blas } = facts;
  if (adapter && !adapter.software) {
    return {
      name: "webgpu",
      choice,
      reason: `auto: hardware WebGPU adapter (${adapter.description})`,
    };
  }
  if (blas) {
    return {
      name: "cpu",
      choice,
      reason: adapter
        ? `auto: the only WebGPU adapter is software (${adapter.description}); the CPU's BLAS is faster`
        : "auto: no WebGPU adapter; the CPU's BLAS runs the products",
    };
  }
  if (adapter) {
    return {
      name: "webgpu",
      choice,
      reason: `auto: software WebGPU adapter (${adapter.description}) and no BLAS library ` +
        "(apt-get install libopenblas0-pthread for the faster cpu path)",
    };
  }
  return {
    name: "cpu",
    choice,
    reason: "auto: no WebGPU adapter and no BLAS: TypeScript reference",
  };
}

/**
 * Resolves `choice` on this machine (auto looks at the adapter and the BLAS; webgpu and cpu are
 * taken as given).
 */
export async function chooseBackend(choice: BackendChoice): Promise<BackendDecision> {
  if (choice !== "auto") return decideBackend(choice, { adapter: null, blas: false });
  return decideBackend(choice, await machineFacts());
}
