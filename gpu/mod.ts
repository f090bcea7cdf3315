/**
 * WebGPU runtime: device acquisition, tensors, batched readback and kernel dispatch.
 *
 * @module
 */
export * from "./device.ts";
export * from "./tensor.ts";
export * from "./kernel.ts";
