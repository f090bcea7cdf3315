import {
  baselineGradRef,
  gaussianLogProbRef,
  policyGradRef,
  samplePolicyRef,
} from "../kernels/policy_ref.ts";
import { activationBackwardRef } from "../kernels/activation_ref.ts";
import {
  bindBaselineGrad,
  bindGaussianLogProb,
  bindPolicyGrad,
  bindPolicySample,
  policyKernels,
} from "../kernels/policy.ts";
import { run } from "../gpu/kernel.ts";
import { read, tensor } from "../gpu/tensor.ts";
import { assertClose, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const BATCHES = [1, 5, 130];
const SIGMA = 0.05;
const STEPS = 3; // action steps T−1 in the stacked tensors

/** Policy means μ = tanh(·) in (−1, 1), some close enough to ±1 that a = μ + σε is clamped. */
function meansFor(B: number, seed: number): Float32Array {
  const mu = randomArray(2 * B, seed, -0.999, 0.999);
  mu[0] = 0.999;
  if (B > 1) mu[3] = -0.9999;
  return mu;
}

/** Stacked standard-normal-like draws (STEPS, B, 2), with some large ones. */
function noiseFor(B: number, seed: number): Float32Array {
  const eps = randomArray(STEPS * 2 * B, seed, -3, 3);
  eps[2 * B] = 4; // step 1, sample 0: pushes a past +1
  return eps;
}

gpuTest("policy sample matches the CPU reference and clamps the location", async (gpu) => {
  const k = await policyKernels(gpu);
  for (const B of BATCHES) {
    const mu = meansFor(B, B);
    const eps = noiseFor(B, 2 * B);
    const gMu = tensor(gpu, [B, 2], "mu", mu), gEps = tensor(gpu, [STEPS, B, 2], "eps", eps);
    for (let t = 0; t < STEPS; t++) {
      const wantA = new Float32Array(2 * B), wantLoc = new Float32Array(2 * B);
      samplePolicyRef(B, mu, eps.subarray(t * 2 * B, (t + 1) * 2 * B), SIGMA, wantA, wantLoc);
      const a = tensor(gpu, [B, 2], "a"), loc = tensor(gpu, [B, 2], "loc");
      run(gpu, [bindPolicySample(gpu, k, B, SIGMA, gMu, gEps, a, loc, { epsOffset: t * 2 * B })]);
      const tol = { atol: 1e-6, rtol: 1e-6 };
      assertClose(await read(gpu, a), wantA, { ...tol, label: `a B=${B} step ${t}` });
      const gotLoc = await read(gpu, loc);
      assertClose(gotLoc, wantLoc, { ...tol, label: `loc B=${B} step ${t}` });
      if (gotLoc.some((v) => v < -1 || v > 1)) throw new Error(`loc outside [−1, 1]: ${gotLoc}`);
      if (t === 1 && gotLoc[0] !== 1) throw new Error(`a > 1 was not clamped: ${gotLoc[0]}`);
    }
  }
});

gpuTest("Gaussian log-probability matches the CPU reference into a stacked tensor", async (gpu) => {
  const k = await policyKernels(gpu);
  for (const B of BATCHES) {
    for (const sigma of [SIGMA, 0.7]) {
      const mu = meansFor(B, 3 * B), a = randomArray(2 * B, 4 * B, -1.3, 1.3);
      const before = randomArray(STEPS * B, 5);
      const want = before.slice();
      gaussianLogProbRef(B, mu, a, sigma, want.subarray(B, 2 * B));
      const logpi = tensor(gpu, [STEPS, B], "logpi", before);
      run(gpu, [
        bindGaussianLogProb(
          gpu,
          k,
          B,
          sigma,
          tensor(gpu, [B, 2], "mu", mu),
          tensor(gpu, [B, 2], "a", a),
          logpi,
          { logpiOffset: B },
        ),
      ]);
      // Only step 1's row changes; a far from μ gives log-densities near −2000 (σ = 0.05).
      assertClose(await read(gpu, logpi), want, {
        atol: 1e-4,
        rtol: 1e-5,
        label: `logπ B=${B} σ=${sigma}`,
      });
    }
  }
});

gpuTest(
  "policy gradient matches the CPU reference, plain, accumulated and through tanh",
  async (gpu) => {
    const k = await policyKernels(gpu);
    const lambda = 0.01;
    for (const B of BATCHES) {
      const mu = meansFor(B, 6 * B);
      const a = new Float32Array(2 * B), loc = new Float32Array(2 * B);
      samplePolicyRef(B, mu, noiseFor(B, 7 * B).subarray(0, 2 * B), SIGMA, a, loc);
      const adv = randomArray(STEPS * B, 8 * B, -2, 2);
      const d0 = randomArray(2 * B, 9 * B);
      const gMu = tensor(gpu, [B, 2], "mu", mu), gA = tensor(gpu, [B, 2], "a", a);
      const gAdv = tensor(gpu, [STEPS, B], "adv", adv);
      for (const throughTanh of [false, true]) {
        for (const accumulate of [false, true]) {
          const t = 2;
          const want = new Float32Array(2 * B);
          policyGradRef(B, mu, a, adv.subarray(t * B, (t + 1) * B), SIGMA, lambda, want);
          if (throughTanh) activationBackwardRef("tanh", mu, want, want);
          if (accumulate) { for (let i = 0; i < want.length; i++) want[i] += d0[i]; }
          const dmu = tensor(gpu, [B, 2], "dmu", d0);
          run(gpu, [
            bindPolicyGrad(gpu, k, B, SIGMA, lambda, gMu, gA, gAdv, dmu, {
              advOffset: t * B,
              accumulate,
              throughTanh,
            }),
          ]);
          assertClose(await read(gpu, dmu), want, {
            atol: 1e-6,
            rtol: 1e-5,
            label: `dμ B=${B} tanh=${throughTanh} accumulate=${accumulate}`,
          });
        }
      }
    }
  },
);

gpuTest("baseline gradient matches the CPU reference", async (gpu) => {
  const k = await policyKernels(gpu);
  for (const B of BATCHES) {
    const base = randomArray(B, 10 * B, -1, 2);
    const ret = randomArray(STEPS * B, 11 * B, 0, 3);
    const d0 = randomArray(B, 12 * B);
    for (const accumulate of [false, true]) {
      const t = 1;
      const want = new Float32Array(B);
      baselineGradRef(B, STEPS, base, ret.subarray(t * B, (t + 1) * B), want);
      if (accumulate) { for (let i = 0; i < B; i++) want[i] += d0[i]; }
      const dbase = tensor(gpu, [B], "dbase", d0);
      run(gpu, [
        bindBaselineGrad(
          gpu,
          k,
          B,
          STEPS,
          tensor(gpu, [B], "base", base),
          tensor(gpu, [STEPS, B], "ret", ret),
          dbase,
          { retOffset: t * B, accumulate },
        ),
      ]);
      assertClose(await read(gpu, dbase), want, {
        atol: 1e-6,
        rtol: 1e-5,
        label: `dbase B=${B} accumulate=${accumulate}`,
      });
    }
  }
});

gpuTest("sample, log-probability and gradient compose in one pass", async (gpu) => {
  const k = await policyKernels(gpu);
  const B = 5, lambda = 0.5;
  const mu = meansFor(B, 40), eps = noiseFor(B, 41), adv = randomArray(B, 42);
  const a = new Float32Array(2 * B), loc = new Float32Array(2 * B);
  samplePolicyRef(B, mu, eps.subarray(0, 2 * B), SIGMA, a, loc);
  const wantLogpi = new Float32Array(B), wantD = new Float32Array(2 * B);
  gaussianLogProbRef(B, mu, a, SIGMA, wantLogpi);
  policyGradRef(B, mu, a, adv, SIGMA, lambda, wantD);
  activationBackwardRef("tanh", mu, wantD, wantD);
  const gMu = tensor(gpu, [B, 2], "mu", mu), gA = tensor(gpu, [B, 2], "a");
  const gLoc = tensor(gpu, [B, 2], "loc"), logpi = tensor(gpu, [B], "logpi");
  const dpre = tensor(gpu, [B, 2], "dpre");
  run(gpu, [
    bindPolicySample(gpu, k, B, SIGMA, gMu, tensor(gpu, [STEPS, B, 2], "eps", eps), gA, gLoc),
    bindGaussianLogProb(gpu, k, B, SIGMA, gMu, gA, logpi),
    bindPolicyGrad(gpu, k, B, SIGMA, lambda, gMu, gA, tensor(gpu, [B], "adv", adv), dpre, {
      throughTanh: true,
    }),
  ]);
  assertClose(await read(gpu, logpi), wantLogpi, { atol: 1e-4, rtol: 1e-5, label: "logπ" });
  assertClose(await read(gpu, dpre), wantD, { atol: 1e-6, rtol: 1e-4, label: "dpre" });
});

gpuTest("policy binders reject short stacked tensors and aliased outputs", async (gpu) => {
  const k = await policyKernels(gpu);
  const B = 4;
  const mu = tensor(gpu, [B, 2], "mu"), eps = tensor(gpu, [2, B, 2], "eps");
  const a = tensor(gpu, [B, 2], "a"), loc = tensor(gpu, [B, 2], "loc");
  const cases: [string, () => unknown][] = [
    [
      "ε offset past the end",
      () => bindPolicySample(gpu, k, B, SIGMA, mu, eps, a, loc, { epsOffset: 16 }),
    ],
    ["a = loc", () => bindPolicySample(gpu, k, B, SIGMA, mu, eps, a, a)],
    ["dμ = μ", () => bindPolicyGrad(gpu, k, B, SIGMA, 1, mu, a, eps, mu)],
    ["σ = 0", () => bindGaussianLogProb(gpu, k, B, 0, mu, a, eps)],
  ];
  for (const [what, f] of cases) {
    let threw = false;
    try {
      f();
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`expected an error for ${what}`);
  }
});

Deno.test("policyGradRef matches finite differences of −λ·mean(logπ·adv)", () => {
  const B = 4, lambda = 0.3;
  for (const sigma of [SIGMA, 0.5]) {
    const mu = randomArray(2 * B, 51, -0.8, 0.8);
    const a = new Float32Array(2 * B), loc = new Float32Array(2 * B);
    samplePolicyRef(B, mu, randomArray(2 * B, 52, -2, 2), sigma, a, loc);
    const adv = randomArray(B, 53, -1, 1);
    const logpi = new Float32Array(B);
    // a is a constant (the sampled action); only μ moves.
    const loss = () => {
      gaussianLogProbRef(B, mu, a, sigma, logpi);
      let s = 0;
      for (let b = 0; b < B; b++) s -= logpi[b] * adv[b];
      return lambda * s / B;
    };
    const dmu = new Float32Array(2 * B);
    policyGradRef(B, mu, a, adv, sigma, lambda, dmu);
    assertClose(dmu, finiteDiff(mu, loss, 1e-3), {
      atol: 1e-3,
      rtol: 1e-2,
      label: `dμ σ=${sigma}`,
    });
  }
});

Deno.test("baselineGradRef matches finite differences of the baseline MSE", () => {
  const B = 5, steps = 3;
  const base = randomArray(B, 61, -1, 1), ret = randomArray(B, 62, 0, 2);
  const loss = () => {
    let s = 0;
    for (let b = 0; b < B; b++) s += (base[b] - ret[b]) ** 2;
    return s / (B * steps);
  };
  const dbase = new Float32Array(B);
  baselineGradRef(B, steps, base, ret, dbase);
  assertClose(dbase, finiteDiff(base, loss), { atol: 1e-4, rtol: 1e-3, label: "dbase" });
});
