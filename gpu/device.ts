/**
 * WebGPU adapter and device acquisition.
 *
 * One {@link Gpu} per process is typical: it owns the device, a pipeline cache and the
 * error plumbing (uncaptured errors and device loss become thrown errors that say so).
 *
 * @module
 */

/** Raised when WebGPU cannot be used; the message tells the user what to do. */
export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

/** Raised for validation, out-of-memory or internal errors reported by the device. */
export class GpuError extends Error {
  override name = "GpuError";
}

/** Options for {@link requestGpu}. */
export interface GpuOptions {
  /** Prefer a low-power or high-performance adapter. */
  powerPreference?: GPUPowerPreference;
  /** Print the adapter's description to stderr. */
  verbose?: boolean;
}

/**
 * A device together with what glimpse needs to know about it.
 *
 * @example
 * ```ts
 * import { requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * console.log(gpu.description);
 * gpu.destroy();
 * ```
 */
export class Gpu {
  /** Errors reported outside an error scope since the last {@link Gpu.check}. */
  #pending: GpuError[] = [];
  #lost: string | null = null;
  /** Pipelines by cache key; see gpu/kernel.ts. */
  readonly pipelines: Map<string, GPUComputePipeline> = new Map();
  /** Shader modules by WGSL source. */
  readonly modules: Map<string, GPUShaderModule> = new Map();

  /** Wraps an adapter and its device; {@link requestGpu} makes one. */
  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
    readonly description: string,
  ) {
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#pending.push(new GpuError(`WebGPU error: ${error.message}`));
    });
    device.lost.then((info) => {
      if (info.reason !== "destroyed") this.#lost = info.message || info.reason;
    });
  }

  /** True when the adapter is a software rasteriser (llvmpipe, lavapipe, SwiftShader). */
  get isSoftware(): boolean {
    return this.adapter.info.isFallbackAdapter ||
      /llvmpipe|lavapipe|swiftshader|software/i.test(this.description);
  }

  /** Throws the first error the device reported since the last call, or if it was lost. */
  check(): void {
    if (this.#lost !== null) throw new GpuError(`WebGPU device lost: ${this.#lost}`);
    const first = this.#pending.shift();
    if (first) {
      this.#pending.length = 0;
      throw first;
    }
  }

  /** Waits for all submitted work, then reports any error the device raised meanwhile. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Releases the device. */
  destroy(): void {
    this.device.destroy();
  }
}

/**
 * Finds a WebGPU adapter and opens a device with the largest storage-buffer limits it offers.
 *
 * @example
 * ```ts
 * import { requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * console.log(gpu.description);
 * gpu.destroy();
 * ```
 */
export async function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new GpuUnavailableError(
      "WebGPU is not available in this runtime: use Deno 2.9.6 or later, or pass --backend cpu",
    );
  }
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) {
    throw new GpuUnavailableError(
      "No WebGPU adapter found: install a GPU driver or Mesa's software adapter " +
        "(apt-get install libgl1-mesa-dri, or mesa-vulkan-drivers), or pass --backend cpu",
    );
  }
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    label: "glimpse",
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: limits.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info;
  const description = info.description || [info.vendor, info.architecture, info.device]
    .filter((s) => s).join(" ") ||
    "unknown adapter";
  if (options.verbose) console.error(`WebGPU adapter: ${description}`);
  return new Gpu(adapter, device, description);
}

let shared: Promise<Gpu> | null = null;

/** A process-wide device, opened on first use (tests and benches share one). */
export function sharedGpu(): Promise<Gpu> {
  shared ??= requestGpu();
  return shared;
}
