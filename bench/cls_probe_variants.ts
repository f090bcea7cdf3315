/**
 * Which class probe (probe/cls_params.ts): each variant trained on the same frozen RAM states of
 * the training split minus a 10% held-out validation slice (stochastic rollouts from uniform
 * first locations, as `probe` trains), scored by NLL on the validation slice's states under the
 * policy mean from the centre (as `eval` reads them). CPU reference probes.
 *
 *   deno run -A bench/cls_probe_variants.ts [MODEL] [EPOCHS]
 *
 * @module
 */
import { loadRun } from "../run/load_run.ts";
import { loadModelData } from "../commands/run_data.ts";
import { datasetOptionsOf } from "../run/run_config.ts";
import { holdOut } from "../datasets/split.ts";
import type { Split } from "../datasets/types.ts";
import { CpuClassProbe } from "../probe/cls_cpu.ts";
import { clsConfigFor, type ClsGlimpse } from "../probe/cls_params.ts";
import { clsScore } from "../probe/cls_api.ts";
import { Rng } from "../util/rng.ts";

const model = Deno.args[0] ?? "checkpoints/mnist-entropy";
const epochs = Number(Deno.args[1] ?? 4);
const run = await loadRun(model, { backend: "cpu" });
const cfg = run.config;
const ds = await loadModelData(
  { spec: cfg.dataset, options: datasetOptionsOf(cfg) },
  cfg.model,
  run.dir,
);
const { train, validation } = holdOut(ds.train, 0.1, 1);
const { height: Hh, width: W, glimpses: T } = cfg.model;
const B = 128;

/** States (T, B, H) and labels of every batch of a split. */
async function states(split: Split, stochastic: boolean, seed: number) {
  const out: { hidden: Float32Array; labels: Int32Array }[] = [];
  for (let first = 0; first < split.size; first += B) {
    const n = Math.min(B, split.size - first);
    const idx = Array.from({ length: n }, (_, j) => first + j);
    const images = new Float32Array(n * Hh * W);
    split.fill(idx, 0, images);
    const labels = Int32Array.from(idx, (i) => split.labels[i]);
    const rng = Rng.derive(seed, first);
    const start = stochastic
      ? rng.fillUniform(new Float32Array(2 * n), -1, 1)
      : new Float32Array(2 * n);
    const policy = rng.fillNormal(new Float32Array((T - 1) * n * 2));
    const r = await run.ram.rollout({ size: n, images, labels }, { stochastic, start, policy });
    out.push({ hidden: r.hidden, labels });
  }
  return out;
}

const t0 = performance.now();
const trainSets = [await states(train, true, 1), await states(train, true, 2)];
const val = await states(validation, false, 3);
console.log(
  `states: ${train.size}×2 train, ${validation.size} validation, ${
    ((performance.now() - t0) / 1000).toFixed(0)
  } s`,
);

const variants: [ClsGlimpse, number][] = [["shared", 0], ["embed", 0], ["separate", 0], [
  "embed",
  64,
]];
for (const [glimpse, hidden] of variants) {
  const probe = new CpuClassProbe(clsConfigFor(cfg.model, { hidden, glimpse, lr: 1e-3 }), 1);
  const t1 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for (const b of trainSets[e % 2]) await probe.trainStep(b.hidden, b.labels);
  }
  let nll = 0, acc = 0, n = 0;
  const perT = new Float64Array(T);
  for (const b of val) {
    const logp = await probe.beliefs(b.hidden);
    const s = clsScore(logp, b.labels, cfg.model.classes);
    nll += s.nll * b.labels.length;
    acc += s.accuracy * b.labels.length;
    n += b.labels.length;
    const R = b.labels.length, C = cfg.model.classes;
    for (let t = 0; t < T; t++) {
      perT[t] += clsScore(logp.subarray(t * R * C, (t + 1) * R * C), b.labels, C).nll * R;
    }
  }
  console.log(
    `${glimpse} hidden ${hidden}: validation NLL ${(nll / n).toFixed(4)} (per glimpse ` +
      `${[...perT].map((v) => (v / n).toFixed(3)).join(", ")}), accuracy ${
        (100 * acc / n).toFixed(2)
      }%, ` +
      `${((performance.now() - t1) / 1000).toFixed(0)} s`,
  );
}
run.close();
