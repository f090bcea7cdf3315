/**
 * LSTM cell, VAE probe and metric reductions at the default sizes: batch 128, hidden 256,
 * latent 16, 784 pixels. Every group puts the GPU beside its CPU reference (the baseline).
 *
 * These kernels are memory-bound: each group name gives the bytes one call moves, so
 * GB/s = bytes · REPS / (time per iteration). A GPU iteration records REPS dispatches into
 * one pass, submits once and waits for the queue, so the ~10 ms wait floor of Deno's
 * onSubmittedWorkDone is amortised; with tiny kernels that floor still dominates.
 */
import { requestGpu } from "../gpu/device.ts";
import { type Dispatch, run } from "../gpu/kernel.ts";
import { tensor } from "../gpu/tensor.ts";
import { bindLstmCell, bindLstmCellBackward, lstmKernels } from "../kernels/lstm.ts";
import { lstmCellBackwardRef, lstmCellRef } from "../kernels/lstm_ref.ts";
import {
  bindBce,
  bindLatentBackward,
  bindLatentForward,
  bindSigmoid,
  vaeKernels,
} from "../kernels/vae.ts";
import { bceRef, latentBackwardRef, latentForwardRef, sigmoidRef } from "../kernels/vae_ref.ts";
import { bindRowSqErr, bindRowSum, bindSum, reduceKernels } from "../kernels/reduce.ts";
import { rowSqErrRef, rowSumRef, sumRef } from "../kernels/reduce_ref.ts";
import { randomArray } from "../tests/_assert.ts";

const B = 128, H = 256, L = 16, P = 784;
const REPS = 32;
const MB = (floats: number) => `${(floats * 4 / 1e6).toFixed(2)} MB`;

const gpu = await requestGpu();
const lk = await lstmKernels(gpu);
// Row reductions come in two strategies (kernels/_grid.ts); both are timed so the default
// per adapter can be checked.
const vkWg = await vaeKernels(gpu, "workgroup"), vkInv = await vaeKernels(gpu, "invocation");
const rkWg = await reduceKernels(gpu, "workgroup"), rkInv = await reduceKernels(gpu, "invocation");
const vk = vkInv, rk = rkInv;
const both = (f: (wg: boolean) => Dispatch): [string, Dispatch][] => [
  [" workgroup/row", f(true)],
  [" invocation/row", f(false)],
];

/** Registers one group: REPS GPU dispatches per iteration beside REPS CPU reference calls. */
function group(name: string, floats: number, d: Dispatch | [string, Dispatch][], cpu: () => void) {
  const g = `${name} (${MB(floats)} per call)`;
  const variants = Array.isArray(d) ? d : [["", d] as [string, Dispatch]];
  for (const [variant, dispatch] of variants) {
    const many = Array.from({ length: REPS }, () => dispatch);
    Deno.bench({
      name: `gpu${variant} ×${REPS} (${gpu.description})`,
      group: g,
      n: 20,
      async fn() {
        run(gpu, many);
        await gpu.sync();
      },
    });
  }
  Deno.bench({
    name: `cpu reference ×${REPS}`,
    group: g,
    baseline: true,
    n: 5,
    fn() {
      for (let i = 0; i < REPS; i++) cpu();
    },
  });
}

// LSTM cell, B×H = 128×256.
{
  const s = { batch: B, hidden: H }, n = B * H;
  const z = randomArray(4 * n, 1, -3, 3), c = randomArray(n, 2), dh = randomArray(n, 3);
  const gates = new Float32Array(4 * n), c1 = new Float32Array(n), h1 = new Float32Array(n);
  const dz = new Float32Array(4 * n), dc = randomArray(n, 4);
  lstmCellRef(s, z, c, gates, c1, h1);
  const gz = tensor(gpu, [B, 4 * H], "z", z), gc = tensor(gpu, [B, H], "c", c);
  const gg = tensor(gpu, [B, 4 * H], "gates", gates), gc1 = tensor(gpu, [B, H], "c1", c1);
  const gh1 = tensor(gpu, [B, H], "h1"), gdh = tensor(gpu, [B, H], "dh", dh);
  const gdc = tensor(gpu, [B, H], "dc", dc), gdz = tensor(gpu, [B, 4 * H], "dz");
  // Reads z (4BH) and c (BH); writes gates (4BH), c' and h' (BH each).
  group(
    "lstm cell forward 128×256",
    11 * n,
    bindLstmCell(gpu, lk, s, gz, gc, gg, gc1, gh1),
    () => lstmCellRef(s, z, c, gates, c1, h1),
  );
  // Reads gates (4BH), c, c', dh, dc (BH each); writes dz (4BH) and dc (BH).
  group(
    "lstm cell backward 128×256",
    13 * n,
    bindLstmCellBackward(gpu, lk, s, gg, gc, gc1, gdh, gdc, gdz),
    () => lstmCellBackwardRef(s, gates, c, c1, dh, dc, dz, dc),
  );
}

