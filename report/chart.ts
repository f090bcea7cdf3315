/**
 * The EIG chart: cumulative information gain H_0 − H_t (nats) after each glimpse, one line per
 * run, labelled by the run's reward; the prior entropy ln C, all there is to learn about the
 * class, is drawn as a dashed rule. Made with vega-lite, rendered headless by vega to SVG
 * (renderer "none" + toSVG()) and to PNG through resvg with the label font.
 *
 * @module
 */
import * as vega from "npm:vega@6.4.0";
import * as vl from "npm:vega-lite@6.5.0";
import type { EigRow } from "../run/eig_table.ts";
import { svgToPng } from "./svg_png.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../util/write_atomic.ts";

/** One line of the chart. */
export interface GainSeries {
  /** Legend entry, e.g. the reward's name ("entropy"); unique within a chart. */
  label: string;
  /** The run's EIG table rows, glimpse 1..T. */
  rows: readonly EigRow[];
}

/** Options of the chart. */
export interface ChartOptions {
  /** Title above the chart. */
  title?: string;
  /** H_0 = ln C, drawn as a dashed rule; omitted when not given. */
  priorEntropy?: number;
  /** Plot width and height in pixels; default 420 × 280. */
  width?: number;
  height?: number;
}

/** The chart's data points: glimpse 0 (no gain yet) then glimpse 1..T of every series. */
export function chartValues(
  series: readonly GainSeries[],
): { glimpse: number; gain: number; run: string; accuracy: number | null }[] {
  if (series.length === 0) throw new Error("EIG chart: no runs to draw");
  const seen = new Set<string>();
  for (const s of series) {
    if (seen.has(s.label)) throw new Error(`EIG chart: two runs are labelled "${s.label}"`);
    seen.add(s.label);
    if (s.rows.length === 0) throw new Error(`EIG chart: run "${s.label}" has no glimpses`);
  }
  return series.flatMap((s) => [
    { glimpse: 0, gain: 0, run: s.label, accuracy: null },
    ...s.rows.map((r) => ({
      glimpse: r.glimpse,
      gain: r.cumulativeGain,
      run: s.label,
      accuracy: r.accuracy,
    })),
  ]);
}

/**
 * The vega-lite specification of the chart (a layer of the lines and, with `priorEntropy`, the
 * dashed H_0 rule); throws on no series, a series without rows, or two series with one label.
 *
 * @example
 * ```ts
 * import { eigChartSpec } from "./chart.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * const t = eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]));
 * const spec = eigChartSpec([{ label: "entropy", rows: t.rows }], { priorEntropy: Math.log(2) });
 * ```
 */
export function eigChartSpec(
  series: readonly GainSeries[],
  options: ChartOptions = {},
): vl.TopLevelSpec {
  const values = chartValues(series);
  const maxGlimpse = Math.max(...values.map((v) => v.glimpse));
  const lines = {
    data: { values },
    mark: { type: "line" as const, point: { size: 45 }, strokeWidth: 2.5 },
    encoding: {
      x: {
        field: "glimpse",
        type: "quantitative" as const,
        title: "glimpse t",
        scale: { domain: [0, maxGlimpse] },
        axis: { tickMinStep: 1, format: "d" },
      },
      y: {
        field: "gain",
        type: "quantitative" as const,
        title: "cumulative gain H₀ − Hₜ (nats)",
      },
      color: {
        field: "run",
        type: "nominal" as const,
        title: "reward",
        sort: series.map((s) => s.label),
      },
      tooltip: [
        { field: "run", type: "nominal" as const },
        { field: "glimpse", type: "quantitative" as const },
        { field: "gain", type: "quantitative" as const, format: ".3f" },
        { field: "accuracy", type: "quantitative" as const, format: ".2%" },
      ],
    },
  };
  const layer: unknown[] = [lines];
  if (options.priorEntropy !== undefined) {
    layer.push({
      data: {
        values: [{ h0: options.priorEntropy, text: `H₀ = ${options.priorEntropy.toFixed(3)}` }],
      },
      layer: [
        {
          mark: { type: "rule", strokeDash: [5, 4], color: "#888" },
          encoding: { y: { field: "h0", type: "quantitative" } },
        },
        {
          mark: { type: "text", align: "right", dx: -2, dy: -7, color: "#666", fontSize: 11 },
          encoding: {
            y: { field: "h0", type: "quantitative" },
            x: { datum: maxGlimpse, type: "quantitative" },
            text: { field: "text" },
          },
        },
      ],
    });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(options.title ? { title: options.title } : {}),
    width: options.width ?? 420,
    height: options.height ?? 280,
    background: "white",
    config: { font: "DejaVu Sans" },
    layer,
  } as vl.TopLevelSpec;
}

