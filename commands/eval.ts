/**
 * `glimpse eval --model runs/NAME`: test error and per-glimpse accuracy of a checkpoint, on
 * stderr for people and, with --json, as one JSON object on stdout.
 *
 * @module
 */
import { checkpointState, loadCheckpoint } from "../model/checkpoint.ts";
import { evaluate } from "../model/evaluate.ts";
import { loadDataset } from "../datasets/load.ts";
import { backendOption, openBackend } from "./backend.ts";
import { intOption, OptionError } from "./options.ts";
import { writeStderr } from "./progress.ts";

/** The options of `eval`, as commander hands them over. */
export interface EvalFlags {
  model: string;
  dataset?: string;
  backend?: string;
  stochastic?: boolean;
  mc?: string;
  json?: boolean;
}

/** Runs `eval`; returns the exit code. */
export async function evalCommand(flags: EvalFlags): Promise<number> {
  const mc = intOption("--mc", flags.mc, 1);
  const backendName = backendOption(flags.backend);
  if (flags.dataset !== undefined && flags.dataset.trim() === "") {
    throw new OptionError(`--dataset "": expected a dataset name such as mnist`);
  }
  const ckpt = await loadCheckpoint(flags.model);
  const config = ckpt.meta.config;
  const datasetSpec = flags.dataset ?? config.dataset;
  const ds = await loadDataset(datasetSpec, { seed: config.train.seed });
  const m = config.model;
  if (ds.height !== m.height || ds.width !== m.width || ds.classes !== m.classes) {
    throw new Error(
      `--dataset ${datasetSpec}: its ${ds.height}×${ds.width} images of ${ds.classes} classes ` +
        `do not fit the model in ${flags.model} (${m.height}×${m.width}, ${m.classes} classes)`,
    );
  }
  const opened = await openBackend(backendName, m, config.train.seed);
  try {
    opened.backend.setState(checkpointState(ckpt));
    const stochastic = (flags.stochastic ?? false) || (mc ?? 1) > 1;
    const how = mc !== undefined && mc > 1
      ? `${mc} stochastic rollouts averaged`
      : stochastic
      ? "stochastic policy"
      : "policy mean from the centre";
    writeStderr(
      `evaluating ${flags.model} (epoch ${ckpt.meta.epoch}) on ${ds.name} test ` +
        `(${ds.test.size} images), ${how}, backend ${opened.description}\n`,
    );
    const terminal = Deno.stderr.isTerminal();
    const r = await evaluate(opened.backend, ds.test, {
      stochastic,
      mc,
      seed: config.train.seed,
      batch: config.train.batch,
      onBatch: terminal ? (done, total) => writeStderr(`\r\x1b[2K${done}/${total}`) : undefined,
    });
    if (terminal) writeStderr("\r\x1b[2K");
    const rows = r.accuracy.map((a, t) => `  glimpse ${t + 1}: accuracy ${(100 * a).toFixed(2)}%`);
    writeStderr(
      `test error ${(100 * r.error).toFixed(2)}% (nll ${r.nll.toFixed(4)})\n${rows.join("\n")}\n`,
    );
    if (flags.json) {
      console.log(JSON.stringify({
        model: flags.model,
        epoch: ckpt.meta.epoch,
        dataset: ds.name,
        backend: opened.backend.name,
        mode: r.mode,
        rollouts: r.rollouts,
        samples: r.samples,
        test_error: r.error,
        nll: r.nll,
        accuracy_per_glimpse: r.accuracy,
      }));
    }
    return 0;
  } finally {
    opened.close();
  }
}
