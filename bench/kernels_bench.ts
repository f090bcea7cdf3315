/**
 * The RAM's non-matmul kernels at the default model's sizes (batch 128, hidden 256, 10
 * classes, 28×28 images through an 8×8 retina), GPU beside the CPU reference (the baseline).
 * Each GPU iteration records REPS dispatches (of each kernel in the group) into one pass,
 * submits once and waits for the queue, so the ~10 ms wait floor is amortised; time per
 * dispatch = time per iteration / REPS. Bytes moved per dispatch are in each group's name:
 * GB/s = bytes · REPS / (time per iteration).
 */
import { requestGpu } from "../gpu/device.ts";
import { type Dispatch, run } from "../gpu/kernel.ts";
import { tensor } from "../gpu/tensor.ts";
import { DEFAULT_RAM as cfg } from "../ram/config.ts";
import {
  activationKernels,
  bindActivation,
  bindActivationBackward,
} from "../kernels/activation.ts";
import { activationBackwardRef, activationRef } from "../kernels/activation_ref.ts";
import {
  bindArgmax,
  bindEntropy,
  bindLogSoftmax,
  bindNllBackward,
  softmaxKernels,
} from "../kernels/softmax.ts";
import { argmaxRef, entropyRef, logSoftmaxRef, nllBackwardRef } from "../kernels/softmax_ref.ts";
import {
  bindBaselineGrad,
  bindGaussianLogProb,
  bindPolicyGrad,
  bindPolicySample,
  policyKernels,
} from "../kernels/policy.ts";
import {
  baselineGradRef,
  gaussianLogProbRef,
  policyGradRef,
  samplePolicyRef,
} from "../kernels/policy_ref.ts";
import { adamKernels, adamState, bindAdam, bindAdamTick } from "../kernels/adam.ts";
import { adamRef } from "../kernels/adam_ref.ts";
import { bindRetina, retinaKernel } from "../kernels/retina.ts";
import { retinaRef, retinaSize } from "../kernels/retina_ref.ts";
import { randomArray } from "../tests/_assert.ts";

const REPS = 32;
const B = 128, H = cfg.hidden, C = cfg.classes, STEPS = cfg.glimpses - 1;
const gpu = await requestGpu();
const repeat = (make: () => Dispatch | Dispatch[]) => Array.from({ length: REPS }, make).flat();

function group(name: string, dispatches: Dispatch[], cpu: () => void): void {
  Deno.bench({
    name: `gpu ×${REPS} (${gpu.description})`,
    group: name,
    n: 20,
    async fn() {
      run(gpu, dispatches);
      await gpu.sync();
    },
  });
  Deno.bench({
    name: `cpu reference ×${REPS}`,
    group: name,
    baseline: true,
    n: 10,
    fn() {
      for (let i = 0; i < REPS; i++) cpu();
    },
  });
}

// Activations on a (B, hidden) layer: forward reads x, writes out (8 bytes per element);
// backward reads y and dy, writes dx (12 bytes per element).
{
  const n = B * H;
  const k = await activationKernels(gpu);
  const x = randomArray(n, 1, -2, 2), y = new Float32Array(n), dy = randomArray(n, 2);
  const dx = new Float32Array(n);
  activationRef("tanh", x, y);
  const gx = tensor(gpu, [B, H], "x", x), gy = tensor(gpu, [B, H], "y", y);
  const gdy = tensor(gpu, [B, H], "dy", dy), gdx = tensor(gpu, [B, H], "dx");
  group(
    `activation relu forward ${B}×${H} (${(8 * n / 1024).toFixed(0)} KiB each)`,
    repeat(() => bindActivation(gpu, k, "relu", n, gx, gy)),
    () => activationRef("relu", x, y),
  );
  group(
    `activation tanh backward ${B}×${H} (${(12 * n / 1024).toFixed(0)} KiB each)`,
    repeat(() => bindActivationBackward(gpu, k, "tanh", n, gy, gdy, gdx)),
    () => activationBackwardRef("tanh", y, dy, dx),
  );
}

// Classifier head on (B, C) logits: log-softmax 8BC, entropy 4B(C+1), NLL backward 4B(2C+1),
// argmax 4B(C+1) bytes: 10 + 5.5 + 10.5 + 5.5 = 31.5 KiB per rep at B=128, C=10.
{
  const k = await softmaxKernels(gpu);
  const logits = randomArray(B * C, 3, -5, 5), logp = new Float32Array(B * C);
  const labels = Int32Array.from(randomArray(B, 4, 0, C), Math.floor);
  const Hrow = new Float32Array(B), d = new Float32Array(B * C), pred = new Int32Array(B);
  const gl = tensor(gpu, [B, C], "logits", logits), glp = tensor(gpu, [B, C], "logp");
  const gy = tensor(gpu, [B], "labels", labels), gH = tensor(gpu, [B], "H");
  const gd = tensor(gpu, [B, C], "dlogits"), gp = tensor(gpu, [B], "pred");
  const bytes = 4 * B * (2 * C + (C + 1) + (2 * C + 1) + (C + 1));
  group(
    `softmax head (log-softmax, entropy, NLL backward, argmax) ${B}×${C} ` +
      `(${(bytes / 1024).toFixed(1)} KiB each)`,
    repeat(() => [
      bindLogSoftmax(gpu, k, B, C, gl, glp),
      bindEntropy(gpu, k, B, C, glp, gH),
      bindNllBackward(gpu, k, B, C, glp, gy, gd),
      bindArgmax(gpu, k, B, C, glp, gp),
    ]),
    () => {
      logSoftmaxRef(B, C, logits, logp);
      entropyRef(B, C, logp, Hrow);
      nllBackwardRef(B, C, logp, labels, d);
      argmaxRef(B, C, logp, pred);
    },
  );
}

