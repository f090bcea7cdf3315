/**
 * The cpu probes trained one step behind the RAM, in a Worker, on the second core.
 *
 * The RAM never reads the probes: probe step k reads only the states of RAM step k (detached)
 * and the probes' own parameters. So while the main thread runs RAM step k+1, a Worker
 * (probe/step_worker.ts) can run probe step k: the same {@link ProbeStep} on the same states,
 * ε and rows, in the same order, so the probes' parameters, Adam state and losses are bit for
 * bit those of the sequential path (tests/probe_pipeline_test.ts holds them to it). Training
 * with the probes then costs about the RAM's own time on two cores (bench/probe_cost.ts). The
 * trainer uses it where the RAM runs on one lane; where the RAM splits its steps over the
 * cores, the probes run in the gaps of its lanes instead (probe/beside.ts: a third thread beside
 * two lanes on two cores stalls both).
 *
 * The Worker owns copies of the probes while the pipeline is open: it starts from the host
 * probes' state, and {@link ProbePipeline.syncTo} writes its state back into them (before a
 * checkpoint, and whenever the host reads them). One step is in flight at most: posting step
 * k+1 first waits for step k, whose outcome it returns. Each step's states, clean targets and
 * labels are copied into buffers handed to the Worker and handed back with its reply, so the
 * host's step buffers are free again at once and nothing is allocated per step.
 *
 * Only the cpu probes go through a Worker; {@link ProbePipeline.open} returns null where it
 * cannot reproduce them there (webgpu probes live on the host's device, products other than
 * the references or the machine's BLAS, no Worker), and the caller steps them on the host.
 *
 * @module
 */
import type { RamConfig } from "../ram/config.ts";
import type { TrainState } from "../ram/backend.ts";
import type { Vae } from "./vae_api.ts";
import type { VaeConfig } from "./vae_params.ts";
import type { ClassProbe } from "./cls_api.ts";
import type { ClsConfig } from "./cls_params.ts";
import type { ProbeStepResult } from "./step.ts";

/** Which products a probe copy runs (kernels/linear_blas.ts linearKind). */
export type LinearKind = "reference" | "blas";

/** Messages to the Worker. */
export type ToWorker =
  | {
    type: "open";
    ram: RamConfig;
    vae: { config: VaeConfig; linear: LinearKind; state: TrainState } | null;
    cls: { config: ClsConfig; linear: LinearKind; state: TrainState } | null;
    seed: number;
    maxBatch: number;
    stream: number;
    vaeRowsPerImage: number;
    vaeImageFraction: number;
  }
  | {
    type: "step";
    /** Images in the batch; the buffers hold (T, n, H) states, (n, pixels) targets, (n) labels. */
    n: number;
    epoch: number;
    k: number;
    vae: boolean;
    cls: boolean;
    hidden: ArrayBuffer;
    clean: ArrayBuffer;
    labels: ArrayBuffer;
  }
  | { type: "getState" };

/** Replies of the Worker, one per message, in order. */
export type FromWorker =
  | { type: "opened" }
  | {
    type: "step";
    result: ProbeStepResult | null;
    /** The step's error message, when it threw. */
    error: string | null;
    hidden: ArrayBuffer;
    clean: ArrayBuffer;
    labels: ArrayBuffer;
  }
  | { type: "state"; vae: TrainState | null; cls: TrainState | null }
  /** The message could not be handled (not a probe step's own error). */
  | { type: "failed"; message: string };

/** What became of one posted step: its result, or the error the sequential step would throw. */
export type ProbeOutcome<Tag> =
  | { tag: Tag; result: ProbeStepResult; error: null }
  | { tag: Tag; result: null; error: Error };

