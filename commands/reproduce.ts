/**
 * `glimpse reproduce [--quick] [--out DIR]`: the seed's experiments end to end, and one report.
 *
 * For every dataset (MNIST; cluttered 60×60 MNIST in the full run), reward (classification,
 * entropy, early-information, the seed's shifted variant) and seed (1, 2, 3) it trains a RAM with
 * its VAE probe (`train`, run as a subprocess of this Deno so a crash or Ctrl-C leaves a
 * resumable checkpoint), adds a class probe (`probe --no-vae`), then, through the library, the
 * EIG table (class-probe and head beliefs), reconstruction MSE/BCE per glimpse against the clean
 * digit beside the mean-digit and class-mean baselines (run/recon_quality.ts), the controls
 * (fixed, random, untrained) and the noise stress test. Each run lives in DIR/runs/NAME and its
 * numbers in DIR/runs/NAME/analysis.json; a run whose analysis exists is skipped, a half-trained
 * one is resumed. Finally DIR/report.md, results.csv, results.json and the PNG charts, with a
 * verdict on each of the seed's three claims from the spread across seeds (report/reproduce.ts).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadRun } from "../run/load_run.ts";
import { evaluateEig } from "../run/evaluate_eig.ts";
import type { EigRow, EigTable } from "../run/eig_table.ts";
import { controlLocations, CONTROLS, untrainedPolicy } from "../run/controls.ts";
import { type ReconQuality, reconQuality } from "../run/recon_quality.ts";
import { noiseLabel, parseNoise, withNoise } from "../datasets/noise.ts";
import { bandChartPng, type BandPoint } from "../report/chart.ts";
import {
  type ClaimTest,
  compareClaim,
  csvText,
  markdownTable,
  pm,
  signClaim,
  spread,
} from "../report/reproduce.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../util/write_atomic.ts";
import { resolveBackendOption } from "./backend.ts";
import { loadModelData, savedDataWith } from "./run_data.ts";
import { OptionError } from "./options.ts";
import { writeStderr } from "./progress.ts";

/** The options of `reproduce`, as commander hands them over. */
export interface ReproduceFlags {
  quick?: boolean;
  out?: string;
  backend?: string;
  /** --plan: print the runs and stop. */
  plan?: boolean;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** The rewards compared: label and the `--reward` given to train. */
export const REPRODUCE_REWARDS = [
  { label: "classification", spec: "classification" },
  { label: "entropy", spec: "entropy" },
  { label: "early-information", spec: "early-information" },
  { label: "seed-shifted", spec: `${ROOT}/examples/seed_shifted_reward.ts` },
] as const;

/** One training run of the plan. */
export interface PlannedRun {
  /** Folder name under DIR/runs, e.g. "mnist-entropy-s2". */
  name: string;
  /** "mnist" or "cluttered". */
  data: string;
  reward: string;
  seed: number;
  /** Arguments of `train` (without --out, --backend). */
  train: string[];
}

/** The whole plan. */
export interface ReproducePlan {
  quick: boolean;
  runs: PlannedRun[];
  epochs: number;
  /**
   * Epochs of `probe --no-vae` for a run that ends training without a class probe (train trains
   * one alongside the RAM by default, and then this step is skipped).
   */
  probeEpochs: number;
  /** Test images per evaluation (undefined: all). */
  testLimit?: number;
  noise: string;
  /** What the plan leaves out, said in the report. */
  notes: string[];
}

/** The runs of `reproduce` (`quick`: mnist-10k, 2 epochs on 1,000 digits, no cluttered). */
export function reproducePlan(quick: boolean): ReproducePlan {
  const epochs = quick ? 2 : 20;
  const datasets = quick
    ? [{ data: "mnist", args: ["--dataset", "mnist-10k", "--limit", "2000"] }]
    : [
      { data: "mnist", args: ["--dataset", "mnist"] },
      {
        data: "cluttered",
        args: ["--dataset", "mnist", "--variant", "cluttered", "--canvas", "60"],
      },
    ];
  const runs: PlannedRun[] = [];
  for (const d of datasets) {
    for (const r of REPRODUCE_REWARDS) {
      for (const seed of [1, 2, 3]) {
        runs.push({
          name: `${d.data}-${r.label}-s${seed}`,
          data: d.data,
          reward: r.label,
          seed,
          train: [...d.args, "--reward", r.spec, "--seed", String(seed), "--epochs", `${epochs}`],
        });
      }
    }
  }
  return {
    quick,
    runs,
    epochs,
    probeEpochs: quick ? 3 : 5,
    testLimit: quick ? 500 : undefined,
    noise: quick ? "gaussian:0.2,0.4" : "gaussian:0.1,0.2,0.4",
    notes: quick
      ? [
        "--quick: mnist-10k, RAM trained 2 epochs on 2,000 digits, class probe alongside, 500 test " +
        "digits; cluttered MNIST is not run, so claim (c) is not established here",
      ]
      : [],
  };
}

/** One run's numbers (DIR/runs/NAME/analysis.json). */
export interface RunAnalysis {
  name: string;
  data: string;
  reward: string;
  seed: number;
  /** "class probe" when the run has one, else "head": whose beliefs `info` reads. */
  beliefs: string;
  /** The policy's EIG table (head rows and class-probe rows). */
  table: EigTable;
  /** ln C − NLL_t per glimpse, of `beliefs`. */
  info: number[];
  /** Accuracy per glimpse, of `beliefs`. */
  accuracy: number[];
  /** The RAM's own test error per glimpse (its head's argmax). */
  error: number[];
  controls: { name: string; info: number[]; accuracy: number[] }[];
  /** Per noise level: the RAM's error and the information of `beliefs`, per glimpse. */
  noise: { label: string; level: number; error: number[]; info: number[] }[];
  recon: ReconQuality | null;
  /** Seconds this run took (training, probe, analysis) when it was made. */
  seconds?: number;
}

async function exists(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null)) !== null;
}

