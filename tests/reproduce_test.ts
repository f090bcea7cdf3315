import assert from "node:assert/strict";
import { compareClaim, signClaim, spread, VERDICT_Z } from "../report/reproduce.ts";
import { reproducePlan, reproduceReport, type RunAnalysis } from "../report/reproduce.ts";
import { runEnv } from "../run/reproduce.ts";
import type { EigRow } from "../run/eig_table.ts";
import { main } from "../cli.ts";

Deno.test("spread: mean, sample sd and standard error; no spread from one value", () => {
  const s = spread([1, 2, 3]);
  assert.equal(s.mean, 2);
  assert.equal(s.sd, 1);
  assert.ok(Math.abs(s.se - 1 / Math.sqrt(3)) < 1e-12);
  assert.ok(Number.isNaN(spread([4]).sd));
});

Deno.test("verdicts: holds, does not and not established from the spread across seeds", () => {
  // clearly apart, in the claimed direction
  assert.equal(compareClaim([1.10, 1.12, 1.11], [0.90, 0.91, 0.92], 1).verdict, "holds");
  // clearly apart, against it
  assert.equal(compareClaim([1.10, 1.12, 1.11], [0.90, 0.91, 0.92], -1).verdict, "does not");
  // overlapping seeds: the difference is within two standard errors
  assert.equal(compareClaim([1.0, 1.3, 0.8], [0.9, 1.2, 1.0], 1).verdict, "not established");
  // one seed a side: no spread, no verdict
  assert.equal(compareClaim([2], [1], 1).verdict, "not established");
  // the threshold is the combined standard error: a difference of just under / over Z·se
  const a = [1, 2, 3], se = Math.hypot(spread(a).se, spread(a).se); // both sides spread alike
  const shift = (d: number) => a.map((x) => x + d);
  assert.equal(compareClaim(shift(VERDICT_Z * se * 0.99), a, 1).verdict, "not established");
  assert.equal(compareClaim(shift(VERDICT_Z * se * 1.01), a, 1).verdict, "holds");
  // one-sample claims (a drop that should be positive)
  assert.equal(signClaim([0.01, 0.012, 0.011], 1).verdict, "holds");
  assert.equal(signClaim([-0.01, -0.012, -0.011], 1).verdict, "does not");
  assert.equal(signClaim([0.01, -0.012, 0.004], 1).verdict, "not established");
});

Deno.test("reproduce plan: 4 rewards × 3 seeds; quick is mnist-10k without cluttered", () => {
  const quick = reproducePlan(true), full = reproducePlan(false);
  assert.equal(quick.runs.length, 12);
  assert.equal(full.runs.length, 24);
  assert.ok(quick.runs.every((r) => r.train.includes("mnist-10k")));
  assert.deepEqual([...new Set(full.runs.map((r) => r.data))], ["mnist", "cluttered"]);
  assert.equal(new Set(full.runs.map((r) => r.name)).size, 24);
  assert.match(quick.notes.join(" "), /cluttered MNIST is not run/);
});

function fakeRun(reward: string, seed: number, infoScale: number, mse: number[]): RunAnalysis {
  const T = mse.length;
  const info = Array.from({ length: T }, (_, t) => infoScale * (t + 1) / T);
  const row = (t: number): EigRow => ({
    glimpse: t + 1,
    accuracy: 0.5,
    entropy: 1,
    infoGain: 0,
    infoGainSe: null,
    cumulativeGain: 0,
    klPrev: 0,
    reconMse: null,
    infoBound: info[t],
    infoBoundSe: null,
    confidence: 0.5,
    ece: 0,
  });
  const rows = Array.from({ length: T }, (_, t) => row(t));
  return {
    name: `mnist-${reward}-s${seed}`,
    data: "mnist",
    reward,
    seed,
    beliefs: "class probe",
    table: { samples: 10, classes: 10, priorEntropy: Math.log(10), rows, classProbe: rows },
    info,
    accuracy: rows.map((r) => r.accuracy),
    error: rows.map((r) => 1 - r.accuracy),
    controls: ["fixed", "random", "untrained"].map((name) => ({
      name,
      info: info.map((x) => x / 2),
      accuracy: rows.map(() => 0.3),
    })),
    noise: [{ label: "gaussian 0.2", level: 0.2, error: rows.map(() => 0.6), info }],
    recon: {
      samples: 10,
      glimpses: mse.map((m) => ({ mse: m, bce: 3 * m })),
      meanDigit: { mse: 0.1, bce: 0.3 },
      classMean: { mse: 0.07, bce: 0.2 },
    },
  };
}

