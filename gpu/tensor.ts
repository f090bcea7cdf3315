/**
 * Tensors on the device: a storage buffer with a shape, plus upload and batched readback.
 *
 * @module
 */
import type { Gpu } from "./device.ts";

/** Usage every tensor gets: kernels read and write it, and it can be copied in and out. */
const TENSOR_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A row-major f32 tensor living in a GPU storage buffer, possibly a view into a larger one. */
export class Tensor {
  /** Number of elements. */
  readonly size: number;
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly label: string,
    /** Byte offset of element 0 in `buffer` (a multiple of {@link VIEW_ALIGN} floats · 4). */
    readonly offset = 0,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
  /** Bytes a binding of this tensor covers (at least 16, rounded up to 16). */
  get bindingSize(): number {
    return Math.max(16, Math.ceil(this.size / 4) * 16);
  }
  /** Size in bytes of the data (the buffer may be larger). */
  get bytes(): number {
    return this.size * 4;
  }
}

/**
 * Views must start at multiples of this many floats: 256 bytes, the largest
 * minStorageBufferOffsetAlignment WebGPU allows, so views bind on every adapter.
 */
export const VIEW_ALIGN = 64;

/** Rounds an element count up to a multiple of {@link VIEW_ALIGN}. */
export function alignView(n: number): number {
  return Math.ceil(n / VIEW_ALIGN) * VIEW_ALIGN;
}

/**
 * A view of `size(shape)` elements of `base` starting at element `offset` (a multiple of
 * {@link VIEW_ALIGN}). Lets all parameters live in one buffer so one dispatch updates them all.
 */
export function view(
  base: Tensor,
  offset: number,
  shape: readonly number[],
  label: string,
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (offset % VIEW_ALIGN !== 0) throw new Error(`view ${label}: offset ${offset} is not aligned`);
  const bytes = base.offset + offset * 4;
  if (
    offset + size > base.size || bytes + Math.max(16, Math.ceil(size / 4) * 16) > base.buffer.size
  ) {
    throw new Error(
      `view ${label}: [${offset}, ${offset + size}) exceeds ${base.label} [${base.shape}]`,
    );
  }
  return new Tensor(base.buffer, shape, label, bytes);
}

/** Allocates a tensor; `data` (if given) is uploaded, otherwise the tensor is zero. */
export function tensor(
  gpu: Gpu,
  shape: readonly number[],
  label: string,
  data?: ArrayLike<number>,
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(size) || size < 0) throw new Error(`bad tensor shape [${shape}]`);
  // Zero-sized bindings are invalid; round up to 4 floats (16 bytes) for vec4 access.
  const bytes = Math.max(16, Math.ceil(size / 4) * 16);
  const buffer = gpu.device.createBuffer({ label, size: bytes, usage: TENSOR_USAGE });
  const t = new Tensor(buffer, shape, label);
  if (data) upload(gpu, t, data);
  return t;
}

/** Writes host data into a tensor (queued; ordered before later submissions). */
export function upload(gpu: Gpu, t: Tensor, data: ArrayLike<number>, offset = 0): void {
  if (data.length + offset > t.size) {
    throw new Error(`upload of ${data.length} values into ${t.label} [${t.shape}] overflows`);
  }
  if (data.length === 0) return; // writeBuffer of zero bytes panics Deno 2.9.6 (queue.rs)
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  gpu.device.queue.writeBuffer(t.buffer, t.offset + offset * 4, f32 as Float32Array<ArrayBuffer>);
}

/** Zeroes a tensor (or view) inside an encoder. */
export function clear(encoder: GPUCommandEncoder, t: Tensor): void {
  encoder.clearBuffer(t.buffer, t.offset, Math.ceil(t.bytes / 4) * 4);
}

/**
 * Reads several tensors back with one staging buffer and one map (each map costs >= ~10 ms
 * in Deno, so batch everything a step needs into one call).
 */
export class Readback {
  #staging: GPUBuffer | null = null;
  #capacity = 0;
  constructor(readonly gpu: Gpu, readonly label = "readback") {}

  /** Copies `tensors` into staging, submits, maps once, and returns a copy of each. */
  async read(tensors: readonly Tensor[], encoder?: GPUCommandEncoder): Promise<Float32Array[]> {
    const { device } = this.gpu;
    const total = tensors.reduce((n, t) => n + t.bytes, 0);
    if (total > this.#capacity) {
      this.#staging?.destroy();
      this.#capacity = Math.max(16, Math.ceil(total / 16) * 16);
      this.#staging = device.createBuffer({
        label: this.label,
        size: this.#capacity,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    }
    const staging = this.#staging!;
    const enc = encoder ?? device.createCommandEncoder({ label: `${this.label} copy` });
    let offset = 0;
    for (const t of tensors) {
      if (t.bytes > 0) enc.copyBufferToBuffer(t.buffer, t.offset, staging, offset, t.bytes);
      offset += t.bytes;
    }
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, Math.max(16, Math.ceil(total / 16) * 16));
    const all = new Float32Array(
      staging.getMappedRange(0, Math.max(16, Math.ceil(total / 16) * 16)),
    );
    const out: Float32Array[] = [];
    offset = 0;
    for (const t of tensors) {
      out.push(all.slice(offset, offset + t.size));
      offset += t.size;
    }
    staging.unmap();
    this.gpu.check();
    return out;
  }

  /** Frees the staging buffer. */
  destroy(): void {
    this.#staging?.destroy();
    this.#staging = null;
    this.#capacity = 0;
  }
}

/** One-off read of a single tensor (tests and tools; use a {@link Readback} in loops). */
export async function read(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  const rb = new Readback(gpu, `read ${t.label}`);
  try {
    return (await rb.read([t]))[0];
  } finally {
    rb.destroy();
  }
}
