/**
 * Learning curves side by side: error against epochs and minutes for glimpse runs (their
 * metrics.jsonl) and PyTorch peer runs (the log that shared/peer/ram_torch.py prints, e.g. through
 * bench/peer_idx.py), and the epochs and minutes each took to first reach 3%, 2% and 1.5%.
 *
 *   deno run -A bench/learning_curve.ts --run glimpse=runs/x --peer peer=runs/peer.log \
 *     [--out docs/learning-curve] [--from 10] [--x epochs|minutes]
 *
 * A glimpse run's error per epoch is its `test_error` where the run tested that epoch
 * (`train --test-every 1`), else 1 − `validation_accuracy` (the held-out 5,000 training digits),
 * and the table says which. Minutes are wall time summed over the epochs (`seconds`, which include
 * the epoch's evaluations); the peer's are the cumulative seconds it prints (its test pass
 * included). Curves measured at different times on a shared machine differ by its load as well:
 * compare minutes only between runs made side by side. `--out P` writes P.png (error in % against
 * `--x epochs` (the default, which load does not move) or `--x minutes`, from the first epoch
 * under `--from` %) and P.csv.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bandChartPng, type BandPoint } from "../report/chart.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../util/write_atomic.ts";

/** One epoch of a curve. */
interface Point {
  epoch: number;
  minutes: number;
  /** Error in [0, 1]. */
  error: number;
  /** What the error was measured on. */
  on: "test" | "validation";
}

/** Reads a glimpse run's metrics.jsonl into a curve. */
async function glimpseCurve(dir: string): Promise<Point[]> {
  const path = `${dir}/metrics.jsonl`;
  const text = await Deno.readTextFile(path).catch((e) => {
    throw new Error(`--run ${dir}: cannot read ${path} (${(e as Error).message})`);
  });
  let minutes = 0;
  const out: Point[] = [];
  for (const [i, line] of text.trim().split("\n").entries()) {
    const m = JSON.parse(line);
    if (typeof m.epoch !== "number" || typeof m.seconds !== "number") {
      throw new Error(`${path}:${i + 1}: not a metrics line (no epoch or seconds)`);
    }
    minutes += m.seconds / 60;
    if (typeof m.test_error === "number") {
      out.push({ epoch: m.epoch, minutes, error: m.test_error, on: "test" });
    } else if (typeof m.validation_accuracy === "number") {
      out.push({ epoch: m.epoch, minutes, error: 1 - m.validation_accuracy, on: "validation" });
    }
  }
  return out;
}

/** Reads a peer log ("epoch N: X train img/s, S s, test error E%") into a curve. */
async function peerCurve(path: string): Promise<Point[]> {
  const text = await Deno.readTextFile(path).catch((e) => {
    throw new Error(`--peer ${path}: cannot read it (${(e as Error).message})`);
  });
  const out: Point[] = [];
  for (
    const m of text.matchAll(/^epoch (\d+): \d+ train img\/s, (\d+) s, test error ([\d.]+)%/gm)
  ) {
    out.push({ epoch: +m[1], minutes: +m[2] / 60, error: +m[3] / 100, on: "test" });
  }
  if (out.length === 0) throw new Error(`--peer ${path}: no "epoch N: …" lines in it`);
  return out;
}

/** "LABEL=PATH" into its parts. */
function labelled(flag: string, text: string): [string, string] {
  const i = text.indexOf("=");
  if (i <= 0 || i === text.length - 1) throw new Error(`${flag} "${text}": expected LABEL=PATH`);
  return [text.slice(0, i), text.slice(i + 1)];
}

const THRESHOLDS = [0.03, 0.02, 0.015];

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      run: { type: "string", multiple: true, default: [] },
      peer: { type: "string", multiple: true, default: [] },
      out: { type: "string" },
      from: { type: "string", default: "10" },
      x: { type: "string", default: "epochs" },
    },
  });
  const curves: { label: string; points: Point[] }[] = [];
  for (const r of values.run) {
    const [label, dir] = labelled("--run", r);
    curves.push({ label, points: await glimpseCurve(dir) });
  }
  for (const p of values.peer) {
    const [label, path] = labelled("--peer", p);
    curves.push({ label, points: await peerCurve(path) });
  }
  if (values.x !== "epochs" && values.x !== "minutes") {
    throw new Error(`--x "${values.x}": expected epochs or minutes`);
  }
  if (curves.length === 0) throw new Error("give at least one --run LABEL=DIR or --peer LABEL=LOG");
  const pct = (e: number) => `${(100 * e).toFixed(2)}%`;
  const head = ["curve", "error on", "epochs", "minutes", "best (epoch)", "last"];
  for (const t of THRESHOLDS) head.push(`to ≤ ${100 * t}%: epoch, min`);
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map(() => " --- ").join("|")}|`);
  for (const { label, points } of curves) {
    const last = points.at(-1)!;
    const best = points.reduce((a, b) => (b.error < a.error ? b : a));
    const on = [...new Set(points.map((p) => p.on))].join(", ");
    const row = [
      label,
      on,
      `${last.epoch}`,
      last.minutes.toFixed(1),
      `${pct(best.error)} (${best.epoch})`,
      pct(last.error),
    ];
    for (const t of THRESHOLDS) {
      const hit = points.find((p) => p.error <= t);
      row.push(hit ? `${hit.epoch}, ${hit.minutes.toFixed(1)}` : "not reached");
    }
    console.log(`| ${row.join(" | ")} |`);
  }
  if (values.out) {
    const from = Number(values.from) / 100;
    const points: BandPoint[] = [];
    const csv = ["curve,epoch,minutes,error,on"];
    for (const { label, points: ps } of curves) {
      const start = ps.findIndex((p) => p.error <= from);
      for (const [i, p] of ps.entries()) {
        csv.push(`${label},${p.epoch},${p.minutes.toFixed(3)},${p.error},${p.on}`);
        if (start >= 0 && i >= start) {
          const e = 100 * p.error;
          const x = values.x === "epochs" ? p.epoch : p.minutes;
          points.push({ series: label, x, mean: e, lo: e, hi: e });
        }
      }
    }
    await writeTextFileAtomic(`${values.out}.csv`, csv.join("\n") + "\n");
    if (points.length > 0) {
      const png = await bandChartPng(points, {
        title: `error against ${values.x === "epochs" ? "epochs" : "training time"}`,
        xTitle: values.x,
        yTitle: "error (%)",
        width: 520,
      });
      await writeFileAtomic(`${values.out}.png`, png);
    }
    console.log(`wrote ${values.out}.csv${points.length ? ` and ${values.out}.png` : ""}`);
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`learning_curve: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
