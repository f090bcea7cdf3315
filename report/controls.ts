/**
 * The policy against its controls (run/controls.ts), per glimpse: accuracy, cumulative gain
 * H_0 − H_t and ln C − NLL_t of each, read from the class probe's beliefs when the run has one
 * (else the RAM head's; the text says which), and the last row's share of the policy's figure.
 *
 * @module
 */
import type { EigRow, EigTable } from "../run/eig_table.ts";
import { writeTextFileAtomic } from "../util/write_atomic.ts";

/** One evaluated placement of glimpses: the policy or a control. */
export interface ControlTable {
  /** "policy", "fixed", "random" or "untrained". */
  name: string;
  table: EigTable;
}

/** The rows a comparison reads: the class probe's when present, else the head's. */
export function beliefRows(t: EigTable): { rows: EigRow[]; whose: "class probe" | "head" } {
  return t.classProbe
    ? { rows: t.classProbe, whose: "class probe" }
    : { rows: t.rows, whose: "head" };
}

/**
 * Markdown: one line per glimpse, for each placement its accuracy, H_0 − H_t and ln C − NLL_t,
 * then a line with the last glimpse's figures as a share of the policy's.
 *
 * @example
 * ```ts
 * import { controlsMarkdown } from "./controls.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * const t = eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]));
 * console.log(controlsMarkdown([{ name: "policy", table: t }, { name: "fixed", table: t }]));
 * ```
 */
export function controlsMarkdown(tables: readonly ControlTable[]): string {
  const [policy] = tables;
  const whose = beliefRows(policy.table).whose;
  const head = ["glimpse"];
  for (const { name } of tables) {
    head.push(`${name} acc`, `${name} H_0 − H_t`, `${name} ln C − NLL_t`);
  }
  const T = policy.table.rows.length;
  const body: string[][] = [];
  for (let t = 0; t < T; t++) {
    const row = [String(t + 1)];
    for (const { table } of tables) {
      const r = beliefRows(table).rows[t];
      row.push(
        `${(100 * r.accuracy).toFixed(2)}%`,
        r.cumulativeGain.toFixed(4),
        r.infoBound.toFixed(4),
      );
    }
    body.push(row);
  }
  const last = (t: EigTable) => beliefRows(t).rows[T - 1];
  const share = (a: number, b: number) => (b === 0 ? "–" : `${((100 * a) / b).toFixed(0)}%`);
  const pl = last(policy.table);
  const shares = ["share"];
  for (const { table } of tables) {
    const r = last(table);
    shares.push(
      share(r.accuracy, pl.accuracy),
      share(r.cumulativeGain, pl.cumulativeGain),
      share(r.infoBound, pl.infoBound),
    );
  }
  body.push(shares);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(" | ")} |`;
  return [
    `Policy against controls on the same ${policy.table.samples} test images, beliefs of the ` +
    `${whose}${
      whose === "class probe"
        ? " (trained on the policy's states; not retrained for the controls)"
        : ""
    }. ` +
    "fixed: every glimpse at the first location; random: uniform locations (seeded per image); " +
    "untrained: the policy network as initialised. share: glimpse " +
    `${T} as a share of the policy's.`,
    "",
    line(head),
    `| ${width.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ")} |`,
    ...body.map(line),
  ].join("\n") + "\n";
}

/** The comparison as JSON: per placement, whose beliefs and the per-glimpse figures. */
export function controlsJson(tables: readonly ControlTable[]): unknown {
  return tables.map(({ name, table }) => {
    const { rows, whose } = beliefRows(table);
    return {
      name,
      beliefs: whose,
      accuracy: rows.map((r) => r.accuracy),
      cumulative_gain: rows.map((r) => r.cumulativeGain),
      info_gain: rows.map((r) => r.infoGain),
      info_bound: rows.map((r) => r.infoBound),
      ece: rows.map((r) => r.ece),
      head_accuracy: table.rows.map((r) => r.accuracy),
    };
  });
}

/** Writes controls.md and controls.json into `dir`; returns their paths. */
export async function writeControlsFiles(
  dir: string,
  tables: readonly ControlTable[],
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const sep = dir.endsWith("/") ? "" : "/";
  const md = `${dir}${sep}controls.md`, json = `${dir}${sep}controls.json`;
  await writeTextFileAtomic(md, controlsMarkdown(tables));
  await writeTextFileAtomic(json, JSON.stringify(controlsJson(tables), null, 2) + "\n");
  return [md, json];
}
