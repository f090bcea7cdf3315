/**
 * `glimpse explain IMAGE`: what a trained RAM looked at and what it knew after each glimpse.
 * The image (PNG of any colour type/bit depth, or JPEG) is decoded to grey, fitted to the
 * model's input, and the policy's mean is followed from the centre. Writes NAME.glimpses.png
 * (the patches of every glimpse on the enlarged input, numbered) and NAME.recon.png (the VAE
 * probe's reconstruction after each glimpse) and prints a per-glimpse table, or with --json one
 * object on stdout. `--eig-map` adds NAME.eigmap.png: the expected information gain of the next
 * glimpse at every candidate location (run/eig_map.ts).
 *
 * Every check (image, checkpoint, sizes) runs before the first file is written, and each file is
 * written atomically, so a failure leaves nothing half-written.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { readGreyImage } from "../datasets/image.ts";
import { toModelInput } from "../datasets/model_input.ts";
import { loadRun } from "../run/load_run.ts";
import { explainInput, explanationFigures, explanationText } from "../report/explain.ts";
import { figurePng } from "../report/figure.ts";
import { type EigMap, eigMaps } from "../run/eig_map.ts";
import { eigMapFigure } from "../report/eig_map_figure.ts";
import { locationPixel } from "../report/glimpse_overlay.ts";
import { writeFileAtomic } from "../util/write_atomic.ts";
import { resolveBackendOption } from "./backend.ts";
import { OptionError } from "./options.ts";
import { writeStderr } from "./progress.ts";

/** The options of `explain`, as commander hands them over. */
export interface ExplainFlags {
  model?: string;
  out?: string;
  json?: boolean;
  /** false with --no-fit. */
  fit?: boolean;
  backend?: string;
  /** --eig-map: also write NAME.eigmap.png. */
  eigMap?: boolean;
}

/** The shipped models `explain` uses without --model, in order of preference. */
export const SHIPPED_MODELS: readonly string[] = [
  "checkpoints/mnist-entropy",
  "checkpoints/mnist-classification",
];

/** Where explain writes without --out. */
export const DEFAULT_EXPLAIN_OUT = "runs/explain";

async function exists(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null)) !== null;
}

/**
 * The model folder: --model as given, else the first shipped model found in the working folder
 * or beside this module (so a fresh clone works from any folder).
 */
export async function defaultModel(): Promise<string> {
  const roots = ["."];
  const here = new URL("..", import.meta.url);
  if (here.protocol === "file:") roots.push(fileURLToPath(here).replace(/\/$/, ""));
  for (const root of roots) {
    for (const m of SHIPPED_MODELS) {
      const dir = root === "." ? m : `${root}/${m}`;
      if (await exists(`${dir}/model.safetensors`)) return dir;
    }
  }
  throw new OptionError(
    `no --model given and no shipped model found (${SHIPPED_MODELS.join(", ")}); ` +
      "train one with deno task train and pass --model runs/NAME",
  );
}

/** The class names of a model's dataset, when they are not the digits 0..C−1. */
async function classNamesOf(dataset: string, classes: number): Promise<string[] | undefined> {
  if (dataset !== "fashion-mnist") return undefined;
  const { FASHION_MNIST_CLASSES } = await import("../datasets/fashion.ts");
  return FASHION_MNIST_CLASSES.length === classes ? [...FASHION_MNIST_CLASSES] : undefined;
}

function mapJson(m: EigMap) {
  return {
    glimpse: m.glimpse,
    entropy_before: m.entropy,
    best: { lx: m.best[0], ly: m.best[1], eig: m.bestEig },
    policy: { lx: m.chosen[0], ly: m.chosen[1], eig: m.chosenEig },
    samples: m.samples,
    grid: m.grid,
    eig: Array.from(m.eig),
  };
}

/** One line per map: the best candidate's EIG and the EIG where the policy's mean looked. */
function eigMapText(maps: readonly EigMap[], width: number, height: number): string {
  const at = (l: [number, number]) => `(${locationPixel(l[0], l[1], width, height).join(", ")})`;
  const { samples, grid } = maps[0];
  const lines = [
    `expected information gain of the next glimpse (nats; ${samples} images imagined by the ` +
    `probe, ${grid}×${grid} candidate locations):`,
  ];
  for (const m of maps) {
    lines.push(
      `  glimpse ${m.glimpse}: best ${m.bestEig.toFixed(4)} at ${at(m.best)}; ` +
        `where the policy looked ${m.chosenEig.toFixed(4)} at ${at(m.chosen)}`,
    );
  }
  return lines.join("\n");
}

