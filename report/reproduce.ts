/**
 * The numbers of `deno task reproduce` across seeds: means with their spread (sample standard
 * deviation and standard error over seeds), the verdict on each of the seed's claims, and the
 * markdown of the report, and {@link reproduce}, which makes the runs (run/reproduce.ts) and
 * writes DIR/report.md, results.csv, results.json and the PNG charts. The verdicts and the
 * report are pure functions on numbers, tested on synthetic values (tests/reproduce_test.ts).
 *
 * A verdict compares a difference of means with its combined standard error across seeds:
 * `holds` when the difference has the claimed sign and exceeds {@link VERDICT_Z} standard errors,
 * `does not` when it exceeds them with the opposite sign, `not established` otherwise (or with
 * fewer than two seeds on a side, where no spread can be measured).
 *
 * @module
 */

import {
  type PlannedRun,
  REPRODUCE_REWARDS,
  type ReproducePlan,
  reproducePlan,
  type RunAnalysis,
  runEnv,
  runOne,
} from "../run/reproduce.ts";
import { CONTROLS } from "../run/controls.ts";
import { bandChartPng, type BandPoint } from "./chart.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../util/write_atomic.ts";

export type { PlannedRun, ReproducePlan, RunAnalysis };
export { reproducePlan };

/** How many combined standard errors a difference must exceed for a verdict either way. */
export const VERDICT_Z = 2;

/** The three answers a claim can get. */
export type Verdict = "holds" | "does not" | "not established";

/** Mean, sample standard deviation and standard error of the mean of `xs`. */
export interface Spread {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN for n < 2. */
  sd: number;
  /** sd / √n; NaN for n < 2. */
  se: number;
}

/** The {@link Spread} of `xs` (NaN mean for no values). */
export function spread(xs: readonly number[]): Spread {
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  const sd = n >= 2 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  return { n, mean, sd, se: n >= 2 ? sd / Math.sqrt(n) : NaN };
}

/** A verdict with the figure it rests on. */
export interface ClaimTest {
  verdict: Verdict;
  /** The difference of means (or the mean, for a one-sample test), in the claim's direction. */
  difference: number;
  /** Its standard error (combined for two samples). */
  se: number;
  /** Why, in one line. */
  reason: string;
}

function decide(difference: number, se: number, sign: 1 | -1, enough: boolean): ClaimTest {
  const fmt = (x: number) => x.toFixed(4);
  if (!enough || !Number.isFinite(difference)) {
    return {
      verdict: "not established",
      difference,
      se,
      reason: "fewer than two seeds on a side: no spread to judge by",
    };
  }
  const z = se > 0 ? Math.abs(difference) / se : difference === 0 ? 0 : Infinity;
  const along = Math.sign(difference) === sign;
  const verdict: Verdict = z > VERDICT_Z ? (along ? "holds" : "does not") : "not established";
  return {
    verdict,
    difference,
    se,
    reason: `difference ${fmt(difference)} ± ${fmt(se)} (s.e.), ${
      Number.isFinite(z) ? z.toFixed(1) : "∞"
    } s.e. ${along ? "in" : "against"} the claimed direction (${VERDICT_Z} needed)`,
  };
}

/**
 * Claim "mean(a) − mean(b) has sign `sign`", one value per seed on each side: the difference of
 * means against √(se_a² + se_b²).
 *
 * @example
 * ```ts
 * import { compareClaim } from "./reproduce.ts";
 * compareClaim([1.1, 1.2, 1.15], [0.9, 0.95, 0.92], 1).verdict; // "holds"
 * ```
 */
export function compareClaim(a: readonly number[], b: readonly number[], sign: 1 | -1): ClaimTest {
  const sa = spread(a), sb = spread(b);
  return decide(sa.mean - sb.mean, Math.hypot(sa.se, sb.se), sign, sa.n >= 2 && sb.n >= 2);
}

/** Claim "mean(xs) has sign `sign`" (e.g. a per-run drop that should be positive). */
export function signClaim(xs: readonly number[], sign: 1 | -1): ClaimTest {
  const s = spread(xs);
  return decide(s.mean, s.se, sign, s.n >= 2);
}

/** `mean ± sd` of values across seeds, `d` decimals. */
export function pm(xs: readonly number[], d = 3): string {
  const s = spread(xs);
  if (s.n === 0) return "–";
  return s.n >= 2 ? `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)}` : s.mean.toFixed(d);
}

