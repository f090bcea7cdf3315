/**
 * Checkpoints whose step can be read off every tensor, for the crash tests: state(step) fills
 * the parameters with `step`, Adam's first moment with step + 0.25 and the second with
 * step + 0.5, so a model from one step beside an optimizer from another shows in the values as
 * well as in the metadata. Also a script (run as `deno run -A _run_folder_fixture.ts DIR`) that
 * saves steps 1, 2, 3, … into DIR until it is killed, printing each step once saved.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import { initParams } from "../ram/params.ts";
import { loadCheckpoint, saveCheckpoint } from "../run/checkpoint.ts";
import { type CommitHook, currentCheckpointFile } from "../run/checkpoint_commit.ts";

/** A small run config (no probe). */
export const FIXTURE_CONFIG: RunConfig = resolveRunConfig({
  dataset: "mnist-10k",
  limit: null,
  validation: 0,
  plateau: 0,
  reward: { spec: "classification", name: "classification", options: {} },
  model: { glimpses: 2 },
  train: { epochs: 1000, seed: 3 },
  vae: null,
});

/** The training state of step `step` (every value derived from it). */
export function stepState(step: number): TrainState {
  const params = initParams(FIXTURE_CONFIG.model, 1);
  const filled = (v: number): ParamMap =>
    new Map([...params].map(([n, t]) => [n, { shape: [...t.shape], data: t.data.map(() => v) }]));
  return { params: filled(step), adamM: filled(step + 0.25), adamV: filled(step + 0.5), step };
}

/** Saves step `step` (epoch = step, metrics.jsonl with `step` lines) into `dir`. */
export async function saveStep(dir: string, step: number, hook?: CommitHook): Promise<void> {
  const lines = Array.from({ length: step }, (_, i) => JSON.stringify({ epoch: i + 1 }) + "\n");
  await saveCheckpoint(
    dir,
    stepState(step),
    { config: FIXTURE_CONFIG, epoch: step, step, batch: 0 },
    { lr: 0.1 },
    undefined,
    { files: { "metrics.jsonl": lines.join("") }, hook },
  );
}

/** Asserts that `dir` holds one whole checkpoint and returns its step. */
export async function assertWholeCheckpoint(dir: string): Promise<number> {
  const ck = await loadCheckpoint(dir, { optimizer: true });
  const step = ck.meta.step;
  assert.equal(ck.meta.epoch, step);
  for (const [name, t] of ck.params) {
    assert.ok(t.data.every((v) => v === step), `${name} is from step ${step}`);
    assert.ok(ck.optimizer!.adamM.get(name)!.data.every((v) => v === step + 0.25));
    assert.ok(ck.optimizer!.adamV.get(name)!.data.every((v) => v === step + 0.5));
  }
  const metricsFile = await currentCheckpointFile(dir, "metrics.jsonl");
  const metrics = (await Deno.readTextFile(metricsFile)).trim().split("\n");
  assert.equal(metrics.length, step, "metrics.jsonl is from the same step");
  return step;
}

if (import.meta.main) {
  const dir = Deno.args[0];
  // one line per saved step, so that a test knows how far it got before killing it
  for (let step = 1;; step++) {
    await saveStep(dir, step);
    console.log(step);
  }
}