function baseName(path: string): string {
  const file = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
  const dot = file.lastIndexOf(".");
  return (dot > 0 ? file.slice(0, dot) : file) || "image";
}

/**
 * Runs `explain` on `image`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { explainCommand } from "./explain.ts";
 * await explainCommand("examples/seven.png", { out: "docs", backend: "cpu" });
 * ```
 */
export async function explainCommand(image: string, flags: ExplainFlags): Promise<number> {
  const backend = (await resolveBackendOption(flags.backend)).name;
  const out = (flags.out ?? DEFAULT_EXPLAIN_OUT).replace(/\/+$/, "") || "/";
  if (flags.out !== undefined && flags.out.trim() === "") {
    throw new OptionError(`--out "": expected a folder`);
  }
  const outInfo = await Deno.stat(out).catch(() => null);
  if (outInfo && !outInfo.isDirectory) {
    throw new OptionError(`--out "${out}": exists and is not a folder`);
  }
  const grey = await readGreyImage(image);
  const modelDir = flags.model ?? await defaultModel();
  const run = await loadRun(modelDir, { backend, optimizer: false });
  try {
    const m = run.config.model;
    let prepared;
    try {
      prepared = toModelInput(grey, m.height, m.width, flags.fit ?? true);
    } catch (e) {
      throw new Error(`${image}: ${(e as Error).message}`);
    }
    const explanation = await explainInput(run.ram, run.vae, prepared.input);
    const classNames = await classNamesOf(run.config.dataset, m.classes);
    const figures = explanationFigures(explanation, m, { clean: prepared.clean, classNames });
    let maps: EigMap[] | null = null, eigMapPng: Uint8Array | null = null;
    if (flags.eigMap) {
      if (!run.vae) {
        throw new OptionError(
          `--eig-map needs a VAE probe and ${run.dir} has none; add one with ` +
            `deno task probe --model ${run.dir}`,
        );
      }
      maps = await eigMaps(run.ram, run.vae, prepared.input);
      eigMapPng = await figurePng(eigMapFigure(prepared.input, m.height, m.width, maps));
    }
    // render both before writing either: a rendering failure leaves no files behind
    const overlayPng = await figurePng(figures.overlay);
    const reconPng = figures.recon ? await figurePng(figures.recon) : null;
    const name = baseName(image);
    const files = {
      glimpses: `${out}/${name}.glimpses.png`,
      recon: reconPng ? `${out}/${name}.recon.png` : null,
      ...(eigMapPng ? { eig_map: `${out}/${name}.eigmap.png` } : {}),
    };
    try {
      await Deno.mkdir(out, { recursive: true });
    } catch (e) {
      throw new Error(`Cannot create the --out folder "${out}": ${(e as Error).message}`);
    }
    await writeFileAtomic(files.glimpses, overlayPng);
    if (reconPng && files.recon) await writeFileAtomic(files.recon, reconPng);
    if (eigMapPng && files.eig_map) await writeFileAtomic(files.eig_map, eigMapPng);
    const reward = run.config.reward.name;
    const label = (c: number) => classNames?.[c] ?? String(c);
    if (flags.json) {
      console.log(JSON.stringify({
        image,
        model: run.dir,
        reward,
        epoch: run.meta.epoch,
        backend: run.ram.name,
        input: { width: m.width, height: m.height, fitted: flags.fit ?? true, how: prepared.how },
        prediction: explanation.prediction,
        class: label(explanation.prediction),
        probability: explanation.probability,
        prior_entropy: explanation.priorEntropy,
        glimpses: explanation.glimpses.map((g) => ({
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
        ...(maps ? { eig_map: maps.map(mapJson) } : {}),
        files,
      }));
    } else {
      console.log(
        `${image}: ${prepared.how}; model ${run.dir} (reward ${reward}, epoch ${run.meta.epoch}), ` +
          `backend ${run.description}, policy mean from the centre\n`,
      );
      console.log(explanationText(explanation, classNames));
      console.log(
        `prediction: ${label(explanation.prediction)} (p = ${
          explanation.probability.toFixed(4)
        }); ` +
          `information gained ${explanation.glimpses.at(-1)!.cumulativeGain.toFixed(4)} of H_0 = ${
            explanation.priorEntropy.toFixed(4)
          } nats`,
      );
      if (maps) console.log("\n" + eigMapText(maps, m.width, m.height));
      console.log(`wrote ${Object.values(files).filter((f) => f !== null).join(", ")}`);
    }
    if (!run.vae) {
      writeStderr(
        `note: ${run.dir} has no VAE probe, so no ${name}.recon.png; add one with ` +
          `deno task probe --model ${run.dir}\n`,
      );
    }
    return 0;
  } finally {
    run.close();
  }
}