// One action step of the policy: sample 32B, log-prob 20B, gradient through tanh 28B and
// baseline gradient 12B bytes: 92·128 = 11.5 KiB per rep.
{
  const k = await policyKernels(gpu);
  const sigma = cfg.sigma, lambda = 0.01;
  const mu = randomArray(2 * B, 5, -0.9, 0.9), eps = randomArray(STEPS * 2 * B, 6, -2, 2);
  const adv = randomArray(STEPS * B, 7), base = randomArray(B, 8), ret = randomArray(STEPS * B, 9);
  const a = new Float32Array(2 * B), loc = new Float32Array(2 * B), logpi = new Float32Array(B);
  const dmu = new Float32Array(2 * B), dbase = new Float32Array(B);
  const t = {
    mu: tensor(gpu, [B, 2], "mu", mu),
    eps: tensor(gpu, [STEPS, B, 2], "eps", eps),
    a: tensor(gpu, [B, 2], "a"),
    loc: tensor(gpu, [B, 2], "loc"),
    logpi: tensor(gpu, [STEPS, B], "logpi"),
    adv: tensor(gpu, [STEPS, B], "adv", adv),
    dpre: tensor(gpu, [B, 2], "dpre"),
    base: tensor(gpu, [B], "base", base),
    ret: tensor(gpu, [STEPS, B], "ret", ret),
    dbase: tensor(gpu, [B], "dbase"),
  };
  group(
    `policy step (sample, logπ, dμ through tanh, baseline gradient) B=${B} (11.5 KiB each)`,
    repeat(() => [
      bindPolicySample(gpu, k, B, sigma, t.mu, t.eps, t.a, t.loc, { epsOffset: 2 * B }),
      bindGaussianLogProb(gpu, k, B, sigma, t.mu, t.a, t.logpi, { logpiOffset: B }),
      bindPolicyGrad(gpu, k, B, sigma, lambda, t.mu, t.a, t.adv, t.dpre, {
        advOffset: B,
        throughTanh: true,
      }),
      bindBaselineGrad(gpu, k, B, STEPS, t.base, t.ret, t.dbase, { retOffset: B }),
    ]),
    () => {
      samplePolicyRef(B, mu, eps.subarray(2 * B, 4 * B), sigma, a, loc);
      gaussianLogProbRef(B, mu, a, sigma, logpi);
      policyGradRef(B, mu, a, adv.subarray(B, 2 * B), sigma, lambda, dmu);
      activationBackwardRef("tanh", mu, dmu, dmu);
      baselineGradRef(B, STEPS, base, ret.subarray(B, 2 * B), dbase);
    },
  );
}

// Adam over every RAM parameter in one flat buffer: reads param, grad, m, v and writes param,
// m, v, grad (zeroed): 32 bytes per parameter.
{
  const layers: [number, number][] = [
    [retinaSize(cfg), cfg.glimpseHidden], // fc1
    [2, cfg.locationHidden], // fc2
    [cfg.glimpseHidden, cfg.glimpseOut], // fc3
    [cfg.locationHidden, cfg.glimpseOut], // fc4
    [cfg.glimpseOut, cfg.hidden], // i2h
    [cfg.hidden, cfg.hidden], // h2h
    [cfg.hidden, cfg.policyHidden], // loc1
    [cfg.policyHidden, 2], // loc2
    [cfg.hidden, 1], // baseline
    [cfg.hidden, cfg.classes], // classifier
  ];
  const n = layers.reduce((s, [i, o]) => s + i * o + o, 0);
  const k = await adamKernels(gpu);
  const o = { lr: 3e-4 };
  const p = randomArray(n, 10), g = randomArray(n, 11), m = new Float32Array(n);
  const v = new Float32Array(n);
  const gp = tensor(gpu, [n], "params", p), gg = tensor(gpu, [n], "grads", g);
  const gm = tensor(gpu, [n], "m"), gv = tensor(gpu, [n], "v");
  const state = tensor(gpu, [4], "adam state", adamState(0));
  let step = 0;
  group(
    `adam over the RAM's ${n} parameters in one buffer (${(32 * n / 2 ** 20).toFixed(1)} MiB each)`,
    repeat(() => [
      bindAdamTick(gpu, k, state, o),
      bindAdam(gpu, k, gp, gg, gm, gv, state, { ...o, zeroGrad: true }),
    ]),
    () => adamRef(p, g, m, v, ++step, o),
  );
}

// Retina: reads the image pixels the patches cover, writes 4·B·k·g² bytes.
for (const r of [cfg, { height: 60, width: 60, patch: 12, scales: 3, scale: 2 }]) {
  const kernel = await retinaKernel(gpu);
  const per = retinaSize(r);
  const images = randomArray(B * r.height * r.width, 12, 0, 1);
  const loc = randomArray(2 * B, 13), out = new Float32Array(B * per);
  let reads = 0;
  for (let i = 0; i < r.scales; i++) reads += r.patch * r.patch * r.scale ** (2 * i);
  const bytes = 4 * B * (reads + per);
  const gi = tensor(gpu, [B, r.height, r.width], "images", images);
  const gl = tensor(gpu, [B, 2], "loc", loc), go = tensor(gpu, [B, per], "glimpse");
  group(
    `retina ${r.height}×${r.width} g=${r.patch} k=${r.scales} B=${B} ` +
      `(${(bytes / 1024).toFixed(0)} KiB each)`,
    repeat(() => bindRetina(gpu, kernel, r, B, gi, gl, go)),
    () => retinaRef(r, B, images, loc, out),
  );
}
