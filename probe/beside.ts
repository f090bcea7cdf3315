/**
 * The cpu probes trained one step behind the RAM, on the host's thread, in the gaps of the RAM's
 * lanes (ram/blas_lanes.ts): the probes' forward while the lanes run the RAM's forward, their
 * loss and gradients during its backward, their Adam during its Adam. The host's lane takes
 * fewer of the batch's rows to make room ({@link probeCostRows}; ram/blas_lanes.ts laneSplit),
 * so every core stays busy and no third thread competes for two cores.
 *
 * Why: the probes' Worker (probe/pipeline.ts) is a third thread beside two lanes on a 2-core
 * machine, and the lanes wait for each other three times a step, so the time-slicing stalls
 * both; giving it a whole core leaves the RAM one lane (bench/probe_cost.ts has the figures).
 *
 * It has {@link ProbePipeline}'s interface, so the trainer treats both alike: {@link post}
 * takes step k's states, targets and labels (copying them unless they were written into its own
 * {@link ProbeBeside.hidden} and {@link ProbeBeside.clean}) and returns the outcome of step k − 1, whose
 * parts ran beside RAM step k ({@link work}, passed as TrainStepOptions.beside). Parts that no
 * RAM step ran (the first step, a step that failed early, the epoch's last) run when the
 * outcome is taken. Probe step k reads only the states of RAM step k (detached) and the probes'
 * own parameters, and its parts run in order on the same inputs, so the probes' parameters, Adam
 * state and losses are bit for bit those of the sequential path (tests/probe_beside_test.ts).
 * The probes are the host's own objects: there is no copy to sync.
 *
 * @module
 */
import type { Batch, BesideWork } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import type { VaeConfig } from "./vae_params.ts";
import { vaeImages } from "./vae_config.ts";
import type { ClsConfig } from "./cls_params.ts";
import type { ProbePhases } from "./vae_api.ts";
import type { ProbeOutcome } from "./pipeline.ts";
import type { ProbeStep, ProbeStepResult } from "./step.ts";

/**
 * Calibration of {@link probeCostRows}, measured on the development machine (AVX-512, OpenBLAS
 * 0.3.21 on one thread; bench/cpu_step_bench.ts, 2026-11-30): a product runs at about 100 GFLOP/s,
 * the VAE's loss costs 3 ns a pixel (util/simd.ts's f32x4 loop on the probe's own heap: 0.28 ms
 * for 128 × 784, the targets' copy in), Adam 0.6 ns a parameter (likewise), the rest of a probe
 * step (its other element-wise work, the class probe's softmax, ε, the calls) about 0.5 ms (a
 * step alone took 2.05 ms with the VAE probe on half the images and 3.48 with every image, the
 * terms before this one 1.51 and 2.73), and the RAM's training step 0.121 ms a row at the default
 * config (8.7 MFLOP of products a row, so 14 ps a FLOP with its element-wise work counted in).
 */
const NS_PER_FLOP = 0.01, NS_PER_PIXEL = 3, NS_PER_PARAM = 0.6, NS_PER_STEP = 500_000;
const RAM_NS_PER_FLOP = 0.014;
/**
 * How much slower the probes' parts run beside a lane on the other core than alone (the two
 * share caches: 2.46 CPU ms a step against 2.05 alone with the VAE probe on half the images).
 * The model puts the host's lane at 54 of 128 rows with the default half of the images, where a
 * sweep of the split ran alike from 51 to 59 rows (1.24–1.26× a step without probes, 9
 * alternating rounds, 2026-11-30), and at 48 with every image, where a sweep of the code before
 * (its probes' step then 3.5 ms alone) ran fastest from 44 to 49 rows.
 */
const CONTENTION = 1.2;

/** Multiply-adds of a stack of linear layers of widths `w` (w[0] → w[1] → …), per row. */
function macs(...w: number[]): number {
  let n = 0;
  for (let i = 0; i + 1 < w.length; i++) n += w[i] * w[i + 1];
  return n;
}

/**
 * The probes' training step on a batch of B, in rows of the RAM's training step: a cost model
 * from the sizes (products at 6 FLOPs a multiply-add for forward and backward, the VAE's loss per
 * pixel, Adam per parameter, a fixed part per step) with the constants above. It only sets how
 * many rows the host's lane gives up; a wrong estimate costs time, never correctness. It depends
 * only on the configs, so a run's split, and so its numbers, repeat exactly.
 */