Deno.test("reproduce report: verdicts follow the synthetic numbers, and every section is there", () => {
  const plan = reproducePlan(true);
  const runs: RunAnalysis[] = [];
  for (const seed of [1, 2, 3]) {
    const jitter = 0.01 * seed;
    runs.push(fakeRun("classification", seed, 1.0 + jitter, [0.09, 0.07, 0.05]));
    runs.push(fakeRun("entropy", seed, 1.5 + jitter, [0.09, 0.07, 0.06]));
  }
  const r = reproduceReport(plan, runs);
  const claims = (r.json as { claims: Record<string, { verdict: string }> }).claims;
  assert.equal(claims.a.verdict, "holds"); // MSE falls from 0.09 to 0.05–0.06 in every run
  assert.equal(claims.b.verdict, "holds"); // entropy's area is 0.5·(T+1)/(2T) larger
  assert.equal(claims.c.verdict, "not established"); // no cluttered runs
  assert.match(r.markdown, /\(a\) Reconstructions improve/);
  assert.match(r.markdown, /Controls \(mnist, glimpse 3;/);
  assert.match(r.markdown, /Noise stress test/);
  assert.match(r.markdown, /class mean/);
  assert.equal(r.csv.trim().split("\n").length, 1 + runs.length * 3);
  assert.deepEqual(r.charts.map((c) => c.file), [
    "info-mnist.png",
    "recon-mnist.png",
    "noise-mnist.png",
    "noise-info-mnist.png",
  ]);
  // reversed numbers reverse the verdict
  const reversed = runs.map((a) => ({
    ...a,
    reward: a.reward === "entropy" ? "classification" : "entropy",
  }));
  const r2 = reproduceReport(plan, reversed);
  assert.equal(
    (r2.json as { claims: Record<string, { verdict: string }> }).claims.b.verdict,
    "does not",
  );
});

Deno.test("reproduce --plan lists the runs without training anything", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    assert.equal(await main(["reproduce", "--quick", "--plan", "--out", "/nonexistent/x"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /12 runs into \/nonexistent\/x\/runs/);
  assert.ok(lines.some((l) => /mnist-seed-shifted-s3: train .*seed_shifted_reward\.ts/.test(l)));
  assert.equal(await Deno.stat("/nonexistent/x").catch(() => null), null);
});

Deno.test("reproduce --epochs sets every run's epochs; --epochs and --jobs refuse what is not a count", async () => {
  const plan = reproducePlan(false, 12);
  assert.equal(plan.epochs, 12);
  assert.ok(plan.runs.every((r) => r.train.join(" ").endsWith("--epochs 12")));
  assert.throws(() => reproducePlan(false, 0), /epochs 0/);
  const err = console.error, lines: string[] = [];
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    assert.notEqual(
      await main(["reproduce", "--plan", "--jobs", "0", "--out", "/nonexistent/x"]),
      0,
    );
    assert.notEqual(
      await main(["reproduce", "--plan", "--epochs", "2.5", "--out", "/nonexistent/x"]),
      0,
    );
  } finally {
    console.error = err;
  }
  assert.ok(lines.some((l) => /--jobs "0"/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /--epochs "2.5"/.test(l)), lines.join("\n"));
});

Deno.test("reconstruction quality: the probe's MSE is its own reconstructionError; class means of flat digits are exact", async () => {
  const { tinyRunConfig } = await import("./_explain_fixture.ts");
  const { CpuRam } = await import("../ram/cpu.ts");
  const { CpuVae } = await import("../probe/vae_cpu.ts");
  const { vaeModelConfig } = await import("../probe/vae_config.ts");
  const { reconQuality } = await import("../run/recon_quality.ts");
  const config = tinyRunConfig("classification");
  const ram = new CpuRam(config.model, 2),
    vae = new CpuVae(vaeModelConfig(config.model, config.vae!), 3);
  const N = 20, P = 784;
  // image i is flat at (label + 1) / 12; its clean digit the same
  const split = {
    size: N,
    labels: Int32Array.from({ length: N }, (_, i) => i % 3),
    fill(idx: ArrayLike<number>, _e: number, images: Float32Array, clean?: Float32Array) {
      for (let j = 0; j < idx.length; j++) {
        const v = (split.labels[idx[j]] + 1) / 12;
        images.fill(v, j * P, (j + 1) * P);
        clean?.fill(v, j * P, (j + 1) * P);
      }
    },
  };
  const q = await reconQuality(ram, vae, split, split, { batch: 7 });
  assert.equal(q.samples, N);
  assert.ok(q.classMean.mse < 1e-12, `${q.classMean.mse}`);
  assert.ok(q.meanDigit.mse > 1e-3);
  // the same rollout through the probe's own error
  const images = new Float32Array(N * P), clean = new Float32Array(N * P);
  split.fill(Array.from({ length: N }, (_, i) => i), 0, images, clean);
  const r = await ram.rollout({ size: N, images, labels: split.labels }, {
    stochastic: false,
    start: new Float32Array(2 * N),
  });
  const err = await vae.reconstructionError(r.hidden, clean); // (T, N)
  for (const [t, g] of q.glimpses.entries()) {
    const want = err.subarray(t * N, (t + 1) * N).reduce((s, x) => s + x, 0) / N;
    assert.ok(Math.abs(g.mse - want) < 1e-5, `glimpse ${t + 1}: ${g.mse} vs ${want}`);
    assert.ok(g.bce > 0);
  }
  ram.dispose();
  vae.dispose();
});

Deno.test("reproduce --jobs N > 1 gives each run one cpu lane and one BLAS thread unless set", () => {
  assert.deepEqual(runEnv(1, {}), {});
  assert.deepEqual(runEnv(2, {}), { GLIMPSE_CPU_LANES: "1", OPENBLAS_NUM_THREADS: "1" });
  assert.deepEqual(runEnv(3, { OPENBLAS_NUM_THREADS: "2", HOME: "/x" }), {
    GLIMPSE_CPU_LANES: "1",
    OPENBLAS_NUM_THREADS: "2",
  });
});