/** How to open a pipeline: what {@link ProbeStep}'s constructor takes, and the RAM's sizes. */
export interface ProbePipelineOptions {
  /** The RAM's config (sizes only: the Worker never sees the RAM). */
  ram: RamConfig;
  vae: Vae | null;
  cls: ClassProbe | null;
  seed: number;
  maxBatch: number;
  /** ε's stream (ProbeStep's `stream`). */
  stream: number;
  vaeRowsPerImage: number;
  /** Share of a batch's images the VAE probe steps on (ProbeStep's; default 1). */
  vaeImageFraction?: number;
}

interface Buffers {
  hidden: ArrayBuffer;
  clean: ArrayBuffer;
  labels: ArrayBuffer;
}

/** "reference" or "blas" when a Worker can run the same products as `probe`, else null. */
function linearOf(probe: Vae | ClassProbe | null): LinearKind | null {
  if (!probe || probe.name !== "cpu") return null;
  const kind = (probe as { linear?: string }).linear;
  return kind === "reference" || kind === "blas" ? kind : null;
}

/**
 * The probes in a Worker, one step behind the caller. `Tag` is whatever the caller wants back
 * with a step's outcome (the trainer's epoch, batch and step, for its errors).
 *
 * @example
 * ```ts ignore
 * import { ProbePipeline } from "./pipeline.ts";
 * const pipe = await ProbePipeline.open<number>({ ram: ram.config, vae, cls, seed, maxBatch: B,
 *   stream: VAE_NOISE_STREAM, vaeRowsPerImage: 1 });
 * const before = await pipe!.post(hidden, clean, labels, n, epoch, k, { vae: true, cls: true }, k);
 * const last = await pipe!.settle(); // the step just posted
 * await pipe!.syncTo(); // vae and cls hold the Worker's state
 * pipe!.close();
 * ```
 */
export class ProbePipeline<Tag> {
  readonly #worker: Worker;
  readonly #vae: Vae | null;
  readonly #cls: ClassProbe | null;
  #buffers: Buffers | null;
  #pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  #inFlight: Promise<ProbeOutcome<Tag>> | null = null;
  #broken: Error | null = null;

