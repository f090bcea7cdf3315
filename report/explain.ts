/**
 * The explanation of one input: follow the policy's mean from the centre, and after every
 * glimpse report where it looked, what the classifier believes (prediction, probability,
 * entropy H_t, information gain IG_t = H_{t−1} − H_t with H_0 = ln C) and, when the run has a
 * VAE probe, what the recurrent state "remembers" of the image (the probe's decoded μ).
 * {@link explanationFigures} draws it; {@link explanationText} prints it.
 *
 * @module
 */
import type { RamBackend } from "../ram/backend.ts";
import type { Vae } from "../probe/vae.ts";
import type { RetinaShape } from "../kernels/retina_ref.ts";
import { glimpseOverlay, locationPixel } from "./glimpse_overlay.ts";
import { reconGrid } from "./recon_grid.ts";
import type { Figure } from "./figure.ts";
import { rowEntropy } from "../kernels/softmax_ref.ts";

/** What the model did and knew at one glimpse. */
export interface GlimpseExplanation {
  /** Glimpse t, 1-based. */
  glimpse: number;
  /** Location (lx column, ly row) in [−1, 1]. */
  lx: number;
  /** Row coordinate of the location in [−1, 1]. */
  ly: number;
  /** The pixel (column, row) of the input the glimpse is centred on. */
  x: number;
  /** Row of that pixel. */
  y: number;
  /** argmax p_t and p_t of it. */
  prediction: number;
  /** p_t of the prediction. */
  probability: number;
  /** p_t (C). */
  probabilities: number[];
  /** H_t in nats. */
  entropy: number;
  /** IG_t = H_{t−1} − H_t in nats (H_0 = ln C). */
  infoGain: number;
  /** H_0 − H_t. */
  cumulativeGain: number;
}

/** An explanation of one input. */
export interface Explanation {
  /** The model's input (height, width). */
  input: Float32Array;
  /** Input height in pixels. */
  height: number;
  /** Input width in pixels. */
  width: number;
  /** H_0 = ln C. */
  priorEntropy: number;
  /** One entry per glimpse, 1..T. */
  glimpses: GlimpseExplanation[];
  /** The last glimpse's prediction and its probability. */
  prediction: number;
  /** p_T of the prediction. */
  probability: number;
  /** The probe's reconstruction after each glimpse (T, pixels), or null without a probe. */
  recon: Float32Array | null;
  /** Side of each reconstruction (square), e.g. 28. */
  reconSide: number;
  /** The recurrent state after each glimpse (T, hidden): what the probes read. */
  hidden: Float32Array;
}

/**
 * Where an explained rollout looks: the first location and, per action, how far from the
 * policy's mean the next location is placed (a = μ + σ·ε, clamped to [−1, 1]). The browser
 * explorer's counterfactual ("look there next instead") is a policy noise ε that lands one
 * glimpse where the user clicked while the others follow the mean.
 */
export interface Steering {
  /** l_1 (2); default the centre. */
  start?: Float32Array;
  /** ε for actions a_1..a_{T−1} (T−1, 2); default zeros (the policy's mean). */
  policy?: Float32Array;
}

/**
 * Explains `input` (height, width) in [0, 1]: one deterministic rollout from the centre
 * following the policy mean (or as `steer` says), plus the probe's reconstructions when `vae`
 * is given.
 *
 * @example
 * ```ts
 * import { loadRun } from "../run/load_run.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * import { explainInput } from "./explain.ts";
 * const input = new Float32Array(28 * 28).fill(0);
 * for (let y = 6; y < 22; y++) input[y * 28 + 14] = 1; // a "1"
 * const e = await explainInput(run.ram, run.vae, input);
 * console.log(e.prediction, e.glimpses.map((g) => g.infoGain));
 * run.close();
 * ```
 */
