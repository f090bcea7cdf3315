import assert from "node:assert/strict";
import { compileKernel, Dispatch, packUniforms, run } from "../gpu/kernel.ts";
import { clear, read, Readback, tensor, upload, view, VIEW_ALIGN } from "../gpu/tensor.ts";
import { GpuError } from "../gpu/device.ts";
import { bindLinearForward, linearKernels } from "../kernels/linear.ts";
import { linearForwardRef } from "../kernels/linear_ref.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

gpuTest("a shader error names the kernel", async (gpu) => {
  await assert.rejects(
    compileKernel(gpu, { name: "broken_kernel", code: "fn main( {", storage: [] }),
    (e: Error) => e instanceof GpuError && /kernel broken_kernel/.test(e.message),
  );
  gpu.check();
});

gpuTest("readback returns several tensors from one map", async (gpu) => {
  const a = tensor(gpu, [3], "a", [1, 2, 3]);
  const b = tensor(gpu, [2, 2], "b", [4, 5, 6, 7]);
  const c = tensor(gpu, [1], "c", [8]);
  const rb = new Readback(gpu);
  const [ra, rbb, rc] = await rb.read([a, b, c]);
  assert.deepEqual([...ra], [1, 2, 3]);
  assert.deepEqual([...rbb], [4, 5, 6, 7]);
  assert.deepEqual([...rc], [8]);
  upload(gpu, a, [9, 9, 9]);
  assert.deepEqual([...(await rb.read([a]))[0]], [9, 9, 9]);
  rb.destroy();
});

gpuTest("views bind, upload, clear and read back at their offsets", async (gpu) => {
  const base = tensor(gpu, [3 * VIEW_ALIGN], "flat");
  const W = view(base, 0, [2, 3], "W");
  const x = view(base, VIEW_ALIGN, [1, 3], "x");
  const out = tensor(gpu, [2 * VIEW_ALIGN], "out");
  const y = view(out, VIEW_ALIGN, [1, 2], "y");
  const Wd = randomArray(6, 1), xd = randomArray(3, 2);
  upload(gpu, W, Wd);
  upload(gpu, x, xd);
  const k = await linearKernels(gpu);
  // x and W share a buffer (both read); y is a view into another buffer. A dispatch may not
  // write one buffer through a binding while reading it through another, even at other offsets.
  run(gpu, [bindLinearForward(gpu, k, { batch: 1, inF: 3, outF: 2 }, x, W, null, y)]);
  const want = new Float32Array(2);
  linearForwardRef({ batch: 1, inF: 3, outF: 2 }, xd, Wd, null, want);
  assertClose(await read(gpu, y), want, { label: "y through views" });
  assertClose(await read(gpu, W), Wd, { label: "W view untouched" });
  const enc = gpu.device.createCommandEncoder();
  clear(enc, x);
  gpu.device.queue.submit([enc.finish()]);
  assert.deepEqual([...(await read(gpu, x))], [0, 0, 0]);
  assertClose(await read(gpu, W), Wd, { label: "clearing x leaves W" });
  assert.throws(() => view(base, 3, [2], "bad"), /not aligned/);
  assert.throws(() => view(base, 3 * VIEW_ALIGN, [2], "past"), /exceeds/);
});

gpuTest("a dispatch with the wrong number of buffers is refused", async (gpu) => {
  const k = await linearKernels(gpu);
  assert.throws(
    () => new Dispatch(gpu, k.matmul, [tensor(gpu, [1], "a")], packUniforms({ M: 1 }), [1]),
    new RegExp(`kernel matmul: expected ${k.matmul.storage.length} buffers, got 1`),
  );
});
