/**
 * Compute kernels: a WGSL module with an explicit bind group layout, compiled inside an
 * error scope so a shader error names the kernel, and {@link Dispatch}es that bind buffers
 * once and are encoded as often as needed (no bind group is created inside a step loop).
 *
 * Binding convention for every kernel in kernels/: `@group(0) @binding(0)` is a uniform
 * struct of u32/f32 parameters (always present), bindings 1..n are storage buffers in the
 * order the kernel's spec lists them.
 *
 * @module
 */
import { type Gpu, GpuError } from "./device.ts";
import type { Tensor } from "./tensor.ts";

/** Storage access of one binding. */
export type Access = "read" | "read_write";

/** What {@link compileKernel} needs. */
export interface KernelSpec {
  /** Names the kernel in labels and errors, e.g. "matmul". */
  name: string;
  /** WGSL source. */
  code: string;
  /** Entry point; default "main". */
  entryPoint?: string;
  /** Access of storage bindings 1..n. */
  storage: readonly Access[];
  /** Pipeline-overridable constants (e.g. workgroup size, activation). */
  constants?: Record<string, number>;
}

/** A compiled compute pipeline and its layout. */
export interface Kernel {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly storage: readonly Access[];
}

function cacheKey(spec: KernelSpec): string {
  const consts = Object.entries(spec.constants ?? {}).sort().map(([k, v]) => `${k}=${v}`);
  return `${spec.name}|${spec.entryPoint ?? "main"}|${consts.join(",")}|${spec.code.length}`;
}

/**
 * Compiles (or fetches from the cache) a kernel. Compilation errors are reported as
 * `GpuError("kernel NAME: …")` with the compiler's messages.
 */
export async function compileKernel(gpu: Gpu, spec: KernelSpec): Promise<Kernel> {
  const { device } = gpu;
  const key = cacheKey(spec);
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
    ...spec.storage.map((access, i): GPUBindGroupLayoutEntry => ({
      binding: i + 1,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: access === "read" ? "read-only-storage" : "storage" },
    })),
  ];
  const layout = device.createBindGroupLayout({ label: `${spec.name} layout`, entries });
  const cached = gpu.pipelines.get(key);
  if (cached) return { name: spec.name, pipeline: cached, layout, storage: spec.storage };

  device.pushErrorScope("validation");
  let module = gpu.modules.get(spec.code);
  let errors: GPUCompilationMessage[] = [];
  if (!module) {
    module = device.createShaderModule({ label: spec.name, code: spec.code });
    gpu.modules.set(spec.code, module);
    // Only a new module is asked: Chrome never answers a second getCompilationInfo() on the
    // same module (measured, SwiftShader), and a cached one compiled cleanly (see below).
    const info = await module.getCompilationInfo();
    errors = info.messages.filter((m) => m.type === "error");
  }
  const pipeline = device.createComputePipeline({
    label: spec.name,
    layout: device.createPipelineLayout({
      label: `${spec.name} pipeline layout`,
      bindGroupLayouts: [layout],
    }),
    compute: { module, entryPoint: spec.entryPoint ?? "main", constants: spec.constants },
  });
  const scopeError = await device.popErrorScope();
  if (errors.length > 0 || scopeError) {
    gpu.modules.delete(spec.code);
    const detail = errors.length > 0
      ? errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ")
      : scopeError!.message;
    throw new GpuError(`kernel ${spec.name}: shader failed to compile: ${detail}`);
  }
  // The layout object used for bind groups must be the pipeline's own explicit layout.
  gpu.pipelines.set(key, pipeline);
  return { name: spec.name, pipeline, layout, storage: spec.storage };
}

/** Uniform values: each entry is written as one 32-bit word (u32 unless listed in `floats`). */
export type Uniforms = Record<string, number>;

/** A kernel bound to buffers and uniforms, with its workgroup counts; encode it any number of times. */
export class Dispatch {
  readonly bindGroup: GPUBindGroup;
  readonly uniform: GPUBuffer;
  constructor(
    gpu: Gpu,
    readonly kernel: Kernel,
    buffers: readonly (Tensor | GPUBuffer)[],
    /** Raw uniform words; pack with {@link packUniforms}. */
    words: ArrayBuffer,
    readonly workgroups: readonly [number, number?, number?],
  ) {
    if (buffers.length !== kernel.storage.length) {
      throw new Error(
        `kernel ${kernel.name}: expected ${kernel.storage.length} buffers, got ${buffers.length}`,
      );
    }
    for (const w of workgroups) {
      if (w !== undefined && (w < 1 || w > 65535 || !Number.isInteger(w))) {
        throw new Error(`kernel ${kernel.name}: bad workgroup count ${w}`);
      }
    }
    const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
    this.uniform = gpu.device.createBuffer({
      label: `${kernel.name} uniforms`,
      size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    gpu.device.queue.writeBuffer(this.uniform, 0, words);
    this.bindGroup = gpu.device.createBindGroup({
      label: `${kernel.name} bind group`,
      layout: kernel.layout,
      entries: [
        { binding: 0, resource: { buffer: this.uniform } },
        ...buffers.map((b, i) => ({
          binding: i + 1,
          resource: "buffer" in b
            ? {
              buffer: b.buffer,
              offset: b.offset,
              size: Math.min(b.bindingSize, b.buffer.size - b.offset),
            }
            : { buffer: b },
        })),
      ],
    });
  }

  /** Records the dispatch into a compute pass. */
  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    const [x, y = 1, z = 1] = this.workgroups;
    pass.dispatchWorkgroups(x, y, z);
  }

  /** Frees the uniform buffer. */
  destroy(): void {
    this.uniform.destroy();
  }
}

/**
 * Packs uniform words in the order given: integers as u32, and names listed in `floats`
 * as f32. The WGSL struct must declare the same fields in the same order.
 */
export function packUniforms(values: Uniforms, floats: readonly string[] = []): ArrayBuffer {
  const keys = Object.keys(values);
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(keys.length / 4) * 16));
  const u32 = new Uint32Array(buf);
  const f32 = new Float32Array(buf);
  keys.forEach((k, i) => {
    if (floats.includes(k)) f32[i] = values[k];
    else u32[i] = values[k] >>> 0;
  });
  return buf;
}

/** A new encoder holding `dispatches` in one compute pass, in order (not yet submitted). */
export function encodePass(
  gpu: Gpu,
  dispatches: readonly Dispatch[],
  label = "glimpse step",
): GPUCommandEncoder {
  const encoder = gpu.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  for (const d of dispatches) d.encode(pass);
  pass.end();
  return encoder;
}

/** Encodes dispatches into one compute pass of a new encoder and submits it once. */
export function run(gpu: Gpu, dispatches: readonly Dispatch[], label = "glimpse step"): void {
  gpu.device.queue.submit([encodePass(gpu, dispatches, label).finish()]);
}

/** Workgroups needed to cover `n` items with `size` per group. */
export function groups(n: number, size: number): number {
  return Math.max(1, Math.ceil(n / size));
}
