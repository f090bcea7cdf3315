/**
 * What the probes trained alongside cost: training steps per second at the default config
 * (batch 128, 6 glimpses, hidden 256; VAE probe 256→256→16, class probe "separate") with
 * no probe, with both probes on the training step's own states and the VAE probe on one row per
 * image of a share of each batch's images (`vae.rowsPerImage` 1 and `vae.imageFraction`, both
 * the defaults; `--vae-images F` sets the share for these modes), with both probes on the step's
 * states and the VAE probe on every row of every image (`all`, rowsPerImage T, before), and, as
 * run/trainer.ts runs them on the cpu backend, with the default probes in a Worker one step
 * behind the RAM (probe/pipeline.ts; `worker`, left out where the probes cannot run in one, e.g.
 * webgpu), and, as the trainer runs them where the RAM splits its steps over cores, in the gaps
 * of those lanes (probe/beside.ts; `beside`, and `beside-all` with the VAE probe on every image,
 * imageFraction 1; left out without lanes). The modes alternate in
 * rounds on the same backend so that a loaded machine disturbs every mode alike; the ratios per
 * round are the figure to read, and their medians are printed, in wall time and in process CPU
 * time (the Worker's thread included). Two threads pipelined need two idle cores: on a loaded
 * machine the `worker` figures say nothing.
 *
 *   deno run -A bench/probe_cost.ts [--backend auto|cpu|webgpu] [--rounds 5] [--steps 10]
 *     [--vae-images 0.5] [--modes none,beside,beside-all] [--quiet]
 *
 * `--modes` picks the modes (none is always in); on a machine whose speed drifts within seconds,
 * a few modes in many short rounds (`--modes none,beside,beside-all --rounds 80 --steps 8`)
 * cancel the drift best. Besides the median of the per-round ratios it prints the ratio of the
 * modes' total times. `--quiet` leaves out the rounds.
 *
 * Per step the RAM costs about 0.97 GFLOP; the VAE probe on T·B = 768 rows about
 * 768·(256·256 + 256·16·2 + 16·256 + 256·784)·2·3 ≈ 1.3 GFLOP (forward and backward), on
 * B = 128 rows a sixth of it; the class probe (one 128 × 256 × 10 product per glimpse) far less.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import type { Batch, StepNoise } from "../ram/backend.ts";
import { resolveRamConfig, resolveTrainConfig } from "../ram/config.ts";
import { Rng } from "../util/rng.ts";
import { openBackend } from "../run/backend.ts";
import { backendOption } from "../commands/backend.ts";
import { createVaeFor, VAE_NOISE_STREAM } from "../probe/vae.ts";
import { createClassProbeFor, DEFAULT_CLS_RUN } from "../probe/cls.ts";
import { ProbeStep } from "../probe/step.ts";
import { ProbePipeline } from "../probe/pipeline.ts";
import { ProbeBeside } from "../probe/beside.ts";
import { DEFAULT_VAE_RUN } from "../probe/vae_config.ts";
import { classificationReward } from "../tests/_ram_fixture.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "auto" },
    rounds: { type: "string", default: "5" },
    modes: { type: "string" },
    quiet: { type: "boolean", default: false },
    steps: { type: "string", default: "10" },
    "vae-images": { type: "string", default: String(DEFAULT_VAE_RUN.imageFraction) },
  },
});
const rounds = Number(args.values.rounds), steps = Number(args.values.steps);
const share = Number(args.values["vae-images"]);
const cfg = resolveRamConfig({});
const train = resolveTrainConfig({});
const B = train.batch, T = cfg.glimpses, HW = cfg.height * cfg.width;
const opened = await openBackend(backendOption(args.values.backend), cfg, 1);
const ram = opened.backend;
const vae = await createVaeFor(ram, {}, 1);
const cls = await createClassProbeFor(ram, DEFAULT_CLS_RUN, 1);
const probe = new ProbeStep(ram, vae, 1, B, undefined, cls, 1, share);
const probeAll = new ProbeStep(ram, vae, 1, B, undefined, cls, T);
const probeEvery = new ProbeStep(ram, vae, 1, B, undefined, cls, 1, 1);
const pipe = await ProbePipeline.open<number>({
  ram: ram.config,
  vae,
  cls,
  seed: 1,
  maxBatch: B,
  stream: VAE_NOISE_STREAM,
  vaeRowsPerImage: 1,
  vaeImageFraction: share,
});

// Seeded random images and labels: the cost does not depend on the pixels.
const rng = new Rng(7);
const images = new Float32Array(B * HW);
rng.fillUniform(images, 0, 1);
const labels = Int32Array.from({ length: B }, (_, i) => i % cfg.classes);
const batch: Batch = { size: B, images, labels };
probe.clean(B).set(images);
probeAll.clean(B).set(images);
const noise: StepNoise = {
  start: new Float32Array(B * 2),
  policy: new Float32Array((T - 1) * B * 2),
};

// The trainer's way where the RAM runs in lanes: the probes in the lanes' gaps.
const sides = ram.hidesBeside?.(B)
  ? {
    beside: new ProbeBeside<number>({ probe, ram: ram.config, maxBatch: B }),
    "beside-all": new ProbeBeside<number>({ probe: probeEvery, ram: ram.config, maxBatch: B }),
  }
  : null;

type Mode = "none" | "states" | "all" | "worker" | "beside" | "beside-all";
const ALL_MODES: Mode[] = ["none", "states", "all", "worker", "beside", "beside-all"];
const picked = args.values.modes?.split(",").map((m) => m.trim());
for (const m of picked ?? []) {
  if (!ALL_MODES.includes(m as Mode)) {
    throw new Error(`--modes: unknown mode "${m}" (${ALL_MODES.join(", ")})`);
  }
}
const MODES = ALL_MODES.filter((m) =>
  (m === "none" || !picked || picked.includes(m)) &&
  (m === "worker" ? pipe !== null : m.startsWith("beside") ? sides !== null : true)
);
let k = 0;
async function step(mode: Mode): Promise<void> {
  const r = new Rng(k++);
  r.fillUniform(noise.start, -1, 1);
  r.fillNormal(noise.policy);
  const side = mode === "beside" || mode === "beside-all" ? sides![mode] : null;
  // Beside the lanes the states and targets go into the probes' own buffers, as the trainer
  // does (the targets copied in, as its batch fill writes them).
  const hidden = mode === "none" ? undefined : side ? side.hidden(B) : probe.hidden(B);
  side?.clean(B).set(images);
  const beside = side?.work(B, { vae: true, cls: true });
  await ram.trainStep(batch, classificationReward, noise, train, { hidden, beside });
  if (mode === "states") await probe.step(batch, noise, 1, k, { hidden });
  if (mode === "all") await probeAll.step(batch, noise, 1, k, { hidden });
  if (mode === "worker") {
    const o = await pipe!.post(
      hidden!,
      probe.clean(B),
      labels,
      B,
      1,
      k,
      { vae: true, cls: true },
      k,
    );
    if (o?.error) throw o.error;
  }
  if (side) {
    const o = side.post(hidden!, side.clean(B), labels, B, 1, k, { vae: true, cls: true }, k);
    if (o?.error) throw o.error;
  }
}

async function timed(mode: Mode): Promise<{ ms: number; cpuMs: number }> {
  const c0 = cpuUsage(), t0 = performance.now();
  for (let i = 0; i < steps; i++) await step(mode);
  if (mode === "worker") {
    const o = await pipe!.settle(); // the last step's probes are part of this mode's time
    if (o?.error) throw o.error;
  }
  if (mode === "beside" || mode === "beside-all") {
    const o = sides![mode].settle();
    if (o?.error) throw o.error;
  }
  const c = cpuUsage(c0);
  return { ms: (performance.now() - t0) / steps, cpuMs: (c.user + c.system) / 1000 / steps };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`backend: ${opened.description}; ${opened.decision.reason}`);
for (const mode of MODES) for (let i = 0; i < 2; i++) await step(mode); // warm up
const per: Record<Mode, { ms: number; cpuMs: number }[]> = {
  none: [],
  states: [],
  all: [],
  worker: [],
  beside: [],
  "beside-all": [],
};
for (let r = 0; r < rounds; r++) {
  // Rotate the order so no mode always runs first in a round.
  const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
  for (const mode of order) per[mode].push(await timed(mode));
  if (args.values.quiet) continue;
  console.log(
    `round ${r + 1}: ` +
      MODES.map((m) => `${m} ${per[m][r].ms.toFixed(1)} ms (cpu ${per[m][r].cpuMs.toFixed(1)})`)
        .join(", "),
  );
}
const sum = (m: Mode) => per[m].reduce((s, x) => s + x.ms, 0);
const ratio = (m: Mode, key: "ms" | "cpuMs") =>
  median(per[m].map((x, r) => x[key] / per.none[r][key]));
const one = `probes, VAE on 1 row of ${share === 1 ? "every image" : `${share} of the images`}`;
const what: Record<Mode, string> = {
  none: "",
  states: one,
  all: `probes, VAE on all ${T} rows of every image`,
  worker: `${one}, in a Worker one step behind`,
  beside: `${one}, beside the RAM's lanes one step behind`,
  "beside-all": "probes, VAE on 1 row of every image, beside the RAM's lanes one step behind",
};
for (const m of MODES.slice(1)) {
  console.log(
    `${what[m]}: ` +
      `${ratio(m, "ms").toFixed(3)}× the time of training without probes ` +
      `(CPU time ${
        ratio(m, "cpuMs").toFixed(3)
      }×), median of ${rounds} rounds of ${steps} steps; ` +
      `ratio of the total times ${(sum(m) / sum("none")).toFixed(3)}×`,
  );
}
console.log(
  `without probes: ${median(per.none.map((x) => x.ms)).toFixed(1)} ms a step, ` +
    `${(B / median(per.none.map((x) => x.ms)) * 1000).toFixed(0)} img/s`,
);
pipe?.close();
vae.dispose();
cls.dispose();
opened.close();