export function probeCostRows(
  ram: RamConfig,
  vae: VaeConfig | null,
  vaeRowsPerImage: number,
  cls: ClsConfig | null,
  B: number,
  vaeImageFraction = 1,
): number {
  let ns = vae || cls ? NS_PER_STEP : 0;
  if (vae) {
    const { input, hidden: Hd, latent: L, pixels: P } = vae;
    const R = vaeRowsPerImage * vaeImages(B, vaeImageFraction),
      linear = macs(input, Hd, 2 * L) + macs(L, Hd, P);
    const params = linear + 3 * Hd + 2 * L + P;
    ns += R * (6 * linear * NS_PER_FLOP + P * NS_PER_PIXEL) + params * NS_PER_PARAM;
  }
  if (cls) {
    const { input: H, glimpses: T, classes: C, hidden: Hd } = cls;
    const perRow = Hd > 0 ? macs(H, Hd, C) : H * C, R = T * B;
    const params = (Hd > 0 ? T * H * Hd + Hd * C : T * H * C) + Hd + C;
    ns += R * 6 * perRow * NS_PER_FLOP + params * NS_PER_PARAM;
  }
  // The RAM's step per row: its products over T glimpses (glimpse network, core, heads).
  const { glimpses: T, hidden: H, glimpseHidden: g, locationHidden: l, glimpseOut: O } = ram;
  const core = ram.core === "lstm" ? 4 : 1, ph = ram.policyHidden;
  const ramMacs = T * (ram.patch * ram.patch * ram.scales * g + 2 * l + (g + l) * O +
    core * (O + H) * H + H * ph + 2 * ph + H * (ram.classes + 1));
  const ramRowNs = 6 * ramMacs * RAM_NS_PER_FLOP;
  return CONTENTION * ns / ramRowNs;
}

/** One posted step: its inputs' copies and its parts, and how far they have run. */
interface Pending<Tag> {
  tag: Tag;
  which: { vae: boolean; cls: boolean };
  phases: ProbePhases<ProbeStepResult> | null;
  done: number; // parts run: 0 none, 1 forward, 2 backward, 3 adam
  result: ProbeStepResult | null;
  error: Error | null;
}

/** The options of {@link ProbeBeside.open}. */
export interface ProbeBesideOptions {
  /** The probes' step (its RAM is only read for sizes; states are always given). */
  probe: ProbeStep;
  /** The RAM's config (for the cost model). */
  ram: RamConfig;
  /** Largest batch. */
  maxBatch: number;
}

/**
 * The probes one step behind the RAM, run in the gaps of its lanes. `Tag` is whatever the caller
 * wants back with a step's outcome (the trainer's epoch, batch and step, for its errors).
 *
 * @example
 * ```ts ignore
 * import { ProbeBeside } from "./beside.ts";
 * const side = new ProbeBeside<number>({ probe, ram: ram.config, maxBatch: B });
 * const which = { vae: true, cls: true };
 * await ram.trainStep(batch, reward, noise, train, { hidden, beside: side.work(B, which) });
 * const before = side.post(hidden, clean, labels, B, epoch, k, which, k);
 * const last = side.settle(); // the step just posted
 * ```
 */
export class ProbeBeside<Tag> {
  readonly #probe: ProbeStep;
  readonly #ram: RamConfig;
  // Two sets of step buffers: the pending step reads one while the RAM's next step fills the
  // other (handed out by hidden() and clean()), so post() copies nothing in the trainer's use.
  readonly #sets: { hidden: Float32Array; clean: Float32Array; labels: Int32Array }[];
  #free = 0;
  readonly #costs = new Map<string, number>();
  #pending: Pending<Tag> | null = null;

