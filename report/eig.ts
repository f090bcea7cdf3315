/**
 * The EIG table of shared DESIGN.md "Information gain": per glimpse t = 1..T of a split, the
 * accuracy of argmax p_t, the mean entropy H_t, the mean information gain IG_t = H_{t−1} − H_t
 * with its standard error, the mean cumulative gain H_0 − H_t, the mean KL(p_t ‖ p_{t−1}) and,
 * when a VAE probe is given, the mean reconstruction MSE. p_0 is the uniform prior, so
 * H_0 = ln C; everything is in nats.
 *
 * {@link EigAccumulator} takes a rollout's per-glimpse log-probabilities batch by batch (so a
 * test set never has to be held at once); {@link eigMarkdown}, {@link eigCsv} and
 * {@link eigJson} render the result, and {@link writeEigFiles} writes eig.md, eig.csv and
 * eig.json atomically.
 *
 * Sums run in float64; the information gain's mean and variance use Welford's update, so the
 * standard error does not lose digits to cancellation over tens of thousands of samples.
 *
 * @module
 */
import { writeTextFileAtomic } from "../util/write_atomic.ts";
import { ECE_BINS, type EigRow, type EigTable } from "../run/eig_table.ts";
import { snakeCaseKeys } from "../util/snake_case.ts";

/** Options of the renderers. */
export interface EigRenderOptions {
  /** A heading (markdown) or a `title` field (JSON), e.g. the run's name. */
  title?: string;
}

function fixed(v: number | null, digits: number): string {
  return v === null || !Number.isFinite(v) ? "–" : v.toFixed(digits);
}

/**
 * The table as GitHub markdown, columns padded so it also reads well printed on a terminal.
 * Accuracy in percent; nats to 4 decimals; IG as "mean ± s.e.".
 *
 * @example
 * ```ts
 * import { eigMarkdown } from "./eig.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * const t = eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]));
 * console.log(eigMarkdown(t, { title: "one sample" }));
 * ```
 */
export function eigMarkdown(table: EigTable, options: EigRenderOptions = {}): string {
  const withMse = table.rows.some((r) => r.reconMse !== null);
  const probe = table.classProbe ?? null;
  // Whose belief each column reads: "probe" (the class probe) or "head" (the RAM's classifier).
  const belief = (who: string, r: EigRow, full: boolean) => [
    [`${who} acc`, `${fixed(100 * r.accuracy, 2)}%`],
    [`${who} H_t`, fixed(r.entropy, 4)],
    [`${who} IG_t`, `${fixed(r.infoGain, 4)} ± ${fixed(r.infoGainSe, 4)}`],
    ...(full ? [[`${who} H_0 − H_t`, fixed(r.cumulativeGain, 4)]] : []),
    ...(full ? [[`${who} KL(p_t ‖ p_{t−1})`, fixed(r.klPrev, 4)]] : []),
    [`${who} ln C − NLL_t`, `${fixed(r.infoBound, 4)} ± ${fixed(r.infoBoundSe, 4)}`],
    [`${who} conf`, `${fixed(100 * r.confidence, 1)}%`],
    [`${who} ECE`, fixed(r.ece, 4)],
  ];
  const cells = table.rows.map((r, t) => [
    ["glimpse", String(r.glimpse)],
    ...(probe ? belief("probe", probe[t], true) : []),
    ...belief("head", r, !probe),
    ...(withMse ? [["recon MSE", fixed(r.reconMse, 5)]] : []),
  ]);
  const head = cells[0].map(([h]) => h);
  const body = cells.map((row) => row.map(([, v]) => v));
  const width = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[], pad: (s: string, w: number) => string) =>
    `| ${cells.map((c, i) => pad(c, width[i])).join(" | ")} |`;
  const out: string[] = [];
  if (options.title) out.push(`### ${options.title}`, "");
  out.push(
    `${table.samples} samples, ${table.classes} classes; H_0 = ln ${table.classes} = ` +
      `${table.priorEntropy.toFixed(4)} nats (uniform prior). ± is the standard error. ` +
      (probe
        ? '"probe" columns read the class probe\'s beliefs p_t (trained on every glimpse), ' +
          '"head" columns the RAM\'s classifier (trained on the last glimpse only). '
        : "Beliefs p_t are the RAM's classifier head's (no class probe in this run). ") +
      `ECE: expected calibration error, ${ECE_BINS} confidence bins; conf: mean max p_t.`,
    "",
    line(head, (s, w) => s.padEnd(w)),
    `| ${width.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ")} |`,
    ...body.map((row) => line(row, (s, w) => s.padStart(w))),
  );
  return out.join("\n") + "\n";
}

