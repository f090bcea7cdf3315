/**
 * Fixtures for the explain and compare tests: tiny runs on disk (random RAM and probe weights,
 * 28×28 input so the probe's 784-pixel target fits) and a synthetic digit drawn as a PNG.
 *
 * @module
 */
import { encode as encodePng } from "fast-png";
import { saveCheckpoint } from "../run/checkpoint.ts";
import { CpuRam } from "../ram/cpu.ts";
import { CpuVae } from "../probe/vae_cpu.ts";
import { Rng } from "../util/rng.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import { vaeModelConfig } from "../probe/vae_config.ts";

/** What a tiny run may change. */
export interface TinyRunOptions {
  /** With a VAE probe (default true). */
  vae?: boolean;
  seed?: number;
  glimpses?: number;
  /** The run config's `data` (default: plain). */
  data?: Record<string, unknown>;
}

/** A small 28×28 RAM: 4 glimpses, two scales, narrow layers. */
export function tinyRunConfig(
  reward: "classification" | "entropy",
  over: TinyRunOptions = {},
): RunConfig {
  return resolveRunConfig({
    dataset: "mnist-10k",
    ...(over.data ? { data: over.data } : {}),
    limit: null,
    validation: 0,
    plateau: 0,
    reward: { spec: reward, name: reward, options: reward === "entropy" ? { beta: 0.5 } : {} },
    model: {
      glimpses: over.glimpses ?? 4,
      patch: 8,
      scales: 2,
      glimpseHidden: 16,
      locationHidden: 8,
      glimpseOut: 16,
      hidden: 16,
      policyHidden: 8,
    },
    train: { epochs: 1, batch: 8, seed: over.seed ?? 3 },
    vae: over.vae === false ? null : { hidden: 12, latent: 3, pixels: 784 },
  });
}

/**
 * Writes a run with random weights (scaled so the classifier is far from uniform and the policy
 * moves) into `dir`; returns its config.
 */
export async function writeTinyRun(
  dir: string,
  reward: "classification" | "entropy",
  over: TinyRunOptions = {},
): Promise<RunConfig> {
  const config = tinyRunConfig(reward, over);
  const ram = new CpuRam(config.model, config.train.seed);
  const state = await ram.getState();
  const rng = new Rng(config.train.seed + 100);
  for (const t of state.params.values()) rng.fillUniform(t.data, -0.6, 0.6);
  let vae;
  if (config.vae) {
    const v = new CpuVae(vaeModelConfig(config.model, config.vae), config.train.seed + 1);
    vae = await v.getState();
    for (const t of vae.params.values()) rng.fillUniform(t.data, -0.5, 0.5);
  }
  await saveCheckpoint(dir, state, { config, epoch: 1, step: 1, batch: 0 }, {}, vae);
  return config;
}

/**
 * A hand-drawn-looking "7" as an RGB PNG: dark strokes (width 4) on light paper, `w`×`h`,
 * so explain has to convert to grey, invert and fit it.
 */
export function sevenPng(w = 50, h = 60): Uint8Array {
  const data = new Uint8Array(w * h * 3).fill(235);
  const ink = (x: number, y: number) => {
    for (let dy = 0; dy < 4; dy++) {
      for (let dx = 0; dx < 4; dx++) {
        const px = x + dx, py = y + dy;
        if (px >= 0 && py >= 0 && px < w && py < h) data.set([30, 30, 60], 3 * (py * w + px));
      }
    }
  };
  const x0 = Math.round(w * 0.2), x1 = Math.round(w * 0.75);
  const y0 = Math.round(h * 0.15), y1 = Math.round(h * 0.85);
  for (let x = x0; x <= x1; x++) ink(x, y0); // top bar
  for (let y = y0; y <= y1; y++) ink(Math.round(x1 - ((y - y0) / (y1 - y0)) * (x1 - x0) * 0.6), y);
  return encodePng({ width: w, height: h, channels: 3, depth: 8, data });
}