// VAE probe, 128 rows, latent 16, 784 pixels.
{
  const s = { batch: B, latent: L };
  const stats = randomArray(2 * B * L, 11, -2, 2), eps = randomArray(B * L, 12, -2, 2);
  const dzv = randomArray(B * L, 13), z = new Float32Array(B * L), kl = new Float32Array(B);
  const dstats = new Float32Array(2 * B * L);
  const gStats = tensor(gpu, [B, 2 * L], "stats", stats), gEps = tensor(gpu, [B, L], "eps", eps);
  const gz = tensor(gpu, [B, L], "z"), gkl = tensor(gpu, [B], "kl");
  const gdz = tensor(gpu, [B, L], "dz", dzv), gd = tensor(gpu, [B, 2 * L], "dstats");
  // Reads stats (2BL) and ε (BL); writes z (BL) and kl (B).
  group(
    "vae latent forward (reparam + KL) 128×16",
    4 * B * L + B,
    bindLatentForward(gpu, vk, s, gStats, gEps, gz, gkl),
    () => latentForwardRef(s, stats, eps, z, kl),
  );
  // Reads stats (2BL), ε, dz (BL each); writes dstats (2BL).
  group(
    "vae latent backward 128×16",
    6 * B * L,
    bindLatentBackward(gpu, vk, s, gStats, gEps, gdz, gd),
    () => latentBackwardRef(s, stats, eps, dzv, 1 / B, dstats),
  );

  const bs = { rows: B, pixels: P };
  const logits = randomArray(B * P, 14, -8, 8), target = randomArray(B * P, 15, 0, 1);
  const loss = new Float32Array(B), dl = new Float32Array(B * P), recon = new Float32Array(B * P);
  const gl = tensor(gpu, [B, P], "logits", logits), gt = tensor(gpu, [B, P], "target", target);
  const gLoss = tensor(gpu, [B], "bce"), gdl = tensor(gpu, [B, P], "dlogits");
  const gRecon = tensor(gpu, [B, P], "recon");
  // Reads logits and targets (BP each); writes dlogits (BP) and the loss (B).
  group(
    "vae bce loss + gradient 128×784",
    3 * B * P + B,
    both((wg) => bindBce(gpu, wg ? vkWg : vkInv, bs, gl, gt, gLoss, gdl)),
    () => bceRef(bs, logits, target, loss, dl, 1 / B),
  );
  // Reads logits (BP); writes reconstructions (BP).
  group(
    "vae sigmoid 128×784",
    2 * B * P,
    bindSigmoid(gpu, vk, B * P, gl, gRecon),
    () => sigmoidRef(logits, recon),
  );

  // Metrics on the same matrices.
  const rows = new Float32Array(B), one = new Float32Array(1);
  const gRows = tensor(gpu, [B], "rows"), gOne = tensor(gpu, [1], "one");
  // Reads BP, writes B.
  group(
    "row mean 128×784",
    B * P + B,
    both((wg) => bindRowSum(gpu, wg ? rkWg : rkInv, B, P, gl, gRows, { scale: 1 / P })),
    () => rowSumRef(B, P, logits, rows, { scale: 1 / P }),
  );
  // Reads 2BP, writes B.
  group(
    "row squared error 128×784",
    2 * B * P + B,
    both((wg) => bindRowSqErr(gpu, wg ? rkWg : rkInv, B, P, gl, gt, gRows, { scale: 1 / P })),
    () => rowSqErrRef(B, P, logits, target, rows, { scale: 1 / P }),
  );
  // Reads BP, writes one value.
  group(
    "sum of 100352 values",
    B * P + 1,
    bindSum(gpu, rk, B * P, gl, gOne),
    () => sumRef(B * P, logits, one),
  );
  // The common metric case: the mean of B per-sample values.
  group(
    "mean of 128 values",
    B + 1,
    bindSum(gpu, rk, B, gLoss, gOne, { scale: 1 / B }),
    () => sumRef(B, loss, one, { scale: 1 / B }),
  );
}
