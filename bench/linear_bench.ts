/**
 * Linear layer at the default model's size (batch 128, 256 → 256).
 * Forward FLOPs: 2·128·256·256 = 16.8 MFLOP; backward (dx + dW): 33.6 MFLOP.
 * GFLOP/s = FLOPs / (time per iteration). Each GPU iteration records 16 layers into one pass,
 * submits once and waits for the queue, so the ~10 ms wait floor is amortised.
 */
import { requestGpu } from "../gpu/device.ts";
import { tensor } from "../gpu/tensor.ts";
import { run } from "../gpu/kernel.ts";
import { bindLinearBackward, bindLinearForward, linearKernels } from "../kernels/linear.ts";
import { linearBackwardRef, linearForwardRef } from "../kernels/linear_ref.ts";
import { randomArray } from "../tests/_assert.ts";

const s = { batch: 128, inF: 256, outF: 256 };
const REPS = 16;
const gpu = await requestGpu();
const k = await linearKernels(gpu);
const x = randomArray(s.batch * s.inF, 1),
  W = randomArray(s.outF * s.inF, 2),
  b = randomArray(s.outF, 3);
const gx = tensor(gpu, [s.batch, s.inF], "x", x), gW = tensor(gpu, [s.outF, s.inF], "W", W);
const gb = tensor(gpu, [s.outF], "b", b), gy = tensor(gpu, [s.batch, s.outF], "y");
const fwd = Array.from(
  { length: REPS },
  () => bindLinearForward(gpu, k, s, gx, gW, gb, gy, "relu"),
);
const grads = {
  dx: tensor(gpu, [s.batch, s.inF], "dx"),
  dW: tensor(gpu, [s.outF, s.inF], "dW"),
  db: null,
};
const bwd = Array.from({ length: REPS }, () => bindLinearBackward(gpu, k, s, gx, gW, gy, grads))
  .flat();
const y = new Float32Array(s.batch * s.outF),
  dx = new Float32Array(x.length),
  dW = new Float32Array(W.length);

Deno.bench({
  name: `gpu ×${REPS} (${gpu.description})`,
  group: "linear forward 128×256×256 (16.8 MFLOP each)",
  n: 20,
  async fn() {
    run(gpu, fwd);
    await gpu.sync();
  },
});
Deno.bench({
  name: `cpu reference ×${REPS}`,
  group: "linear forward 128×256×256 (16.8 MFLOP each)",
  baseline: true,
  n: 5,
  fn() {
    for (let i = 0; i < REPS; i++) linearForwardRef(s, x, W, b, y, "relu");
  },
});
Deno.bench({
  name: `gpu ×${REPS}`,
  group: "linear backward dx+dW 128×256×256 (33.6 MFLOP each)",
  n: 20,
  async fn() {
    run(gpu, bwd);
    await gpu.sync();
  },
});
Deno.bench({
  name: `cpu reference ×${REPS}`,
  group: "linear backward dx+dW 128×256×256 (33.6 MFLOP each)",
  baseline: true,
  n: 5,
  fn() {
    for (let i = 0; i < REPS; i++) linearBackwardRef(s, x, W, y, dx, dW, null);
  },
});
