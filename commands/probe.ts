/**
 * `glimpse probe --model runs/NAME [--epochs N] [--no-vae] [--no-cls]`: trains the VAE probe
 * and the class probe (probe/cls.ts) on a frozen, already trained RAM's recurrent states
 * (probe/train.ts; both on the same rollouts of the training split only), creating each probe
 * when the run has none and continuing it otherwise, and writes the checkpoint back. A probe
 * left out by its flag is written back as it was read. The RAM's tensors, its Adam moments
 * and the trainer's state are written back exactly as they were read.
 *
 * @module
 */
import { saveCheckpoint } from "../run/checkpoint.ts";
import { openRun, runFolderOf } from "../run/load_run.ts";
import { lockRunFolder } from "../run/run_lock.ts";
import { trainProbe } from "../probe/train.ts";
import { datasetOptionsOf, type RunConfig } from "../run/run_config.ts";
import { limitSplit } from "../run/trainer.ts";
import { createVaeFor } from "../probe/vae.ts";
import { resolveVaeRunConfig } from "../probe/vae_config.ts";
import { backendOption } from "./backend.ts";
import { createClassProbeFor, resolveClsRunConfig } from "../probe/cls.ts";
import { intOption, OptionError } from "./options.ts";
import { ProgressBar, writeStderr } from "./progress.ts";
import { loadModelData } from "./run_data.ts";

/** The options of `probe`, as commander hands them over. */
export interface ProbeFlags {
  model: string;
  epochs?: string;
  backend?: string;
  /** false with --no-vae. */
  vae?: boolean;
  /** false with --no-cls. */
  cls?: boolean;
  json?: boolean;
}

/** Default epochs of `probe`. */
export const PROBE_EPOCHS = 5;

/** Runs `probe`; returns the exit code. */
export async function probeCommand(flags: ProbeFlags): Promise<number> {
  const epochs = intOption("--epochs", flags.epochs, 0) ?? PROBE_EPOCHS;
  const backendName = backendOption(flags.backend);
  // The probe writes the run's checkpoint back: it holds the folder like a training does.
  const dir = await runFolderOf(flags.model);
  const isFolder = await Deno.stat(dir).then((i) => i.isDirectory, () => false);
  if (!isFolder) await openRun(flags.model, { backend: backendName }); // its one-line error
  const lock = await lockRunFolder(dir, "a probe training");
  let run;
  try {
    run = await openRun(flags.model, { backend: backendName });
  } catch (e) {
    await lock.release();
    throw e;
  }
  try {
    const saved = run.config;
    const ds = await loadModelData(
      { spec: saved.dataset, options: datasetOptionsOf(saved) },
      saved.model,
      run.dir,
    );
    const split = saved.limit ? limitSplit(ds.train, saved.limit) : ds.train;
    const ck0 = run.checkpoint;
    const trainVae = flags.vae !== false, trainCls = flags.cls !== false;
    if (!trainVae && !trainCls) {
      throw new OptionError("--no-vae --no-cls: there is no probe left to train");
    }
    // A probe added to a trained run would train alongside from the next epoch of `train --resume`.
    const next = run.meta.epoch + 1;
    const config: RunConfig = {
      ...saved,
      vae: saved.vae ?? (trainVae ? resolveVaeRunConfig({ start: next }) : null),
      ...(saved.cls || trainCls ? { cls: saved.cls ?? resolveClsRunConfig({ start: next })! } : {}),
    };
    const v = config.vae;
    const vae = !trainVae ? null : run.vae ?? await createVaeFor(run.ram, {
      hidden: v!.hidden,
      latent: v!.latent,
      pixels: v!.pixels,
      lr: v!.lr,
    }, config.train.seed);
    const cls = !trainCls
      ? null
      : run.classProbe ?? await createClassProbeFor(run.ram, config.cls!, config.train.seed);
    try {
      const what = [
        vae
          ? `${run.vae ? "continuing" : "creating"} the VAE probe (step ` +
            `${(await vae.getState()).step})`
          : "",
        cls
          ? `${run.classProbe ? "continuing" : "creating"} the class probe (step ` +
            `${(await cls.getState()).step})`
          : "",
      ].filter((x) => x !== "").join(" and ");
      writeStderr(
        `${what} of ${run.dir} (RAM epoch ${run.meta.epoch}) on ${ds.name} train ` +
          `(${split.size} images), ${epochs} epochs, backend ${run.description}\n`,
      );
      const started = performance.now();
      let bar: ProgressBar | undefined;
      const results = await trainProbe({
        ram: run.ram,
        vae,
        cls,
        split,
        epochs,
        batch: config.train.batch,
        seed: config.train.seed,
        vaeRowsPerImage: config.vae?.rowsPerImage,
        onStep: (done, batches, e) => {
          // one bar over the whole run, so the ETA is to the last epoch's end
          bar ??= new ProgressBar("probe", epochs * batches, "batch");
          bar.update((e - 1) * batches + done, `probe epoch ${e}/${epochs}`);
        },
        onEpoch: (m) => {
          bar?.done();
          const parts = [
            m.vae_loss !== null
              ? `VAE loss ${m.vae_loss.toFixed(2)} (bce ${m.vae_bce!.toFixed(2)}, kl ` +
                `${m.vae_kl!.toFixed(2)})`
              : "",
            m.cls_nll !== null
              ? `class probe NLL ${m.cls_nll.toFixed(4)}, accuracy ` +
                `${(100 * m.cls_accuracy!).toFixed(2)}% (all glimpses)`
              : "",
          ].filter((x) => x !== "");
          writeStderr(
            `probe epoch ${m.epoch}/${epochs}: ${parts.join("; ")}, ${m.seconds.toFixed(1)} s\n`,
          );
        },
      });
      // A probe not trained now is written back as it was read.
      const vaeState = vae ? await vae.getState() : ck0.vae ?? undefined;
      const clsState = cls ? await cls.getState() : ck0.cls ?? undefined;
      const ck = run.checkpoint;
      // The RAM's state as read, not as re-read from the backend: bit-identical by construction.
      await saveCheckpoint(
        run.dir,
        {
          params: ck.params,
          adamM: ck.optimizer?.adamM ?? new Map(),
          adamV: ck.optimizer?.adamV ?? new Map(),
          step: ck.meta.step,
        },
        { config, epoch: ck.meta.epoch, step: ck.meta.step, batch: ck.meta.batch },
        ck.optimizer?.trainer ?? {},
        vaeState,
        { optimizer: ck.optimizer !== undefined, cls: clsState },
      );
      writeStderr(
        `wrote ${run.dir} (` +
          [
            vaeState ? `VAE probe step ${vaeState.step}` : "",
            clsState ? `class probe step ${clsState.step}` : "",
          ].filter((x) => x !== "").join(", ") + ")\n",
      );
      if (flags.json) {
        const last = results.at(-1);
        console.log(JSON.stringify({
          model: run.dir,
          epochs: results.length,
          vae_step: vaeState?.step ?? null,
          vae_loss: last?.vae_loss ?? null,
          vae_bce: last?.vae_bce ?? null,
          vae_kl: last?.vae_kl ?? null,
          cls_step: clsState?.step ?? null,
          cls_nll: last?.cls_nll ?? null,
          cls_accuracy: last?.cls_accuracy ?? null,
          backend: run.ram.name,
          seconds: (performance.now() - started) / 1000,
        }));
      }
      return 0;
    } finally {
      if (!run.vae) vae?.dispose();
      if (!run.classProbe) cls?.dispose();
    }
  } finally {
    run.close();
    await lock.release();
  }
}