export async function explainInput(
  ram: RamBackend,
  vae: Vae | null,
  input: Float32Array,
  steer: Steering = {},
): Promise<Explanation> {
  const { height, width, glimpses: T, classes: C } = ram.config;
  if (input.length !== height * width) {
    throw new Error(
      `explain: the input has ${input.length} values, the model takes ${width}×${height}`,
    );
  }
  const rollout = await ram.rollout(
    { size: 1, images: input, labels: new Int32Array(1) },
    steer.policy
      ? { stochastic: true, start: steer.start ?? new Float32Array(2), policy: steer.policy }
      : { stochastic: false, start: steer.start ?? new Float32Array(2) },
  );
  const prior = Math.log(C);
  const glimpses: GlimpseExplanation[] = [];
  let prevH = prior;
  for (let t = 0; t < T; t++) {
    const logp = rollout.logp.subarray(t * C, (t + 1) * C); // (T, 1, C) row t
    const probabilities = Array.from(logp, (v) => Math.exp(v));
    let best = 0;
    for (let c = 0; c < C; c++) if (logp[c] > logp[best]) best = c;
    const h = rowEntropy(logp, 0, C);
    const lx = rollout.locations[2 * t], ly = rollout.locations[2 * t + 1];
    const [x, y] = locationPixel(lx, ly, width, height);
    glimpses.push({
      glimpse: t + 1,
      lx,
      ly,
      x,
      y,
      prediction: best,
      probability: probabilities[best],
      probabilities,
      entropy: h,
      infoGain: prevH - h,
      cumulativeGain: prior - h,
    });
    prevH = h;
  }
  let recon: Float32Array | null = null, reconSide = 28;
  if (vae) {
    recon = await vae.reconstruct(rollout.hidden); // (T·1, pixels)
    reconSide = Math.round(Math.sqrt(vae.config.pixels));
    if (reconSide * reconSide !== vae.config.pixels) {
      throw new Error(`explain: the probe's ${vae.config.pixels} pixels are not a square image`);
    }
  }
  const last = glimpses[T - 1];
  return {
    input,
    height,
    width,
    priorEntropy: prior,
    glimpses,
    prediction: last.prediction,
    probability: last.probability,
    recon,
    reconSide,
    hidden: rollout.hidden,
  };
}

/** A class's display name: `classNames[c]` when given, else the index. */
function className(c: number, classNames?: readonly string[]): string {
  return classNames?.[c] ?? String(c);
}

/**
 * The overlay (every glimpse's patches, numbered) and, with a probe, the reconstruction grid of
 * an explanation. `clean` (28, 28) adds the clean-digit column for canvas inputs.
 *
 * @example
 * ```ts
 * import { loadRun } from "../run/load_run.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * import { explainInput, explanationFigures } from "./explain.ts";
 * import { figurePng } from "./figure.ts";
 * const e = await explainInput(run.ram, run.vae, new Float32Array(28 * 28));
 * const { overlay, recon } = explanationFigures(e, run.config.model);
 * const png = await figurePng(recon ?? overlay);
 * run.close();
 * ```
 */
export function explanationFigures(
  e: Explanation,
  retina: RetinaShape,
  options: { clean?: Float32Array; classNames?: readonly string[] } = {},
): { overlay: Figure; recon: Figure | null } {
  const name = (c: number) => className(c, options.classNames);
  const locations = e.glimpses.flatMap((g) => [g.lx, g.ly]);
  const { figure: overlay } = glimpseOverlay(e.input, locations, retina, {
    caption: `predicted ${name(e.prediction)} (p = ${e.probability.toFixed(3)}) after ` +
      `${e.glimpses.length} glimpses`,
  });
  if (!e.recon) return { overlay, recon: null };
  const side = e.reconSide;
  const recon = reconGrid([{
    input: e.input,
    clean: options.clean,
    recon: e.recon,
    captions: e.glimpses.map((g) => `${name(g.prediction)} · ${(100 * g.probability).toFixed(0)}%`),
  }], {
    inputHeight: e.height,
    inputWidth: e.width,
    reconHeight: side,
    reconWidth: side,
    glimpses: e.glimpses.length,
  });
  return { overlay, recon };
}

/**
 * The per-glimpse table as text: location in pixels, prediction with its probability, entropy,
 * information gain and cumulative gain.
 *
 * @example
 * ```ts
 * import { loadRun } from "../run/load_run.ts";
 * const run = await loadRun("checkpoints/mnist-classification", { backend: "cpu" });
 * import { explainInput, explanationText } from "./explain.ts";
 * console.log(explanationText(await explainInput(run.ram, run.vae, new Float32Array(28 * 28))));
 * run.close();
 * ```
 */
export function explanationText(e: Explanation, classNames?: readonly string[]): string {
  const head = ["glimpse", "at (x, y)", "prediction", "p", "H_t (nats)", "IG_t", "H_0 − H_t"];
  const rows = e.glimpses.map((g) => [
    String(g.glimpse),
    `(${g.x}, ${g.y})`,
    className(g.prediction, classNames),
    g.probability.toFixed(3),
    g.entropy.toFixed(4),
    (g.infoGain >= 0 ? "+" : "") + g.infoGain.toFixed(4),
    g.cumulativeGain.toFixed(4),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join("  ");
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}
