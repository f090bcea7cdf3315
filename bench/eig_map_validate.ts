/**
 * Does the EIG map (run/eig_map.ts) rank the candidates of the next glimpse like the gain they
 * actually bring? Over N test digits (class by class in turn) and every glimpse t+1 = 2..T,
 * following the policy's mean up to glimpse t: the map from the probe's imagined images against
 * the gain obtained by steering glimpse t+1 to each of the 14×14 candidates on the real pixels
 * (run/eig_map.ts steeredGains): the drop in NLL of the true label, log p_{t+1}(y) − log p_t(y),
 * and the drop in entropy H_t − H_{t+1}. Prints per glimpse the mean Spearman rank correlation of
 * the map (and of the old form H_t − E_s H(p_s), for contrast) with each, the map's value at the
 * policy's choice over its best, and the real NLL drop at the map's best, at the policy's choice,
 * at the best candidate and averaged over all candidates. The belief is the run's class probe
 * when it has one, else the RAM's head (`--head` forces the head). Runs on the CPU reference.
 *
 * deno run -A bench/eig_map_validate.ts [--images N] [--samples S] [--head] [--dataset D] RUN...
 *   (default: the shipped models, N 100, S 16, D mnist: the official test split, which the
 *   shipped models are tested on; it was mnist-10k's before they were trained on the official set)
 *
 * @module
 */
import { loadRun } from "../run/load_run.ts";
import { classProbeBelief, eigMaps, gridCell, steeredGains } from "../run/eig_map.ts";
import { loadDataset } from "../datasets/load.ts";

/** Ranks 1..n with ties given their average rank. */
function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation of a and b (Pearson's on the ranks); 0 when one is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b), n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n, mb = rb.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) ** 2;
    sbb += (rb[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

function flag(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const v = Number(args[at + 1]);
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${name} ${args[at + 1]}: expected ≥ 1`);
  args.splice(at, 2);
  return v;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const images = flag(args, "--images", 100), samples = flag(args, "--samples", 16);
  const at = args.indexOf("--dataset");
  const dataset = at < 0 ? "mnist" : args.splice(at, 2)[1];
  if (!dataset) throw new Error("--dataset: expected a dataset name, e.g. mnist or mnist-10k");
  const headOnly = args.includes("--head");
  if (headOnly) args.splice(args.indexOf("--head"), 1);
  const runs = args.length
    ? args
    : ["checkpoints/mnist-entropy", "checkpoints/mnist-classification"];
  const ds = await loadDataset(dataset);
  const byClass = Array.from(
    { length: 10 },
    (_, c) => [...ds.test.labels.keys()].filter((i) => ds.test.labels[i] === c),
  );
  const picks = Array.from({ length: images }, (_, k) => byClass[k % 10][Math.floor(k / 10)]);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const se = (a: number[]) =>
    Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / (a.length - 1) / a.length);
  const pm = (a: number[], d = 3) => `${mean(a).toFixed(d)} ± ${se(a).toFixed(d)}`;
  for (const dir of runs) {
    const run = await loadRun(dir, { backend: "cpu" });
    const probe = headOnly ? null : run.classProbe;
    const belief = probe ? classProbeBelief(probe) : undefined;
    const t0 = performance.now();
    const T = run.config.model.glimpses;
    const rows = Array.from({ length: T - 1 }, () => ({
      rhoNll: [] as number[],
      rhoH: [] as number[],
      oldNll: [] as number[],
      ratio: [] as number[],
      atBest: [] as number[],
      atPolicy: [] as number[],
      bestReal: [] as number[],
      meanReal: [] as number[],
      mi: [] as number[],
    }));
    const report = (done: number) => {
      const s = ((performance.now() - t0) / 1000).toFixed(0);
      console.log(
        `\n${dir}: ${done} test digits, ${samples} imagined images a map, beliefs of the ` +
          `${probe ? "class probe" : "head"}, ${s} s`,
      );
      console.log(
        "| glimpse | ρ(map, NLL drop) | ρ(map, H drop) | ρ(old form, NLL drop) | map at policy / best " +
          "| mean map (nats) | NLL drop at map's best | at policy | best candidate | mean candidate |",
      );
      console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
      for (const [n, r] of rows.entries()) {
        console.log(
          `| ${n + 2} | ${pm(r.rhoNll)} | ${pm(r.rhoH)} | ${pm(r.oldNll)} | ${pm(r.ratio)} | ` +
            `${mean(r.mi).toFixed(5)} | ${pm(r.atBest)} | ${pm(r.atPolicy)} | ${
              pm(r.bestReal)
            } | ` +
            `${pm(r.meanReal)} |`,
        );
      }
    };
    const x = new Float32Array(784);
    for (const [done, i] of picks.entries()) {
      if (done > 0 && done % 20 === 0) report(done); // partial tables: a long run can be cut
      ds.test.fill([i], 0, x);
      const maps = await eigMaps(run.ram, run.vae!, x, { samples, belief });
      const real = await steeredGains(run.ram, x, ds.test.labels[i], { belief });
      for (const [n, m] of maps.entries()) {
        const row = rows[n], g = real[n], G = m.grid;
        const old = m.expectedEntropy.map((e) => m.entropy - e);
        row.rhoNll.push(spearman(m.eig, g.nllDrop));
        row.rhoH.push(spearman(m.eig, g.entropyDrop));
        row.oldNll.push(spearman(old, g.nllDrop));
        row.ratio.push(m.bestEig > 0 ? m.chosenEig / m.bestEig : 1);
        const best = m.eig.indexOf(m.bestEig);
        const policy = gridCell(m.chosen[1], G) * G + gridCell(m.chosen[0], G);
        row.atBest.push(g.nllDrop[best]);
        row.atPolicy.push(g.nllDrop[policy]);
        row.bestReal.push(Math.max(...g.nllDrop));
        row.meanReal.push(mean([...g.nllDrop]));
        row.mi.push(mean([...m.eig]));
      }
    }
    report(images);
    run.close();
  }
}
