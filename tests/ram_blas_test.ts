/**
 * The fast cpu backend (ram/blas_cpu.ts, products on the machine's BLAS) against the reference
 * (ram/cpu.ts, composed kernels/*_ref.ts): forward, every gradient, Adam updates over
 * several steps, and evaluation rollouts, for rnn and lstm cores, at a tiny config and at the
 * default one. Skipped, saying so, where no BLAS library opens (CI installs
 * libopenblas0-pthread so they run there).
 */
import assert from "node:assert/strict";
import { CpuRam } from "../ram/cpu.ts";
import { type RamConfig, resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { BlasRam } from "../ram/blas_cpu.ts";
import { blasKind, loadBlas } from "../util/blas.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { classificationReward, randomBatch, randomNoise, tinyConfig } from "./_ram_fixture.ts";

const blas = loadBlas();
const ignore = blas === null;
if (ignore) {
  console.log(
    "ram_blas_test: skipped, no BLAS library opens (apt-get install libopenblas0-pthread)",
  );
}

function compareGrads(cfg: RamConfig, B: number, tol: { atol: number; rtol: number }): void {
  const ref = new CpuRam(cfg, 7), fast = new BlasRam(cfg, 7, blas!);
  const batch = randomBatch(cfg, B, 11), noise = randomNoise(cfg, B, 12);
  const rewards = randomArray(cfg.glimpses * B, 13, -1, 2);
  const a = ref.lossAndGrads(batch, rewards, noise, { lambda: 1 });
  const b = fast.lossAndGrads(batch, rewards, noise, { lambda: 1 });
  for (const k of ["nll", "baseline", "reinforce", "loss", "accuracy"] as const) {
    assertClose([b[k]], [a[k]], { atol: 1e-5, rtol: 1e-4, label: `${cfg.core} ${k}` });
  }
  assertClose(b.actions, a.actions, { atol: 1e-5, rtol: 1e-4, label: `${cfg.core} actions` });
  assertClose(b.baselines, a.baselines, { ...tol, label: `${cfg.core} baselines` });
  assertClose(b.dmu, a.dmu, { ...tol, label: `${cfg.core} dμ` });
  assert.deepEqual([...b.grads.keys()].sort(), [...a.grads.keys()].sort());
  for (const [name, t] of a.grads) {
    const g = b.grads.get(name)!;
    assert.deepEqual(g.shape, t.shape, name);
    assert.ok(t.data.some((v) => v !== 0), `${cfg.core} ${name}: reference gradient is all zero`);
    assertClose(g.data, t.data, { ...tol, label: `${cfg.core} grad ${name}` });
  }
}

for (const core of ["rnn", "lstm"] as const) {
  Deno.test({
    name: `blas cpu (${core}) loss parts and every gradient match the reference (tiny config)`,
    ignore,
    fn: () => compareGrads(tinyConfig({ core }), 5, { atol: 1e-5, rtol: 1e-3 }),
  });

  Deno.test({
    name: `blas cpu (${core}) gradients match the reference at the default sizes, batch 32`,
    ignore,
    fn: () => compareGrads(resolveRamConfig({ core, glimpses: 4 }), 32, { atol: 2e-5, rtol: 2e-3 }),
  });

  Deno.test({
    name:
      `blas cpu (${core}) takes the reference's training steps and states, then rolls out alike`,
    ignore,
    fn: async () => {
      const cfg = tinyConfig({ core, glimpses: 4 });
      const ref = new CpuRam(cfg, 3), fast = new BlasRam(cfg, 3, blas!);
      const train = resolveTrainConfig({ lr: 1e-2 });
      for (let k = 0; k < 4; k++) {
        // A smaller last batch reuses the workspace's prefix.
        const B = k === 3 ? 3 : 6;
        const batch = randomBatch(cfg, B, 40 + k), noise = randomNoise(cfg, B, 50 + k);
        const a = await ref.trainStep(batch, classificationReward, noise, train);
        const b = await fast.trainStep(batch, classificationReward, noise, train);
        assertClose([b.loss, b.accuracy, b.reward], [a.loss, a.accuracy, a.reward], {
          atol: 1e-5,
          rtol: 1e-4,
          label: `${core} step ${k}`,
        });
      }
      const [sa, sb] = [await ref.getState(), await fast.getState()];
      assert.equal(sb.step, sa.step);
      for (const key of ["params", "adamM", "adamV"] as const) {
        for (const [name, t] of sa[key]) {
          assertClose(sb[key].get(name)!.data, t.data, {
            atol: 1e-5,
            rtol: 1e-3,
            label: `${core} ${key} ${name}`,
          });
        }
      }
      // Evaluation: the mean policy from the centre, and a stochastic rollout.
      const batch = randomBatch(cfg, 7, 99), noise = randomNoise(cfg, 7, 98);
      for (const options of [{ stochastic: false }, { stochastic: true, ...noise }]) {
        const ra = await ref.rollout(batch, options), rb = await fast.rollout(batch, options);
        const tol = { atol: 1e-5, rtol: 1e-3 };
        assertClose(rb.logp, ra.logp, { ...tol, label: `${core} rollout logp` });
        assertClose(rb.hidden, ra.hidden, { ...tol, label: `${core} rollout hidden` });
        assertClose(rb.locations, ra.locations, { ...tol, label: `${core} rollout locations` });
        assert.deepEqual(rb.predictions, ra.predictions);
      }
    },
  });
}

Deno.test({
  name: "blas cpu states load into the reference and back unchanged (checkpoints interchange)",
  ignore,
  fn: async () => {
    const cfg = tinyConfig({ core: "lstm" });
    const fast = new BlasRam(cfg, 1, blas!), ref = new CpuRam(cfg, 2);
    const batch = randomBatch(cfg, 4, 1), noise = randomNoise(cfg, 4, 2);
    await fast.trainStep(batch, classificationReward, noise, resolveTrainConfig());
    const s = await fast.getState();
    ref.setState(s);
    const back = new BlasRam(cfg, 9, blas!);
    back.setState(await ref.getState());
    const s2 = await back.getState();
    assert.equal(s2.step, 1);
    for (const [name, t] of s.params) assert.deepEqual(s2.params.get(name)!.data, t.data, name);
    for (const [name, t] of s.adamV) assert.deepEqual(s2.adamV.get(name)!.data, t.data, name);
  },
});

Deno.test({
  name: "blas sgemm honours views, transposes and β against a plain loop",
  ignore,
  fn: () => {
    const M = 5, N = 4, K = 3;
    const buf = randomArray(1 + M * K + K * N + M * N, 5, -1, 1);
    const A = buf.subarray(1, 1 + M * K); // (M, K), odd offset
    const Bt = randomArray(N * K, 6, -1, 1); // (N, K): used transposed
    const C = randomArray(M * N, 7, -1, 1), want = new Float32Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[i * K + k] * Bt[j * K + k];
        want[i * N + j] = 2 * s + 0.5 * C[i * N + j];
      }
    }
    blas!.sgemm(false, true, M, N, K, 2, A, K, Bt, K, 0.5, C, N);
    assertClose(C, want, { atol: 1e-5, rtol: 1e-5, label: "sgemm" });
  },
});

Deno.test("BLAS kinds: OpenBLAS, MKL and the netlib reference are told apart by path", () => {
  assert.equal(blasKind("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), "openblas");
  assert.equal(blasKind("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"), "reference");
  assert.equal(blasKind("/opt/intel/lib/libmkl_rt.so"), "mkl");
  assert.equal(loadBlas(["/nonexistent/libnothing.so"]), null);
});
