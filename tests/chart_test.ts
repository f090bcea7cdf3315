import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { chartValues, eigChartPng, eigChartSpec, eigChartSvg } from "../report/chart.ts";
import type { EigRow } from "../run/eig_table.ts";

function rows(gains: number[]): EigRow[] {
  return gains.map((g, t) => ({
    glimpse: t + 1,
    accuracy: 0.5,
    entropy: Math.log(10) - g,
    infoGain: g - (t ? gains[t - 1] : 0),
    infoGainSe: 0.01,
    cumulativeGain: g,
    klPrev: 0.1,
    reconMse: null,
    infoBound: g,
    infoBoundSe: 0.01,
    confidence: 0.5,
    ece: 0,
  }));
}

const series = [
  { label: "classification", rows: rows([0.5, 1, 1.4, 1.7]) },
  { label: "entropy", rows: rows([1.1, 1.8, 2.1, 2.2]) },
];

/** The vertices of each line mark in the SVG, by run. */
function linePaths(svg: string): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  const re = /aria-roledescription="line mark" d="([^"]+)"/g;
  const labels = [...svg.matchAll(/<path aria-label="[^"]*run: ([^;"]+);[^"]*" [^>]*line mark"/g)]
    .map((m) => m[1]);
  [...svg.matchAll(re)].forEach((m, i) => {
    const pts = m[1].slice(1).split("L").map((p) => p.split(",").map(Number) as [number, number]);
    out.set(labels[i], pts);
  });
  return out;
}

Deno.test("EIG chart SVG has one line per run, from 0 at glimpse 0, in the runs' order", async () => {
  const svg = await eigChartSvg(series, { priorEntropy: Math.log(10), title: "mnist test" });
  assert.match(svg, /^<svg/);
  const lines = linePaths(svg);
  assert.deepEqual([...lines.keys()], ["classification", "entropy"]);
  for (const [run, pts] of lines) {
    assert.equal(pts.length, 5, `${run}: glimpse 0..4`);
    // x strictly increasing, evenly spaced; y (pixels, downwards) decreasing as gain rises
    for (let i = 1; i < 5; i++) {
      assert.ok(pts[i][0] > pts[i - 1][0]);
      assert.ok(pts[i][1] < pts[i - 1][1], `${run} gain rises at glimpse ${i}`);
    }
  }
  const c = lines.get("classification")!, e = lines.get("entropy")!;
  assert.deepEqual(c[0], e[0], "both start at (0, 0)");
  for (let i = 1; i < 5; i++) assert.ok(e[i][1] < c[i][1], "entropy above classification");
  // y is linear in the gain: (y0 − y_t) / gain_t is the same for every point
  const k = (c[0][1] - c[4][1]) / 1.7;
  assert.ok(Math.abs((c[0][1] - c[2][1]) / 1 - k) < 0.01);
  assert.ok(Math.abs((e[0][1] - e[1][1]) / 1.1 - k) < 0.01);
  for (const s of ["classification", "entropy", "glimpse t", "mnist test", "H₀ = 2.303"]) {
    assert.ok(svg.includes(s), `SVG mentions ${s}`);
  }
});

Deno.test("EIG chart PNG is the SVG rendered at twice its size", async () => {
  const svg = await eigChartSvg(series);
  const [w, h] = svg.match(/width="(\d+)" height="(\d+)"/)!.slice(1).map(Number);
  const png = decodePng(await eigChartPng(series));
  assert.deepEqual([png.width, png.height], [2 * w, 2 * h]);
  // not blank: the lines' colours occur
  let coloured = 0;
  for (let i = 0; i < png.data.length; i += png.channels) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
  }
  assert.ok(coloured > 500, `${coloured} coloured pixels`);
});

Deno.test("EIG chart refuses empty input and duplicate labels", () => {
  assert.throws(() => chartValues([]), /no runs/);
  assert.throws(
    () => eigChartSpec([series[0], { ...series[1], label: "classification" }]),
    /two runs are labelled "classification"/,
  );
  assert.throws(() => chartValues([{ label: "x", rows: [] }]), /run "x" has no glimpses/);
  assert.equal(chartValues(series).length, 10);
});