/**
 * The chart as SVG text (vega's headless renderer).
 *
 * @example
 * ```ts
 * import { eigChartSvg } from "./chart.ts";
 * import { eigTable } from "../run/eig_table.ts";
 * const t = eigTable(1, 2, Float32Array.from([0, -1e4]), Int32Array.from([0]));
 * const svg = await eigChartSvg([{ label: "classification", rows: t.rows }]);
 * ```
 */
export async function eigChartSvg(
  series: readonly GainSeries[],
  options: ChartOptions = {},
): Promise<string> {
  const compiled = vl.compile(eigChartSpec(series, options)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The chart as PNG bytes (SVG rendered by resvg at `zoom`, default 2, on white). */
export async function eigChartPng(
  series: readonly GainSeries[],
  options: ChartOptions & { zoom?: number } = {},
): Promise<Uint8Array> {
  return await svgToPng(await eigChartSvg(series, options), {
    zoom: options.zoom ?? 2,
    background: "white",
  });
}

/**
 * Writes `base`.svg and `base`.png atomically; returns their paths.
 *
 * @example
 * ```ts ignore
 * import { writeEigChart } from "./chart.ts";
 * await writeEigChart("out/eig-compare", series, { priorEntropy: Math.log(10) });
 * ```
 */
export async function writeEigChart(
  base: string,
  series: readonly GainSeries[],
  options: ChartOptions = {},
): Promise<string[]> {
  const svg = await eigChartSvg(series, options);
  const png = await svgToPng(svg, { zoom: 2, background: "white" });
  await writeTextFileAtomic(`${base}.svg`, svg);
  await writeFileAtomic(`${base}.png`, png);
  return [`${base}.svg`, `${base}.png`];
}

/** One point of a {@link bandChartPng}: a series' mean at x and the band around it. */
export interface BandPoint {
  series: string;
  x: number;
  mean: number;
  /** Band edges, e.g. mean ∓ the standard deviation across seeds. */
  lo: number;
  hi: number;
}

/**
 * A line per series with a shaded band (e.g. ± the spread across seeds), as PNG bytes.
 *
 * @example
 * ```ts ignore
 * const png = await bandChartPng(points, { title: "info", xTitle: "glimpse", yTitle: "nats" });
 * ```
 */
export async function bandChartPng(
  points: readonly BandPoint[],
  options: { title: string; xTitle: string; yTitle: string; width?: number; height?: number },
): Promise<Uint8Array> {
  if (points.length === 0) throw new Error(`chart "${options.title}": no points to draw`);
  const whole = points.every((p) => Number.isInteger(p.x));
  const enc = {
    x: {
      field: "x",
      type: "quantitative" as const,
      title: options.xTitle,
      ...(whole ? { axis: { tickMinStep: 1, format: "d" } } : {}),
    },
    color: { field: "series", type: "nominal" as const, title: null },
  };
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: options.title,
    width: options.width ?? 420,
    height: options.height ?? 260,
    background: "white",
    data: { values: points.map((p) => ({ ...p })) },
    layer: [
      {
        mark: { type: "area" as const, opacity: 0.18 },
        encoding: {
          ...enc,
          y: {
            field: "lo",
            type: "quantitative" as const,
            title: options.yTitle,
            scale: { zero: false },
          },
          y2: { field: "hi" },
        },
      },
      {
        mark: { type: "line" as const, point: { size: 40 }, strokeWidth: 2.2 },
        encoding: { ...enc, y: { field: "mean", type: "quantitative" as const } },
      },
    ],
  };
  // deno-lint-ignore no-explicit-any
  const compiled = vl.compile(spec as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await svgToPng(await view.toSVG(), { zoom: 2, background: "white" });
  } finally {
    view.finalize();
  }
}
