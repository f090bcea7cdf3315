/**
 * Side-by-side EIG tables of several runs on the same split (`compare`): a markdown report
 * with a summary table and each run's full table, and one CSV with a row per run and glimpse.
 *
 * @module
 */
import type { EigRow, EigTable } from "../run/eig_table.ts";
import { EIG_CSV_COLUMNS, eigCsv, eigMarkdown } from "./eig.ts";

/** One run of a comparison. */
export interface ComparedRun {
  /** The chart's and tables' label, e.g. the reward's name. */
  label: string;
  /** The run folder. */
  run: string;
  /** The reward's name. */
  reward: string;
  /** Epoch of the checkpoint. */
  epoch: number;
  table: EigTable;
}

/**
 * Labels runs by their reward names, adding the run folder where two runs share a reward.
 *
 * @example
 * ```ts
 * import { rewardLabels } from "./eig_compare.ts";
 * rewardLabels([{ run: "a", reward: "entropy" }, { run: "b", reward: "entropy" }]);
 * // ["entropy (a)", "entropy (b)"]
 * ```
 */
export function rewardLabels(runs: readonly { run: string; reward: string }[]): string[] {
  const labels = runs.map((r) => {
    const shared = runs.filter((o) => o.reward === r.reward).length > 1;
    return shared ? `${r.reward} (${r.run})` : r.reward;
  });
  // the same folder given twice still needs distinct labels
  return labels.map((l, i) => labels.indexOf(l) === i ? l : `${l} #${i + 1}`);
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * Whose beliefs a comparison reads: the class probe's (calibrated, trained on every glimpse)
 * when every run has one, else every run's RAM head, so that the runs are read alike.
 */
export function beliefsOf(runs: readonly ComparedRun[]): "class probe" | "head" {
  return runs.every((r) => r.table.classProbe) ? "class probe" : "head";
}

/** The rows of `run` that a comparison of `runs` reads (see {@link beliefsOf}). */
export function beliefRows(runs: readonly ComparedRun[], run: ComparedRun): EigRow[] {
  return beliefsOf(runs) === "class probe" ? run.table.classProbe! : run.table.rows;
}

/**
 * The comparison as markdown: a summary (accuracy and cumulative gain after the first and the
 * last glimpse, reconstruction MSE from first to last) and every run's EIG table.
 */
export function compareMarkdown(runs: readonly ComparedRun[], split: string): string {
  if (runs.length === 0) throw new Error("EIG comparison: no runs");
  const out = [
    `# Information gain per glimpse: ${runs.map((r) => r.label).join(" vs ")}`,
    "",
    `On ${split} (${runs[0].table.samples} images), following each policy's mean from the ` +
    "centre. Gains in nats; H_0 = ln C is all there is to learn about the class. Beliefs of " +
    (beliefsOf(runs) === "class probe"
      ? "the class probe (trained on every glimpse's state; the RAM's head in each table below too)."
      : "the RAM's classifier head (not every run has a class probe; `deno task probe` adds one)."),
    "",
    "| reward | run | epoch | accuracy t=1 | accuracy t=T | H_0 − H_1 | H_0 − H_T | recon MSE t=1 → T |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of runs) {
    const rows = beliefRows(runs, r);
    const first = rows[0], last = rows.at(-1)!;
    const r1 = r.table.rows[0], rT = r.table.rows.at(-1)!; // the VAE probe's MSE is on these
    const mse = r1.reconMse === null
      ? "–"
      : `${r1.reconMse.toFixed(5)} → ${rT.reconMse!.toFixed(5)}`;
    out.push(
      `| ${r.label} | ${r.run} | ${r.epoch} | ${pct(first.accuracy)} | ${pct(last.accuracy)} | ` +
        `${first.cumulativeGain.toFixed(4)} | ${last.cumulativeGain.toFixed(4)} | ${mse} |`,
    );
  }
  for (const r of runs) {
    out.push(
      "",
      eigMarkdown(r.table, { title: `${r.label}: ${r.run} (epoch ${r.epoch})` }).trimEnd(),
    );
  }
  return out.join("\n") + "\n";
}

/** CSV: `label,run,reward,` then the columns of {@link EIG_CSV_COLUMNS}, one line per run and glimpse. */
export function compareCsv(runs: readonly ComparedRun[]): string {
  const quote = (s: string) => /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  const lines = [["label", "run", "reward", ...EIG_CSV_COLUMNS].join(",")];
  for (const r of runs) {
    const prefix = [r.label, r.run, r.reward].map(quote).join(",");
    for (const row of eigCsv(r.table).trimEnd().split("\n").slice(1)) {
      lines.push(`${prefix},${row}`);
    }
  }
  return lines.join("\n") + "\n";
}