/** A markdown table from a header and rows of cells (first column left-aligned). */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(head),
    line(head.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

/** CSV text from a header and rows (cells quoted when they hold a comma or quote). */
export function csvText(head: readonly string[], rows: readonly (readonly (string | number)[])[]) {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [head, ...rows].map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

export interface ReproduceFlags {
  quick?: boolean;
  out?: string;
  backend?: string;
  /** --plan: print the runs and stop. */
  plan?: boolean;
  /** --epochs: the RAM's epochs per run (default 20; quick 2). */
  epochs?: string;
  /** --jobs: runs trained at the same time, each its own process (default 1). */
  jobs?: string;
}

/** A whole number ≥ 1 from option `name`, or `fallback` when absent. */
function countFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(n) || n < 1) {
    throw new Error(`${name} "${text}": expected a whole number of at least 1`);
  }
  return n;
}

const VERDICT_LINE = (c: ClaimTest) => `**${c.verdict}**: ${c.reason}`;

/** The report's files from the analyses: markdown, CSV, JSON text and the charts' points. */
export function reproduceReport(plan: ReproducePlan, all: readonly RunAnalysis[]): {
  markdown: string;
  csv: string;
  json: unknown;
  charts: { file: string; title: string; xTitle: string; yTitle: string; points: BandPoint[] }[];
} {
  const datasets = [...new Set(all.map((a) => a.data))];
  const rewards = REPRODUCE_REWARDS.map((r) => r.label).filter((r) =>
    all.some((a) => a.reward === r)
  );
  const of = (data: string, reward: string) =>
    all.filter((a) => a.data === data && a.reward === reward);
  const area = (a: RunAnalysis) => a.info.reduce((s, x) => s + x, 0) / a.info.length;
  const T = all[0]?.info.length ?? 0;
  const glimpses = Array.from({ length: T }, (_, t) => t + 1);
  const md: string[] = [
    `# Reproducing the seed's claims${plan.quick ? " (--quick)" : ""}`,
    "",
    `${all.length} runs: ${datasets.join(", ")} × ${rewards.join(", ")} × seeds ` +
    `${
      [...new Set(all.map((a) => a.seed))].join(", ")
    }; RAM ${plan.epochs} epochs, VAE and class ` +
    `probes trained alongside; test images ${
      plan.testLimit ?? "all"
    }. Every figure is mean ± standard deviation across seeds. Information is ln C − NLL_t ` +
    `(a lower bound on I(Y; p_t), nats) of the ${
      all[0]?.beliefs ?? "class probe"
    }'s beliefs; "area" is its mean over glimpses 1..T (more information earlier is a larger area).`,
    ...plan.notes.map((n) => `\nNote: ${n}.`),
    "",
  ];
  const charts: ReturnType<typeof reproduceReport>["charts"] = [];
  const band = (series: string, xs: number[], per: number[][]): BandPoint[] =>
    xs.map((x, i) => {
      const s = spread(per.map((v) => v[i]));
      const d = Number.isFinite(s.sd) ? s.sd : 0;
      return { series, x, mean: s.mean, lo: s.mean - d, hi: s.mean + d };
    });
  for (const data of datasets) {
    md.push(`## ${data}`, "");
    md.push(
      markdownTable(
        ["reward", `test error g${T}`, ...glimpses.map((t) => `info g${t}`), "area"],
        rewards.map((r) => {
          const runs = of(data, r);
          return [
            r,
            pm(runs.map((a) => a.error[T - 1])),
            ...glimpses.map((t) => pm(runs.map((a) => a.info[t - 1]))),
            pm(runs.map(area)),
          ];
        }),
      ),
      "",
    );
    charts.push({
      file: `info-${data}.png`,
      title: `${data}: information per glimpse (± sd over seeds)`,
      xTitle: "glimpse",
      yTitle: "ln C − NLL_t (nats)",
      points: rewards.flatMap((r) => band(r, glimpses, of(data, r).map((a) => a.info))),
    });
    const withRecon = rewards.filter((r) => of(data, r).every((a) => a.recon));
    if (withRecon.length > 0) {
      md.push(`### Reconstruction of the clean digit (${data})`, "");
      const rows: string[][] = [];
      for (const r of withRecon) {
        const runs = of(data, r);
        for (const k of ["mse", "bce"] as const) {
          rows.push([
            `${r} ${k.toUpperCase()}`,
            ...glimpses.map((t) => pm(runs.map((a) => a.recon!.glimpses[t - 1][k]), 4)),
            pm(runs.map((a) => a.recon!.meanDigit[k]), 4),
            pm(runs.map((a) => a.recon!.classMean[k]), 4),
          ]);
        }
      }
      md.push(
        markdownTable(["", ...glimpses.map((t) => `g${t}`), "mean digit", "class mean"], rows),
        "",
      );
      charts.push({
        file: `recon-${data}.png`,
        title: `${data}: reconstruction MSE per glimpse (± sd over seeds)`,
        xTitle: "glimpse",
        yTitle: "MSE per pixel",
        points: withRecon.flatMap((r) =>
          band(r, glimpses, of(data, r).map((a) => a.recon!.glimpses.map((g) => g.mse)))
        ),
      });
    }
    md.push(
      `### Controls (${data}, glimpse ${T}; accuracy and information of the ` +
        `${all[0].beliefs}'s beliefs)`,
      "",
    );
    const names = ["policy", ...CONTROLS];
    const ctl = (a: RunAnalysis, n: string) =>
      n === "policy" ? a : a.controls.find((c) => c.name === n)!;
    md.push(
      markdownTable(
        ["reward", ...names.flatMap((n) => [`${n} acc`, `${n} info`])],
        rewards.map((r) => [
          r,
          ...names.flatMap((n) => [
            pm(of(data, r).map((a) => ctl(a, n).accuracy[T - 1])),
            pm(of(data, r).map((a) => ctl(a, n).info[T - 1])),
          ]),
        ]),
      ),
      "",
    );
    const levels = all.find((a) => a.data === data)?.noise.map((n) => n.label) ?? [];
    if (levels.length > 0) {
      md.push(`### Noise stress test (${data}, glimpse ${T}: error / information)`, "");
      md.push(
        markdownTable(
          ["reward", "none", ...levels],
          rewards.map((r) => {
            const runs = of(data, r);
            return [
              r,
              `${pm(runs.map((a) => a.error[T - 1]))} / ${pm(runs.map((a) => a.info[T - 1]))}`,
              ...levels.map((_, i) =>
                `${pm(runs.map((a) => a.noise[i].error[T - 1]))} / ${
                  pm(runs.map((a) => a.noise[i].info[T - 1]))
                }`
              ),
            ];
          }),
        ),
        "",
      );
      const lv = [0, ...(all.find((a) => a.data === data)?.noise.map((n) => n.level) ?? [])];
      charts.push({
        file: `noise-${data}.png`,
        title: `${data}: test error at glimpse ${T} against Gaussian noise σ (± sd)`,
        xTitle: "noise σ",
        yTitle: "test error",
        points: rewards.flatMap((r) =>
          band(
            r,
            lv,
            of(data, r).map((a) => [a.error[T - 1], ...a.noise.map((n) => n.error[T - 1])]),
          )
        ),
      });
      charts.push({
        file: `noise-info-${data}.png`,
        title: `${data}: information at glimpse ${T} against Gaussian noise σ (± sd)`,
        xTitle: "noise σ",
        yTitle: "ln C − NLL_T (nats)",
        points: rewards.flatMap((r) =>
          band(r, lv, of(data, r).map((a) => [a.info[T - 1], ...a.noise.map((n) => n.info[T - 1])]))
        ),
      });
    }
  }
  // the claims
  const mnist = all.filter((a) => a.data === "mnist");
  const drop = mnist.filter((a) => a.recon).map((a) =>
    a.recon!.glimpses[0].mse - a.recon!.glimpses[T - 1].mse
  );
  const claimA = signClaim(drop, 1);
  const areas = (data: string, r: string) => of(data, r).map(area);
  const claimB = compareClaim(areas("mnist", "entropy"), areas("mnist", "classification"), 1);
  const claimBShift = compareClaim(
    areas("mnist", "seed-shifted"),
    areas("mnist", "classification"),
    1,
  );
  const claimC = datasets.includes("cluttered")
    ? compareClaim(areas("cluttered", "entropy"), areas("cluttered", "classification"), -1)
    : {
      verdict: "not established" as const,
      difference: NaN,
      se: NaN,
      reason: "cluttered MNIST was not run (--quick)",
    };
  md.push(
    "## The seed's claims",
    "",
    "Verdict: **holds** when the difference of means has the claimed sign and exceeds twice " +
      "its standard error across seeds, **does not** when it exceeds it with the other sign, " +
      "**not established** otherwise.",
    "",
    `(a) Reconstructions improve as glimpses accumulate. Figure: recon-mnist.png; MSE at glimpse ` +
      `1 minus MSE at glimpse ${T}, over all ${drop.length} MNIST runs: ${pm(drop, 4)}. ` +
      VERDICT_LINE(claimA) +
      `. Beside the baselines: MSE at glimpse ${T} ${
        pm(mnist.filter((a) => a.recon).map((a) => a.recon!.glimpses[T - 1].mse), 4)
      }, mean digit ${pm(mnist.filter((a) => a.recon).map((a) => a.recon!.meanDigit.mse), 4)}, ` +
      `class mean ${pm(mnist.filter((a) => a.recon).map((a) => a.recon!.classMean.mse), 4)} ` +
      "(a probe below the class mean knows more than the label).",
    "",
    `(b) The reshaped reward gains information faster than classification on MNIST. Figure: ` +
      `info-mnist.png; area, entropy minus classification: ${VERDICT_LINE(claimB)}. The seed's ` +
      `own shifted variant minus classification: ${VERDICT_LINE(claimBShift)}.`,
    "",
    `(c) On cluttered MNIST the reshaped reward gains information more slowly than ` +
      `classification. Figure: info-cluttered.png; area, entropy minus classification: ` +
      VERDICT_LINE(claimC),
    "",
  );
  const head = [
    "data",
    "reward",
    "seed",
    "beliefs",
    "glimpse",
    "accuracy",
    "info",
    "head_accuracy",
    "head_info",
    "recon_mse",
    "recon_bce",
  ];
  const csvRows = all.flatMap((a) =>
    glimpses.map((t) => [
      a.data,
      a.reward,
      a.seed,
      a.beliefs,
      t,
      a.accuracy[t - 1],
      a.info[t - 1],
      a.table.rows[t - 1].accuracy,
      a.table.rows[t - 1].infoBound,
      a.recon?.glimpses[t - 1].mse ?? "",
      a.recon?.glimpses[t - 1].bce ?? "",
    ])
  );
  return {
    markdown: md.join("\n"),
    csv: csvText(head, csvRows),
    json: {
      plan,
      claims: { a: claimA, b: claimB, b_seed_shifted: claimBShift, c: claimC },
      runs: all,
    },
    charts,
  };
}

