/**
 * How close does each policy look to where the EIG map (run/eig_map.ts) says the next glimpse
 * tells most? For the first N test images of every class in turn, every map of glimpses 2..T:
 * the EIG where the policy's mean looked divided by the best candidate's, and the share of the
 * 14×14 candidates with a lower EIG than the policy's (its percentile). Runs on the CPU
 * reference; prints one line per run.
 *
 * deno run -A bench/eig_map_policy.ts [--images N] RUN...   (default: the shipped models, N 40)
 *
 * @module
 */
import { loadRun } from "../run/load_run.ts";
import { eigMaps } from "../run/eig_map.ts";
import { loadDataset } from "../datasets/load.ts";

const args = [...Deno.args];
let images = 40;
const at = args.indexOf("--images");
if (at >= 0) {
  images = Number(args[at + 1]);
  args.splice(at, 2);
}
const runs = args.length ? args : ["checkpoints/mnist-classification", "checkpoints/mnist-entropy"];
const ds = await loadDataset("mnist-10k");
// class by class in turn: the test split is stored sorted by class
const byClass = Array.from(
  { length: 10 },
  (_, c) => [...ds.test.labels.keys()].filter((i) => ds.test.labels[i] === c),
);
const picks = Array.from({ length: images }, (_, k) => byClass[k % 10][Math.floor(k / 10)]);
for (const dir of runs) {
  const run = await loadRun(dir, { backend: "cpu" });
  const t0 = performance.now();
  let ratio = 0, pct = 0, n = 0, top = 0;
  const x = new Float32Array(784);
  for (const i of picks) {
    ds.test.fill([i], 0, x);
    for (const m of await eigMaps(run.ram, run.vae!, x)) {
      ratio += m.bestEig > 0 ? m.chosenEig / m.bestEig : 1;
      const below = m.eig.filter((v) => v < m.chosenEig).length / m.eig.length;
      pct += below;
      if (below >= 0.9) top++;
      n++;
    }
  }
  run.close();
  console.log(
    `${dir}: ${images} images, ${n} maps: EIG at the policy's location / best ` +
      `${(ratio / n).toFixed(3)}; mean percentile of the policy's location ` +
      `${(100 * pct / n).toFixed(1)}%; in the top 10% in ${(100 * top / n).toFixed(1)}% of maps ` +
      `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
