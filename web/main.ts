/// <reference lib="dom" />
/**
 * The explorer page: a digit drawn, dropped or picked goes through the model `explain` runs,
 * on WebGPU with the project's own WGSL kernels (bundled by `glimpse serve`/`site`), and the
 * page shows glimpse by glimpse where it looked, what the probe reconstructs from h_t, the
 * belief over the classes and the information gained. A click on the image makes the next
 * glimpse look there instead (web/explorer_model.ts redirect).
 *
 * `window.explorer` exposes the state for the browser test (tests/web_test.ts) and for anyone
 * curious in the console.
 *
 * @module
 */
import { type Gpu, requestGpu } from "../gpu/device.ts";
import { decodeGrey, type GreyImage } from "../datasets/image.ts";
import { toModelInput } from "../datasets/model_input.ts";
import { addNoise } from "../datasets/noise.ts";
import { Rng } from "../util/rng.ts";
import { type EigMap, eigMaps } from "../run/eig_map.ts";
import type { RetinaShape } from "../kernels/retina_ref.ts";
import {
  explainTrajectory,
  type ExplorerModel,
  openExplorerModel,
  pixelLocation,
  redirect,
  type Trajectory,
} from "./explorer_model.ts";
import { Pad } from "./pad.ts";
import {
  type Curve,
  drawBars,
  drawCurve,
  drawRecon,
  drawView,
  pixelAt,
  type ViewLayout,
} from "./views.ts";

/** An entry of models.json (commands/serve.ts writes it). */
interface ListedModel {
  name: string;
  reward: string;
  dataset: string;
  glimpses: number;
  probe: boolean;
  file: string;
  eig: string | null;
}