/**
 * Runs `glimpse reproduce`: every run of the plan (skipping complete ones), then the report;
 * returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { reproduce } from "./reproduce.ts";
 * await reproduce({ quick: true }, { backend: () => Promise.resolve("cpu"), say: console.log });
 * ```
 */
export async function reproduce(
  flags: ReproduceFlags,
  how: { backend: () => Promise<"cpu" | "webgpu">; say: (line: string) => void },
): Promise<number> {
  const quick = flags.quick ?? false;
  const plan = reproducePlan(quick, countFlag("--epochs", flags.epochs, quick ? 2 : 20));
  const jobs = countFlag("--jobs", flags.jobs, 1);
  const out = (flags.out ?? (plan.quick ? "runs/reproduce-quick" : "runs/reproduce"))
    .replace(/\/+$/, "");
  if (out === "") throw new Error(`--out "": expected a folder`);
  if (flags.plan) {
    console.log(
      `reproduce${plan.quick ? " --quick" : ""}: ${plan.runs.length} runs into ${out}/runs ` +
        `(RAM ${plan.epochs} epochs, probes alongside, noise ${plan.noise})`,
    );
    for (const r of plan.runs) console.log(`  ${r.name}: train ${r.train.join(" ")}`);
    for (const n of plan.notes) console.log(`note: ${n}`);
    return 0;
  }
  const backend = await how.backend();
  const env = runEnv(jobs, Deno.env.toObject());
  const t0 = performance.now();
  // `jobs` workers take the runs in plan order; each run trains in its own process.
  const all: RunAnalysis[] = new Array(plan.runs.length);
  let next = 0;
  const worker = async () => {
    while (next < plan.runs.length) {
      const i = next++, p = plan.runs[i];
      const say = (s: string) => how.say(`[${i + 1}/${plan.runs.length}] ${p.name}: ${s}\n`);
      all[i] = await runOne(out, p, plan, backend, say, env);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, plan.runs.length) }, worker));
  const report = reproduceReport(plan, all);
  for (const c of report.charts) {
    await writeFileAtomic(`${out}/${c.file}`, await bandChartPng(c.points, c));
  }
  const minutes = ((performance.now() - t0) / 60000).toFixed(1);
  await writeTextFileAtomic(
    `${out}/report.md`,
    report.markdown +
      `\n## Charts\n\n${report.charts.map((c) => `![${c.title}](${c.file})`).join("\n\n")}\n` +
      `\nThe ${all.length} runs took ${
        (all.reduce((s, a) => s + (a.seconds ?? NaN), 0) / 60).toFixed(1)
      } min when they were made; this invocation ${minutes} min (runs already complete in ` +
      `${out} are skipped).\n`,
  );
  await writeTextFileAtomic(`${out}/results.csv`, report.csv);
  await writeTextFileAtomic(`${out}/results.json`, JSON.stringify(report.json, null, 1));
  how.say(
    `wrote ${out}/report.md, results.csv, results.json and ${report.charts.length} charts ` +
      `in ${minutes} min\n`,
  );
  return 0;
}
