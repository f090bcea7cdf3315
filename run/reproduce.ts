/**
 * The runs of `deno task reproduce` (report/reproduce.ts writes the report): the plan (datasets ×
 * rewards × seeds), and for each run its training (`train`, run as a subprocess of this Deno, so a
 * crash or Ctrl-C leaves a resumable checkpoint), a class probe when training left none
 * (`probe --no-vae`), then through the library the EIG table (class-probe and head beliefs), the
 * controls (fixed, random, untrained), the noise stress test and the reconstruction quality
 * (run/recon_quality.ts). Each run lives in DIR/runs/NAME and its numbers in analysis.json; a run
 * whose analysis exists is skipped, a half-trained one resumed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadRun } from "./load_run.ts";
import { evaluateEig } from "./evaluate_eig.ts";
import type { EigRow, EigTable } from "./eig_table.ts";
import { controlLocations, CONTROLS, untrainedPolicy } from "./controls.ts";
import { type ReconQuality, reconQuality } from "./recon_quality.ts";
import { datasetOptionsOf } from "./run_config.ts";
import { loadDataset } from "../datasets/load.ts";
import { noiseLabel, parseNoise, withNoise } from "../datasets/noise.ts";
import { writeTextFileAtomic } from "../util/write_atomic.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** The rewards compared: label and the `--reward` given to train. */
export const REPRODUCE_REWARDS = [
  { label: "classification", spec: "classification" },
  { label: "entropy", spec: "entropy" },
  { label: "early-information", spec: "early-information" },
  { label: "seed-shifted", spec: "examples/seed_shifted_reward.ts" }, // from the project root
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

/**
 * The runs of `reproduce` (`quick`: mnist-10k, 2 epochs on 2,000 digits, no cluttered);
 * `epochs` replaces the RAM's epochs (2 quick, 20 full).
 */
export function reproducePlan(quick: boolean, epochs = quick ? 2 : 20): ReproducePlan {
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    throw new Error(`reproduce: epochs ${epochs}: expected a whole number of at least 1`);
  }
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

/**
 * What a run's process gets when `jobs` processes share the machine: one cpu lane and one BLAS
 * thread each (GLIMPSE_CPU_LANES, OPENBLAS_NUM_THREADS) unless the environment sets them. Two
 * runs each on OpenBLAS's default threads oversubscribed 2 cores: an MNIST epoch with probes took
 * 31 s against 13 s with one thread each.
 */
export function runEnv(
  jobs: number,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (jobs > 1) {
    for (const k of ["GLIMPSE_CPU_LANES", "OPENBLAS_NUM_THREADS"]) out[k] = env[k] ?? "1";
  }
  return out;
}

/** Runs `glimpse ARGS` as a subprocess of this Deno; its output goes to `log`. */
async function cli(args: string[], log: string, env: Record<string, string>): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", `${ROOT}/cli.ts`, ...args],
    cwd: ROOT,
    // a plugin path resolves against INIT_CWD (rewards/loader.ts): the project root here
    env: { ...env, INIT_CWD: ROOT },
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
    const ds = await loadDataset(run.config.dataset, {
      ...datasetOptionsOf(run.config),
      validation: undefined,
    });
    if (ds.height !== cfg.height || ds.width !== cfg.width || ds.classes !== cfg.classes) {
      throw new Error(`reproduce: ${ds.name} does not fit the model in ${dir}`);
    }
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

/**
 * Trains, probes and analyses one run unless DIR (`out`) already holds each step; `env` adds to
 * the environment of its train and probe processes ({@link runEnv}).
 */
export async function runOne(
  out: string,
  p: PlannedRun,
  plan: ReproducePlan,
  backend: "cpu" | "webgpu",
  say: (s: string) => void,
  env: Record<string, string> = {},
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
      env,
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
      env,
    );
  }
  say(`EIG table, controls, noise, reconstructions (${secs()})`);
  const a = { ...await analyse(dir, p, plan, backend), seconds: (performance.now() - t0) / 1000 };
  await writeTextFileAtomic(done, JSON.stringify(a));
  say(`done in ${secs()}`);
  return a;
}