/** What the page exposes as `window.explorer`. */
interface ExplorerHook {
  /** An explanation is on screen and nothing is being computed. */
  ready: boolean;
  error: string | null;
  backend: string;
  model: string;
  /** Where the input came from: an example's or file's name, or "drawing". */
  source: string;
  /** The glimpse shown, 1..T. */
  step: number;
  /** The explanation shown, in `explain --json`'s field names. */
  explanation: unknown;
  layout: ViewLayout | null;
  timings: {
    /** Navigation start to the first explanation on screen, ms. */
    firstExplainedMs: number | null;
    /** The model's part of each explanation or redirect (rollout, probe, readback), ms. */
    modelMs: number[];
    /** Drawing one step (view, reconstruction, bars, curve), ms. */
    stepMs: number[];
  };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>("status");
const notice = $<HTMLParagraphElement>("notice");
const select = $<HTMLSelectElement>("model");
const view = $<HTMLCanvasElement>("view");

const hook: ExplorerHook = {
  ready: false,
  error: null,
  backend: "",
  model: "",
  source: "",
  step: 0,
  explanation: null,
  layout: null,
  timings: { firstExplainedMs: null, modelMs: [], stepMs: [] },
};
(globalThis as unknown as { explorer: ExplorerHook }).explorer = hook;

let gpu: Gpu | null = null;
let models: ListedModel[] = [];
let model: ExplorerModel | null = null;
let grey: GreyImage | null = null;
let input: Float32Array | null = null;
let policyPath: Trajectory | null = null;
let shown: Trajectory | null = null;
let step = 0;
let eigCache: { key: string; maps: EigMap[] } | null = null;
const testCurves = new Map<string, number[]>();

function warn(text: string): void {
  notice.textContent = text;
  notice.hidden = false;
}

// One thing at a time: strokes, clicks and switches queue behind the computation in flight.
let queue: Promise<void> = Promise.resolve();
let pending = 0;
function enqueue(label: string, work: () => Promise<void>): void {
  pending++;
  hook.ready = false;
  status.textContent = label;
  queue = queue.then(work).catch((e) => {
    hook.error = (e as Error).message;
    warn(hook.error);
  }).finally(() => {
    pending--;
    hook.ready = pending === 0 && shown !== null;
    if (pending === 0) status.textContent = describe();
  });
}

function describe(): string {
  if (!model) return "no model";
  const r = model.config.reward.name;
  return `${model.name} (reward ${r}) on ${hook.backend}`;
}

function retina(): RetinaShape {
  return model!.config.model;
}

async function acquireGpu(): Promise<void> {
  const forceCpu = new URLSearchParams(location.search).get("backend") === "cpu";
  let reason = "";
  if (forceCpu) reason = "?backend=cpu was asked for";
  else if (!("gpu" in navigator)) reason = "navigator.gpu is missing";
  else {
    try {
      gpu = await requestGpu();
    } catch (e) {
      reason = (e as Error).message.split(":")[0];
    }
  }
  if (gpu) {
    hook.backend = `webgpu (${gpu.description || "adapter"})`;
    return;
  }
  hook.backend = "the cpu reference";
  warn(
    `WebGPU is not available here (${reason}), so the model runs on the CPU reference instead: ` +
      "the same numbers, slower. For the WGSL kernels use a current Chrome, Edge or Safari, or " +
      "enable WebGPU (chrome://flags/#enable-unsafe-webgpu, Firefox: dom.webgpu.enabled).",
  );
}

async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`Cannot fetch ${path}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadModel(name: string): Promise<void> {
  const entry = models.find((m) => m.name === name);
  if (!entry) throw new Error(`no model named ${name}`);
  const bytes = await fetchBytes(entry.file);
  const opened = await openExplorerModel(entry.name, bytes, entry.file, gpu);
  model?.dispose();
  model = opened;
  hook.model = name;
  eigCache = null;
}

function setSource(image: GreyImage, source: string, showOnPad: boolean): void {
  grey = image;
  hook.source = source;
  if (showOnPad && model) {
    const m = model.config.model;
    const fit = toModelInput(image, m.height, m.width, true);
    const digit = fit.clean ?? fit.input, side = fit.clean ? 28 : m.width;
    pad.show(digit, side, fit.clean ? 28 : m.height);
  }
}

/** The model's input: the source fitted MNIST-style, plus the slider's noise (seeded). */
function prepareInput(): Float32Array {
  const m = model!.config.model;
  const fit = toModelInput(grey!, m.height, m.width, true);
  $("input-how").textContent = `${hook.source}: ${fit.how}`;
  const sigma = Number($<HTMLInputElement>("noise").value);
  return sigma > 0
    ? addNoise(fit.input, { kind: "gaussian", level: sigma }, new Rng(1))
    : fit.input;
}

async function explainNow(): Promise<void> {
  if (!model || !grey) return;
  input = prepareInput();
  const t0 = performance.now();
  policyPath = await explainTrajectory(model, input);
  hook.timings.modelMs.push(performance.now() - t0);
  shown = policyPath;
  step = step === 0 ? model.config.model.glimpses : Math.min(step, model.config.model.glimpses);
  await render();
  if (hook.timings.firstExplainedMs === null) hook.timings.firstExplainedMs = performance.now();
}

function explanationJson(t: Trajectory) {
  const e = t.explanation;
  return {
    class_probe: t.beliefs,
    prediction: e.prediction,
    probability: e.probability,
    prior_entropy: e.priorEntropy,
    glimpses: e.glimpses.map((g) => ({
      glimpse: g.glimpse,
      x: g.x,
      y: g.y,
      lx: g.lx,
      ly: g.ly,
      prediction: g.prediction,
      probability: g.probability,
      entropy: g.entropy,
      info_gain: g.infoGain,
      cumulative_gain: g.cumulativeGain,
      probabilities: g.probabilities,
    })),
  };
}

async function eigMapFor(): Promise<EigMap | null> {
  const box = $<HTMLInputElement>("eig"), note = $("eig-note");
  note.textContent = "";
  if (!box.checked || !model || !input || !policyPath) return null;
  if (!model.vae) {
    note.textContent = "This model has no VAE probe, so no expected information gain.";
    return null;
  }
  if (shown !== policyPath) {
    note.textContent = "The map follows the policy's own path: go back to it to see it.";
    return null;
  }
  const T = model.config.model.glimpses;
  if (step >= T) {
    note.textContent = `Glimpse ${T} is the last: no next glimpse to map.`;
    return null;
  }
  const key = `${model.name}|${hook.source}|${$<HTMLInputElement>("noise").value}|${input.length}`;
  if (eigCache?.key !== key) {
    note.textContent = "computing the expected information gain…";
    await new Promise((r) => setTimeout(r, 30)); // let that line paint: the maps block
    try {
      eigCache = { key, maps: await eigMaps(model.ram, model.vae, input) };
    } catch (e) {
      note.textContent = (e as Error).message;
      return null;
    }
  }
  const m = eigCache.maps[step - 1];
  note.textContent = `Glimpse ${m.glimpse}: best ${m.bestEig.toFixed(3)} nats (×), where the ` +
    `policy looks ${m.chosenEig.toFixed(3)} (○); ${m.samples} images imagined by the probe.`;
  return m;
}

async function render(): Promise<void> {
  if (!model || !shown) return;
  const e = shown.explanation, T = e.glimpses.length;
  const eig = await eigMapFor();
  const t0 = performance.now();
  hook.layout = drawView(view, e, retina(), step, eig);
  drawRecon($("recon"), e, step);
  $("recon-caption").innerHTML = e.recon
    ? `reconstruction from h<sub>${step}</sub> (VAE probe)`
    : "this model has no VAE probe";
  const g = e.glimpses[step - 1], probe = shown.beliefs?.[step - 1] ?? null;
  drawBars($("bars"), probe ?? g.probabilities);
  let whose = "belief of the RAM's classifier head (this model has no class probe)";
  if (probe) {
    const top = probe.indexOf(Math.max(...probe));
    whose = `belief of the class probe on h${sub(step)}: ${top} with p = ${probe[top].toFixed(3)}` +
      " (the head's figures below)";
  }
  $("whose").textContent = whose;
  $("step-label").textContent = `${step} of ${T}`;
  $("gain").textContent = `predicts ${g.prediction} (p = ${g.probability.toFixed(3)}) · ` +
    `H${sub(step)} = ${g.entropy.toFixed(3)} nats · IG${sub(step)} = ${signed(g.infoGain)} · ` +
    `gained ${g.cumulativeGain.toFixed(3)} of H₀ = ${e.priorEntropy.toFixed(3)}`;
  $("where").textContent = `glimpse ${step} looked at pixel (${g.x}, ${g.y})` +
    (shown !== policyPath ? " · a counterfactual path" : "");
  const curves: Curve[] = [];
  const palette = ["#9c755f", "#b07aa1", "#76b7b2", "#edc948"];
  let legend = "solid: this digit";
  [...testCurves].forEach(([name, gains], i) => {
    curves.push({ gains, colour: palette[i % palette.length], dashed: true });
    legend += ` · dashed ${
      ["brown", "purple", "teal", "yellow"][i % 4]
    }: ${name}, mean over its test digits`;
  });
  if (shown !== policyPath && policyPath) {
    curves.push({
      gains: policyPath.explanation.glimpses.map((x) => x.cumulativeGain),
      colour: "#888",
    });
    legend += " · grey: the policy's own path";
  }
  curves.push({ gains: e.glimpses.map((x) => x.cumulativeGain), colour: "#e15759" });
  drawCurve($("curve"), curves, e.priorEntropy, step);
  $("curve-legend").textContent = `cumulative information gain H₀ − H_t (nats); ${legend}`;
  $<HTMLButtonElement>("undo").disabled = shown === policyPath;
  hook.step = step;
  hook.explanation = explanationJson(shown);
  hook.timings.stepMs.push(performance.now() - t0);
}

const sub = (t: number) => String(t).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[Number(d)]);
const signed = (v: number) => (v >= 0 ? "+" : "") + v.toFixed(3);

function go(to: number): void {
  if (!shown) return;
  const next = Math.min(shown.explanation.glimpses.length, Math.max(1, to));
  if (next === step) return;
  step = next;
  enqueue("", render);
}

let player: ReturnType<typeof setInterval> | null = null;
function togglePlay(): void {
  const button = $<HTMLButtonElement>("play");
  if (player !== null) {
    clearInterval(player);
    player = null;
    button.textContent = "play";
    return;
  }
  if (!shown) return;
  const T = shown.explanation.glimpses.length;
  if (step >= T) go(1);
  button.textContent = "pause";
  player = setInterval(() => {
    if (step >= T) togglePlay();
    else go(step + 1);
  }, 700);
}

const pad = new Pad(
  $("pad"),
  () => {
    setSource(pad.image(), "drawing", false);
    enqueue("explaining…", explainNow);
  },
  (file) => openFile(file),
);

function openFile(file: File): void {
  enqueue(`reading ${file.name}…`, async () => {
    const image = decodeGrey(new Uint8Array(await file.arrayBuffer()), file.name);
    setSource(image, file.name, true);
    await explainNow();
  });
}

function wire(): void {
  $("clear").addEventListener("click", () => pad.clear());
  $<HTMLInputElement>("file").addEventListener("change", (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file) openFile(file);
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-example]")) {
    b.addEventListener("click", () => loadExample(b.dataset.example!));
  }
  const noise = $<HTMLInputElement>("noise");
  noise.addEventListener("input", () => {
    $("noise-value").textContent = Number(noise.value).toFixed(2);
  });
  noise.addEventListener("change", () => enqueue("explaining…", explainNow));
  select.addEventListener("change", () =>
    enqueue(`loading ${select.value}…`, async () => {
      await loadModel(select.value);
      await explainNow();
    }));
  $("first").addEventListener("click", () => go(1));
  $("prev").addEventListener("click", () => go(step - 1));
  $("next").addEventListener("click", () => go(step + 1));
  $("last").addEventListener("click", () => go(Infinity));
  $("play").addEventListener("click", togglePlay);
  $("undo").addEventListener("click", () => {
    shown = policyPath;
    enqueue("", render);
  });
  $<HTMLInputElement>("eig").addEventListener(
    "change",
    () => enqueue("computing the EIG map…", render),
  );
  view.addEventListener("click", (ev) => {
    if (!model || !input || !shown || !hook.layout) return;
    const b = view.getBoundingClientRect();
    const cx = (ev.clientX - b.left) * view.width / b.width,
      cy = (ev.clientY - b.top) * view.height / b.height;
    const r = retina(), [x, y] = pixelAt(hook.layout, r, cx, cy);
    const k = Math.min(step + 1, model.config.model.glimpses);
    const base = shown, at = input;
    enqueue(`glimpse ${k} looks at (${x}, ${y})…`, async () => {
      const t0 = performance.now();
      shown = await redirect(model!, at, base, k, ...pixelLocation(x, y, r.width, r.height));
      hook.timings.modelMs.push(performance.now() - t0);
      step = k;
      await render();
    });
  });
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target as HTMLElement).tagName;
    if (tag === "INPUT" || tag === "SELECT" || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const keys: Record<string, () => void> = {
      ArrowRight: () => go(step + 1),
      ArrowLeft: () => go(step - 1),
      Home: () => go(1),
      End: () => go(Infinity),
      " ": togglePlay,
    };
    if (keys[ev.key] && !(ev.key === " " && tag === "BUTTON")) {
      ev.preventDefault();
      keys[ev.key]();
    }
  });
}

function loadExample(name: string): void {
  enqueue(`loading ${name}…`, async () => {
    setSource(decodeGrey(await fetchBytes(`examples/${name}`), name), name, true);
    await explainNow();
  });
}

async function loadTestCurves(): Promise<void> {
  for (const m of models) {
    if (!m.eig) continue;
    try {
      const table = JSON.parse(new TextDecoder().decode(await fetchBytes(m.eig))) as {
        rows: { cumulative_gain: number }[];
      };
      // eig.json is written in snake_case (report/eig.ts eigJson)
      testCurves.set(m.name, table.rows.map((r) => r.cumulative_gain));
    } catch {
      // a missing or odd table only loses its curve
    }
  }
}

wire();
enqueue("starting…", async () => {
  await acquireGpu();
  models = JSON.parse(new TextDecoder().decode(await fetchBytes("models.json"))) as ListedModel[];
  if (models.length === 0) throw new Error("models.json lists no model");
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.reward})`, m.name)));
  const asked = new URLSearchParams(location.search).get("model");
  select.value = models.some((m) => m.name === asked) ? asked! : models[0].name;
  await loadModel(select.value);
  await loadTestCurves();
  setSource(decodeGrey(await fetchBytes("examples/seven.png"), "seven.png"), "seven.png", true);
  await explainNow();
});