  constructor(o: ProbeBesideOptions) {
    this.#probe = o.probe;
    this.#ram = o.ram;
    const { glimpses: T, hidden: H } = o.ram;
    this.#sets = [0, 1].map(() => ({
      hidden: new Float32Array(T * o.maxBatch * H), // (T, maxBatch, H)
      clean: new Float32Array(o.maxBatch * (o.probe.vae?.config.pixels ?? 0)), // (maxBatch, P)
      labels: new Int32Array(o.maxBatch),
    }));
  }

  /**
   * A buffer for the next RAM step's states (T, n, H) (its TrainStepOptions.hidden): one the
   * step waiting does not read. Posted back, it is taken without a copy.
   */
  hidden(n: number): Float32Array {
    const { glimpses: T, hidden: H } = this.#ram;
    return this.#sets[this.#free].hidden.subarray(0, T * n * H);
  }

  /** A buffer for the next batch's clean targets (n, pixels), as {@link hidden}. */
  clean(n: number): Float32Array {
    return this.#sets[this.#free].clean.subarray(0, n * (this.#probe.vae?.config.pixels ?? 0));
  }

  /**
   * The work to pass as the next RAM step's TrainStepOptions.beside (a batch of B, whose own
   * probe step will train `which` probes): the parts of the step posted last that have not run,
   * if any. Undefined when the step trains no probe. Its `rows` depend only on B and `which`,
   * not on whether a step is waiting, so the lanes split every step of an epoch alike, and a
   * resumed run (whose first step finds nothing waiting) splits its steps, and so computes
   * its numbers, as the uninterrupted run did.
   */
  work(B: number, which: { vae: boolean; cls: boolean }): BesideWork | undefined {
    if (!which.vae && !which.cls) return undefined;
    const probe = this.#probe, { vae, cls } = which;
    const key = `${B}:${vae}:${cls}`;
    let rows = this.#costs.get(key);
    if (rows === undefined) {
      rows = probeCostRows(
        this.#ram,
        vae ? probe.vae?.config ?? null : null,
        probe.vaeRowsPerImage,
        cls ? probe.cls?.config ?? null : null,
        B,
        probe.vaeImageFraction,
      );
      this.#costs.set(key, rows);
    }
    const p = this.#pending && this.#pending.done === 0 ? this.#pending : null;
    const run = (upTo: number) => () => {
      if (p) this.#run(p, upTo);
    };
    return { rows, forward: run(1), backward: run(2), adam: run(3) };
  }

  /**
   * Takes one probe step on `hidden` (T, n, H), `clean` (n, pixels; read when `which.vae`) and
   * `labels` (n), copied unless they are this object's own {@link hidden} and {@link clean}
   * buffers (then the caller fills the next ones those return), so the caller may overwrite
   * what it passed at once; its parts run beside the
   * next RAM step ({@link work}) or at the next {@link post} or {@link settle}. Returns the
   * outcome of the step posted before (null when there was none), finishing it first.
   */
  post(
    hidden: Float32Array,
    clean: Float32Array | null,
    labels: Int32Array,
    n: number,
    epoch: number,
    k: number,
    which: { vae: boolean; cls: boolean },
    tag: Tag,
  ): ProbeOutcome<Tag> | null {
    const before = this.settle();
    const set = this.#sets[this.#free];
    this.#free ^= 1; // the next step fills the other set
    const own = (a: Float32Array, b: Float32Array) =>
      a.buffer === b.buffer && a.byteOffset === b.byteOffset;
    const h = set.hidden.subarray(0, hidden.length);
    if (!own(hidden, h)) h.set(hidden);
    const c = which.vae && clean ? set.clean.subarray(0, clean.length) : undefined;
    if (c && !own(clean!, c)) c.set(clean!);
    const y = set.labels.subarray(0, n);
    y.set(labels.subarray(0, n));
    const batch: Batch = { size: n, images: new Float32Array(0), labels: y };
    const p: Pending<Tag> = { tag, which, phases: null, done: 0, result: null, error: null };
    try {
      p.phases = this.#probe.phased(batch, epoch, k, { hidden: h, clean: c, ...which });
    } catch (err) {
      p.error = err as Error;
      p.done = 3;
    }
    this.#pending = p;
    return before;
  }

  /** Finishes the step posted last and returns its outcome, or null when none is waiting. */
  settle(): ProbeOutcome<Tag> | null {
    const p = this.#pending;
    if (!p) return null;
    this.#pending = null;
    this.#run(p, 3);
    return p.error ? { tag: p.tag, result: null, error: p.error } : {
      tag: p.tag,
      result: p.result!,
      error: null,
    };
  }

  /** Nothing to do: the probes are the host's own (for the trainer, as ProbePipeline.syncTo). */
  syncTo(): Promise<void> {
    if (this.#pending) throw new Error("probe beside: syncTo() with a step not settled");
    return Promise.resolve();
  }

  /** Drops a step not settled. */
  close(): void {
    this.#pending = null;
  }

  /** Runs the parts of `p` up to `upTo` (1..3) that have not run; an error ends it. */
  #run(p: Pending<Tag>, upTo: number): void {
    while (p.done < upTo && p.error === null) {
      try {
        const phases = p.phases!;
        if (p.done === 0) phases.forward();
        else if (p.done === 1) p.result = phases.backward();
        else phases.adam();
        p.done++;
      } catch (err) {
        p.error = err as Error;
        p.done = 3;
      }
    }
  }
}