/** The columns of one set of beliefs; the class probe's repeat them prefixed `probe_`. */
const BELIEF_COLUMNS = [
  "accuracy",
  "entropy",
  "info_gain",
  "info_gain_se",
  "cumulative_gain",
  "kl_prev",
  "info_bound",
  "info_bound_se",
  "confidence",
  "ece",
] as const;

/**
 * CSV columns, in order: the head's beliefs (and recon_mse), then the class probe's as
 * `probe_*` (empty without a class probe).
 */
export const EIG_CSV_COLUMNS: readonly string[] = [
  "glimpse",
  "accuracy",
  "entropy",
  "info_gain",
  "info_gain_se",
  "cumulative_gain",
  "kl_prev",
  "recon_mse",
  "info_bound",
  "info_bound_se",
  "confidence",
  "ece",
  ...BELIEF_COLUMNS.map((c) => `probe_${c}`),
];

/**
 * The table as CSV (header {@link EIG_CSV_COLUMNS}, one line per glimpse, full precision,
 * accuracy as a fraction; an unknown value is an empty field).
 *
 * @example
 * ```ts
 * import { eigCsv } from "./eig.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * console.log(eigCsv(eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]))));
 * ```
 */
export function eigCsv(table: EigTable): string {
  const cell = (v: number | null) => (v === null || !Number.isFinite(v) ? "" : String(v));
  const lines = [EIG_CSV_COLUMNS.join(",")];
  const belief = (r: EigRow | undefined) =>
    r
      ? [r.accuracy, r.entropy, r.infoGain, r.infoGainSe, r.cumulativeGain, r.klPrev, r.infoBound]
        .concat([r.infoBoundSe, r.confidence, r.ece]).map(cell)
      : BELIEF_COLUMNS.map(() => "");
  table.rows.forEach((r, t) => {
    lines.push([
      String(r.glimpse),
      ...belief(r).slice(0, 6),
      cell(r.reconMse),
      ...belief(r).slice(6),
      ...belief(table.classProbe?.[t]),
    ].join(","));
  });
  return lines.join("\n") + "\n";
}

/**
 * The table as pretty JSON: the {@link EigTable} fields in snake_case (`prior_entropy`,
 * `rows[].info_gain`, …, as in eig.csv), plus `title` when given.
 *
 * @example
 * ```ts
 * import { eigJson } from "./eig.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * const t = eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]));
 * console.log(JSON.parse(eigJson(t, { title: "one sample" })).rows[0].info_gain);
 * ```
 */
export function eigJson(table: EigTable, options: EigRenderOptions = {}): string {
  // JSON has no NaN or Infinity: an unknown value is null.
  const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
  const clean = (rows: EigRow[]) =>
    rows.map((r) => ({
      ...r,
      infoGainSe: finite(r.infoGainSe),
      infoBoundSe: finite(r.infoBoundSe),
    }));
  const body = {
    ...table,
    rows: clean(table.rows),
    classProbe: table.classProbe ? clean(table.classProbe) : null,
  };
  const out = options.title === undefined ? body : { title: options.title, ...body };
  return JSON.stringify(snakeCaseKeys(out), null, 2) + "\n";
}

/** File names {@link writeEigFiles} writes. */
export const EIG_FILES = { markdown: "eig.md", csv: "eig.csv", json: "eig.json" } as const;

/**
 * Writes eig.md, eig.csv and eig.json into `dir` (created if missing), each atomically (a
 * temporary file renamed into place), and returns their paths.
 *
 * @example
 * ```ts ignore
 * import { writeEigFiles } from "./eig.ts";
 * const paths = await writeEigFiles("runs/x", table, { title: "runs/x on mnist test" });
 * ```
 */
export async function writeEigFiles(
  dir: string,
  table: EigTable,
  options: EigRenderOptions = {},
): Promise<string[]> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new Error(`Cannot create the folder "${dir}" for the EIG table: ${(e as Error).message}`);
  }
  const sep = dir.endsWith("/") ? "" : "/";
  const files: [string, string][] = [
    [EIG_FILES.markdown, eigMarkdown(table, options)],
    [EIG_FILES.csv, eigCsv(table)],
    [EIG_FILES.json, eigJson(table, options)],
  ];
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = `${dir}${sep}${name}`;
    await writeTextFileAtomic(path, text);
    paths.push(path);
  }
  return paths;
}