  private constructor(worker: Worker, o: ProbePipelineOptions) {
    this.#worker = worker;
    this.#vae = o.vae;
    this.#cls = o.cls;
    const { glimpses: T, hidden: H } = o.ram;
    this.#buffers = {
      hidden: new ArrayBuffer(T * o.maxBatch * H * 4), // (T, maxBatch, H) f32
      clean: new ArrayBuffer(o.maxBatch * (o.vae?.config.pixels ?? 0) * 4), // (maxBatch, pixels)
      labels: new ArrayBuffer(o.maxBatch * 4), // (maxBatch) i32
    };
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#reply(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // the host handles it: the run fails with this error, it does not crash
      this.#fail(new Error(`probe worker: ${e.message}`));
    };
    worker.onmessageerror = () => this.#fail(new Error("probe worker: a reply could not be read"));
  }

  /**
   * Opens a Worker with copies of `vae` and `cls` (their current state), or returns null when
   * they cannot run there (see the module doc); throws when the Worker fails to start.
   */
  static async open<Tag>(o: ProbePipelineOptions): Promise<ProbePipeline<Tag> | null> {
    if (typeof Worker !== "function" || (!o.vae && !o.cls)) return null;
    const vaeLinear = linearOf(o.vae), clsLinear = linearOf(o.cls);
    if ((o.vae && !vaeLinear) || (o.cls && !clsLinear)) return null;
    const worker = new Worker(new URL("./step_worker.ts", import.meta.url), { type: "module" });
    const pipe = new ProbePipeline<Tag>(worker, o);
    try {
      await pipe.#request({
        type: "open",
        ram: { ...o.ram },
        vae: o.vae
          ? { config: o.vae.config, linear: vaeLinear!, state: await o.vae.getState() }
          : null,
        cls: o.cls
          ? { config: o.cls.config, linear: clsLinear!, state: await o.cls.getState() }
          : null,
        seed: o.seed,
        maxBatch: o.maxBatch,
        stream: o.stream,
        vaeRowsPerImage: o.vaeRowsPerImage,
        vaeImageFraction: o.vaeImageFraction ?? 1,
      }, "opened");
    } catch (err) {
      pipe.close();
      throw err;
    }
    return pipe;
  }

  /**
   * Hands the Worker one probe step on `hidden` (T, n, H), `clean` (n, pixels; read when
   * `which.vae`) and `labels` (n), copied, so the caller may overwrite them at once. First waits
   * for the step posted before, and returns its outcome (null when there was none).
   */
  async post(
    hidden: Float32Array,
    clean: Float32Array | null,
    labels: Int32Array,
    n: number,
    epoch: number,
    k: number,
    which: { vae: boolean; cls: boolean },
    tag: Tag,
  ): Promise<ProbeOutcome<Tag> | null> {
    const before = await this.settle();
    const b = this.#buffers;
    if (!b) throw this.#broken ?? new Error("probe pipeline: its buffers are with the Worker");
    new Float32Array(b.hidden, 0, hidden.length).set(hidden);
    if (which.vae && clean) new Float32Array(b.clean, 0, clean.length).set(clean);
    new Int32Array(b.labels, 0, n).set(labels.subarray(0, n));
    this.#buffers = null;
    const reply = this.#request(
      { type: "step", n, epoch, k, vae: which.vae, cls: which.cls, ...b },
      "step",
      [b.hidden, b.clean, b.labels],
    );
    const outcome = reply.then((m): ProbeOutcome<Tag> => {
      if (m.type !== "step") throw new Error(`probe worker: replied ${m.type} to a step`);
      this.#buffers = { hidden: m.hidden, clean: m.clean, labels: m.labels };
      return m.error !== null
        ? { tag, result: null, error: new Error(m.error) }
        : { tag, result: m.result!, error: null };
    });
    // Read by the next settle(); until then a crash must not surface as an unhandled rejection.
    outcome.catch(() => {});
    this.#inFlight = outcome;
    return before;
  }

  /** Waits for the step in flight and returns its outcome, or null when none is. */
  async settle(): Promise<ProbeOutcome<Tag> | null> {
    const p = this.#inFlight;
    if (!p) return null;
    this.#inFlight = null;
    return await p;
  }

  /**
   * Writes the Worker's probe state into the host probes given to {@link ProbePipeline.open}
   * (call it with no step in flight: {@link ProbePipeline.settle} first, and handle the outcome).
   */
  async syncTo(): Promise<void> {
    if (this.#inFlight) throw new Error("probe pipeline: syncTo() with a step in flight");
    const m = await this.#request({ type: "getState" }, "state");
    if (m.type !== "state") return;
    if (this.#vae && m.vae) this.#vae.setState(m.vae);
    if (this.#cls && m.cls) this.#cls.setState(m.cls);
  }

  /** Stops the Worker (a step in flight is dropped). */
  close(): void {
    this.#worker.terminate();
    this.#fail(new Error("probe pipeline: closed"));
  }

  #request(msg: ToWorker, want: FromWorker["type"], transfer: Transferable[] = []) {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#pending) {
      return Promise.reject(new Error("probe pipeline: a request to the Worker is in flight"));
    }
    return new Promise<FromWorker>((resolve, reject) => {
      this.#pending = {
        resolve: (m) => {
          if (m.type === "failed") reject(new Error(m.message));
          else if (m.type !== want) {
            reject(new Error(`probe worker: replied ${m.type}, not ${want}`));
          } else resolve(m);
        },
        reject,
      };
      this.#worker.postMessage(msg, transfer);
    });
  }

  #reply(m: FromWorker): void {
    const p = this.#pending;
    this.#pending = null;
    p?.resolve(m);
  }

  #fail(err: Error): void {
    this.#broken ??= err;
    const p = this.#pending;
    this.#pending = null;
    p?.reject(err);
  }
}