async function lastEpoch(dir: string): Promise<number> {
  const text = await Deno.readTextFile(`${dir}/metrics.jsonl`).catch(() => "");
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return 0;
  return Number(JSON.parse(lines.at(-1)!).epoch) || 0;
}

/** Runs `glimpse ARGS` as a subprocess of this Deno; its output goes to `log`. */
async function cli(args: string[], log: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", `${ROOT}/cli.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  await Deno.writeTextFile(log, text, { append: true });
  if (!out.success) {
    const last = text.trim().split("\n").at(-1) ?? "";
    throw new Error(`glimpse ${args[0]} failed (exit ${out.code}, see ${log}): ${last}`);
  }
}

const rowsOf = (t: EigTable): EigRow[] => t.classProbe ?? t.rows;

async function analyse(
  dir: string,
  p: PlannedRun,
  plan: ReproducePlan,
  backend: "cpu" | "webgpu",
): Promise<RunAnalysis> {
  const run = await loadRun(dir, { backend, optimizer: false });
  try {
    const cfg = run.config.model, seed = run.config.train.seed, T = cfg.glimpses;
    const ds = await loadModelData(savedDataWith(run.config, {}), cfg, dir);
    const opts = { limit: plan.testLimit, classProbe: run.classProbe, batch: 128 };
    const table = await evaluateEig(run.ram, run.vae, ds.test, opts);
    const pick = (t: EigTable) => ({
      info: rowsOf(t).map((r) => r.infoBound),
      accuracy: rowsOf(t).map((r) => r.accuracy),
      error: t.rows.map((r) => 1 - r.accuracy),
    });
    const controls = [];
    for (const c of CONTROLS) {
      let t: EigTable;
      if (c === "untrained") {
        const state = await run.ram.getState();
        run.ram.setState(untrainedPolicy(state, cfg, seed));
        try {
          t = await evaluateEig(run.ram, null, ds.test, opts);
        } finally {
          run.ram.setState(state);
        }
      } else {
        t = await evaluateEig(run.ram, null, ds.test, {
          ...opts,
          locations: (idx, start) => controlLocations(c, T, start, idx, seed),
        });
      }
      const { info, accuracy } = pick(t);
      controls.push({ name: c, info, accuracy });
    }
    const noise = [];
    for (const level of parseNoise(plan.noise)) {
      const t = await evaluateEig(run.ram, null, withNoise(ds, level, seed).test, opts);
      const r = pick(t);
      noise.push({
        label: noiseLabel(level),
        level: level.level,
        error: r.error,
        info: r.info,
      });
    }
    const recon = run.vae
      ? await reconQuality(run.ram, run.vae, ds.train, ds.test, { limit: plan.testLimit })
      : null;
    return {
      name: p.name,
      data: p.data,
      reward: p.reward,
      seed: p.seed,
      beliefs: run.classProbe ? "class probe" : "head",
      table,
      ...pick(table),
      controls,
      noise,
      recon,
    };
  } finally {
    run.close();
  }
}

