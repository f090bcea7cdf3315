/**
 * `eval`'s EIG table: the run's probe (when it has one) opened beside the RAM, the table of
 * run/evaluate_eig.ts on the test split printed on stderr and written as eig.md, eig.csv and
 * eig.json into the run folder (or `--out`).
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { Checkpoint } from "../run/checkpoint.ts";
import { evaluateEig } from "../run/evaluate_eig.ts";
import type { Split } from "../datasets/types.ts";
import { eigJson, eigMarkdown, writeEigFiles } from "../report/eig.ts";
import type { EigTable } from "../run/eig_table.ts";
import { openProbe } from "../run/prepare_run.ts";
import { writeStderr } from "./progress.ts";

/** Options of {@link eigReport}. */
export interface EigReportOptions {
  /** Images per rollout. */
  batch: number;
  /** Folder of the three files. */
  out: string;
  /** Heading of the table, e.g. "runs/x on mnist test". */
  title: string;
}

/** What {@link eigReport} produced. */
export interface EigReport {
  table: EigTable;
  /** Paths of eig.md, eig.csv and eig.json. */
  files: string[];
  /** The table as --json shows it (eig.json's object). */
  json: unknown;
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
  try {
    if (vae) vae.setState(ckpt.vae!);
    const terminal = Deno.stderr.isTerminal();
    const table = await evaluateEig(ram, vae, split, {
      batch: options.batch,
      onBatch: terminal ? (done, total) => writeStderr(`\r\x1b[2KEIG ${done}/${total}`) : undefined,
    });
    if (terminal) writeStderr("\r\x1b[2K");
    const render = { title: options.title };
    writeStderr(
      "\n" + eigMarkdown(table, render) +
        (vae ? "" : "(no VAE probe in this run: `deno task probe --model DIR` adds one)\n"),
    );
    const files = await writeEigFiles(options.out, table, render);
    writeStderr(`wrote ${files.join(", ")}\n`);
    return { table, files, json: JSON.parse(eigJson(table, render)) };
  } finally {
    vae?.dispose();
  }
}
