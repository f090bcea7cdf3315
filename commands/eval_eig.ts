/**
 * `eval`'s EIG table: the run's probe (when it has one) opened beside the RAM, the table of
 * run/evaluate_eig.ts on the test split printed on stderr and written as eig.md, eig.csv and
 * eig.json into the run folder (or `--out`).
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import { type Checkpoint, checkpointState } from "../run/checkpoint.ts";
import { type EigEvalOptions, evaluateEig } from "../run/evaluate_eig.ts";
import { type Control, controlLocations, untrainedPolicy } from "../run/controls.ts";
import { createClassProbeFor } from "../probe/cls.ts";
import { controlsMarkdown, type ControlTable, writeControlsFiles } from "../report/controls.ts";
import type { Split } from "../datasets/types.ts";
import { eigJson, eigMarkdown, writeEigFiles } from "../report/eig.ts";
import type { EigTable } from "../run/eig_table.ts";
import { openProbe } from "../run/prepare_run.ts";
import { ProgressBar, writeStderr } from "./progress.ts";

/** Options of {@link eigReport}. */
export interface EigReportOptions {
  /** Images per rollout. */
  batch: number;
  /** Folder of the three files. */
  out: string;
  /** Heading of the table, e.g. "runs/x on mnist test". */
  title: string;
  /** Controls to evaluate beside the policy (run/controls.ts); each gets its own table. */
  controls?: readonly Control[];
}

/** What {@link eigReport} produced. */
export interface EigReport {
  table: EigTable;
  /** Paths of eig.md, eig.csv and eig.json. */
  files: string[];
  /** The table as --json shows it (eig.json's object). */
  json: unknown;
  /** Each control's table (same images, probes not retrained), when controls were asked for. */
  controls: ControlTable[];
}

/** The folder of a --model argument (a run folder or its model.safetensors). */
export function runDirOf(model: string): string {
  if (!model.endsWith(".safetensors")) return model;
  return model.slice(0, Math.max(0, model.lastIndexOf("/"))) || ".";
}

/**
 * Computes, prints and writes the EIG table of `ram` (with the checkpoint's probe, if any) on
 * `split`.
 *
 * @example
 * ```ts ignore
 * import { eigReport } from "./eval_eig.ts";
 * const { table } = await eigReport(ram, ckpt, ds.test, { batch: 128, out: "runs/x", title: "x" });
 * ```
 */
export async function eigReport(
  ram: RamBackend,
  ckpt: Checkpoint,
  split: Split,
  options: EigReportOptions,
): Promise<EigReport> {
  const config = ckpt.meta.config;
  const vae = ckpt.vae ? await openProbe(ram, config) : null;
  const cls = config.cls && ckpt.cls
    ? await createClassProbeFor(ram, config.cls, config.train.seed)
    : null;
  try {
    if (vae) vae.setState(ckpt.vae!);
    if (cls) cls.setState(ckpt.cls!);
    const evalWith = async (what: string, locations?: EigEvalOptions["locations"]) => {
      let bar: ProgressBar | undefined;
      const t = await evaluateEig(ram, vae, split, {
        batch: options.batch,
        classProbe: cls,
        locations,
        onBatch: (done, total) =>
          (bar ??= new ProgressBar(`EIG table (${what})`, total, "img")).update(done),
      });
      bar?.done();
      return t;
    };
    const table = await evalWith("policy");
    const render = { title: options.title };
    writeStderr(
      "\n" + eigMarkdown(table, render) +
        (vae ? "" : "(no VAE probe in this run: `deno task probe --model DIR` adds one)\n") +
        (cls ? "" : "(no class probe in this run: `deno task probe --model DIR` adds one)\n"),
    );
    const files = await writeEigFiles(options.out, table, render);
    const controls: ControlTable[] = [];
    const seed = config.train.seed, T = ram.config.glimpses;
    for (const c of options.controls ?? []) {
      let t: EigTable;
      if (c === "untrained") {
        ram.setState(untrainedPolicy(checkpointState(ckpt), ram.config, seed));
        try {
          t = await evalWith(c);
        } finally {
          ram.setState(checkpointState(ckpt));
        }
      } else {
        t = await evalWith(c, (idx, start) => controlLocations(c, T, start, idx, seed));
      }
      controls.push({ name: c, table: t });
      const dir = `${options.out.replace(/\/+$/, "")}/controls/${c}`;
      files.push(...await writeEigFiles(dir, t, { title: `${options.title}, control: ${c}` }));
    }
    if (controls.length > 0) {
      const all = [{ name: "policy", table }, ...controls];
      writeStderr("\n" + controlsMarkdown(all));
      files.push(...await writeControlsFiles(options.out, all));
    }
    writeStderr(`wrote ${files.join(", ")}\n`);
    return { table, files, json: JSON.parse(eigJson(table, render)), controls };
  } finally {
    vae?.dispose();
    cls?.dispose();
  }
}