/** Trains, probes and analyses one run unless DIR already holds each step. */
async function doRun(
  out: string,
  p: PlannedRun,
  plan: ReproducePlan,
  backend: "cpu" | "webgpu",
  say: (s: string) => void,
): Promise<RunAnalysis> {
  const dir = `${out}/runs/${p.name}`, done = `${dir}/analysis.json`;
  if (await exists(done)) {
    say("already complete, skipped");
    return JSON.parse(await Deno.readTextFile(done));
  }
  await Deno.mkdir(dir, { recursive: true });
  const log = `${dir}/reproduce.log`;
  const t0 = performance.now();
  const secs = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const trained = await lastEpoch(dir);
  if (trained < plan.epochs) {
    const resume = await exists(`${dir}/model.safetensors`);
    say(`training ${plan.epochs} epochs${resume ? ` (resuming after epoch ${trained})` : ""}`);
    await cli(
      ["train", ...p.train, "--out", dir, "--backend", backend, ...(resume ? ["--resume"] : [])],
      log,
    );
  }
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  if (!config.cls) {
    say(`class probe, ${plan.probeEpochs} epochs (${secs()})`);
    await cli(
      [
        "probe",
        "--model",
        dir,
        "--no-vae",
        "--epochs",
        `${plan.probeEpochs}`,
        "--backend",
        backend,
      ],
      log,
    );
  }
  say(`EIG table, controls, noise, reconstructions (${secs()})`);
  const a = { ...await analyse(dir, p, plan, backend), seconds: (performance.now() - t0) / 1000 };
  await writeTextFileAtomic(done, JSON.stringify(a));
  say(`done in ${secs()}`);
  return a;
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
 * Runs `reproduce`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { reproduceCommand } from "./reproduce.ts";
 * await reproduceCommand({ quick: true, out: "runs/reproduce-quick" });
 * ```
 */
export async function reproduceCommand(flags: ReproduceFlags): Promise<number> {
  const plan = reproducePlan(flags.quick ?? false);
  const out = (flags.out ?? (plan.quick ? "runs/reproduce-quick" : "runs/reproduce"))
    .replace(/\/+$/, "");
  if (out === "") throw new OptionError(`--out "": expected a folder`);
  if (flags.plan) {
    console.log(
      `reproduce${plan.quick ? " --quick" : ""}: ${plan.runs.length} runs into ${out}/runs ` +
        `(RAM ${plan.epochs} epochs, probes alongside, noise ${plan.noise})`,
    );
    for (const r of plan.runs) console.log(`  ${r.name}: train ${r.train.join(" ")}`);
    for (const n of plan.notes) console.log(`note: ${n}`);
    return 0;
  }
  const backend = (await resolveBackendOption(flags.backend)).name;
  const t0 = performance.now();
  const all: RunAnalysis[] = [];
  for (const [i, p] of plan.runs.entries()) {
    const say = (s: string) => writeStderr(`[${i + 1}/${plan.runs.length}] ${p.name}: ${s}\n`);
    all.push(await doRun(out, p, plan, backend, say));
  }
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
  writeStderr(
    `wrote ${out}/report.md, results.csv, results.json and ${report.charts.length} charts ` +
      `in ${minutes} min\n`,
  );
  return 0;
}
