import assert from "node:assert/strict";
import { evaluateEig } from "../run/evaluate_eig.ts";
import { loadRun } from "../run/load_run.ts";
import { Rng } from "../util/rng.ts";
import { eigTable } from "../run/eig_table.ts";
import type { Split } from "../datasets/types.ts";
import { writeTinyRun } from "./_explain_fixture.ts";

/** N random 28×28 images whose clean digit is the image itself. */
function randomSplit(N: number, seed: number): Split {
  const rng = new Rng(seed);
  const data = rng.fillUniform(new Float32Array(N * 784), 0, 1);
  const labels = new Int32Array(N).map(() => rng.int(10));
  return {
    size: N,
    labels,
    fill(indices, _epoch, images, clean) {
      for (let j = 0; j < indices.length; j++) {
        const src = data.subarray(indices[j] * 784, (indices[j] + 1) * 784);
        images.set(src, j * 784);
        clean?.set(src, j * 784);
      }
    },
  };
}

Deno.test("evaluateEig in batches equals the table of one whole rollout, recon MSE included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyRun(dir, "entropy");
    const run = await loadRun(dir, { backend: "cpu" });
    try {
      const N = 7, split = randomSplit(N, 4);
      const images = new Float32Array(N * 784);
      split.fill([...Array(N).keys()], 0, images);
      const rollout = await run.ram.rollout(
        { size: N, images, labels: split.labels },
        { stochastic: false, start: new Float32Array(2 * N) },
      );
      const mse = await run.vae!.reconstructionError(rollout.hidden, images);
      const want = eigTable(4, 10, rollout.logp, split.labels, mse);
      let calls = 0;
      const got = await evaluateEig(run.ram, run.vae, split, {
        batch: 3,
        onBatch: () => calls++,
      });
      assert.equal(calls, 3);
      assert.equal(got.samples, N);
      for (let t = 0; t < 4; t++) {
        const [g, w] = [got.rows[t], want.rows[t]];
        for (const k of ["accuracy", "entropy", "infoGain", "cumulativeGain", "klPrev"] as const) {
          assert.ok(Math.abs(g[k] - w[k]) < 1e-5, `glimpse ${t + 1} ${k}: ${g[k]} vs ${w[k]}`);
        }
        assert.ok(Math.abs(g.reconMse! - w.reconMse!) < 1e-6);
        assert.ok(g.reconMse! > 0);
      }
      // without the probe: no MSE; --limit takes the first images
      const noProbe = await evaluateEig(run.ram, null, split, { limit: 5 });
      assert.equal(noProbe.samples, 5);
      assert.equal(noProbe.rows[0].reconMse, null);
    } finally {
      run.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluateEig limit takes a seeded sample with every class, not the first images", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyRun(dir, "entropy");
    const run = await loadRun(dir, { backend: "cpu" });
    try {
      // 40 images stored class by class, as MNIST's test split is: a prefix of 20 is classes 0–4
      const base = randomSplit(40, 5);
      const seen: number[][] = [];
      const byClass: Split = {
        size: 40,
        labels: Int32Array.from({ length: 40 }, (_, i) => Math.floor(i / 4)),
        fill(indices, epoch, images, clean) {
          seen.push(Array.from(indices));
          base.fill(indices, epoch, images, clean);
        },
      };
      const table = await evaluateEig(run.ram, null, byClass, { limit: 20, batch: 8 });
      assert.equal(table.samples, 20);
      const picked = seen.flat();
      assert.equal(picked.length, 20);
      const classes = picked.map((i) => byClass.labels[i]);
      for (let c = 0; c < 10; c++) {
        assert.equal(classes.filter((l) => l === c).length, 2, `class ${c} keeps its share`);
      }
      assert.notDeepEqual(picked, [...Array(20).keys()], "not the first 20 images");
      seen.length = 0;
      await evaluateEig(run.ram, null, byClass, { limit: 20, batch: 8 });
      assert.deepEqual(seen.flat(), picked, "the same seed gives the same sample");
      seen.length = 0;
      await evaluateEig(run.ram, null, byClass, { limit: 20, batch: 8, seed: 2 });
      assert.notDeepEqual(seen.flat(), picked, "another seed, another sample");
      await assert.rejects(() => evaluateEig(run.ram, null, byClass, { limit: 0 }), /limit 0/);
    } finally {
      run.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
