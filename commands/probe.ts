/**
 * `glimpse probe --model runs/NAME [--epochs N]`: trains the VAE probe on a frozen, already
 * trained RAM's recurrent states (probe/train.ts), creating the probe when the run has none and
 * continuing it otherwise, and writes the checkpoint back. The RAM's tensors, its Adam moments
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
import { intOption } from "./options.ts";
import { writeStderr } from "./progress.ts";
import { loadModelData } from "./run_data.ts";

/** The options of `probe`, as commander hands them over. */
export interface ProbeFlags {
  model: string;
  epochs?: string;
  backend?: string;
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
    // A probe added to a trained run would train alongside from the next epoch of `train --resume`.
    const config: RunConfig = saved.vae
      ? saved
      : { ...saved, vae: resolveVaeRunConfig({ start: run.meta.epoch + 1 }) };
    const v = config.vae!;
    const vae = run.vae ?? await createVaeFor(run.ram, {
      hidden: v.hidden,
      latent: v.latent,
      pixels: v.pixels,
      lr: v.lr,
    }, config.train.seed);
    try {
      const before = (await vae.getState()).step;
      writeStderr(
        `${run.vae ? "continuing" : "creating"} the VAE probe of ${run.dir} (RAM epoch ` +
          `${run.meta.epoch}, probe step ${before}) on ${ds.name} train (${split.size} images), ` +
          `${epochs} epochs, backend ${run.description}\n`,
      );
      const started = performance.now();
      const terminal = Deno.stderr.isTerminal();
      const results = await trainProbe({
        ram: run.ram,
        vae,
        split,
        epochs,
        batch: config.train.batch,
        seed: config.train.seed,
        onStep: terminal
          ? (done, total, e) => writeStderr(`\r\x1b[2Kepoch ${e}/${epochs}: ${done}/${total}`)
          : undefined,
        onEpoch: (m) => {
          if (terminal) writeStderr("\r\x1b[2K");
          writeStderr(
            `probe epoch ${m.epoch}/${epochs}: loss ${m.vae_loss.toFixed(2)} (bce ` +
              `${m.vae_bce.toFixed(2)}, kl ${m.vae_kl.toFixed(2)}), ${m.seconds.toFixed(1)} s\n`,
          );
        },
      });
      const vaeState = await vae.getState();
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
        { optimizer: ck.optimizer !== undefined },
      );
      writeStderr(`wrote ${run.dir} (probe step ${vaeState.step})\n`);
      if (flags.json) {
        const last = results.at(-1);
        console.log(JSON.stringify({
          model: run.dir,
          epochs: results.length,
          vae_step: vaeState.step,
          vae_loss: last?.vae_loss ?? null,
          vae_bce: last?.vae_bce ?? null,
          vae_kl: last?.vae_kl ?? null,
          backend: run.ram.name,
          seconds: (performance.now() - started) / 1000,
        }));
      }
      return 0;
    } finally {
      if (!run.vae) vae.dispose();
    }
  } finally {
    run.close();
    await lock.release();
  }
}
