/**
 * The fast CPU backend on several cores at once: the batch split into lanes, each lane's rows
 * run through the whole forward and backward (ram/blas_pass.ts) on its own core; then one Adam
 * step on the lanes' summed gradients, the parameters split in ranges over the same lanes.
 *
 * Why lanes and not a threaded BLAS: at batch 128 the products are small (128×256×256 and
 * less), and a BLAS that splits each of them over two threads pays a handover per product for
 * little work; measured here, OpenBLAS on 2 threads trains 19% faster than on 1. A lane instead
 * hands over three times a step (after the forward, for the rewards; after the backward; after
 * Adam), and each core runs its own sequence of single-threaded products.
 *
 * The maths is the one-lane maths: the forward is row-wise, and every loss term is a mean over
 * the batch, so lane k's backward over its rows with means taken over the whole batch
 * (blasBackward's `total`) gives its share of the gradient, and the shares add up to the
 * whole batch's. Only the order of additions differs, so the numbers agree with one lane to
 * float rounding (tests/blas_lanes_test.ts), and a run is repeatable with the same lane count.
 *
 * Lane 0 runs on the host's thread; lanes 1… each on a `node:worker_threads` Worker (this same
 * module), unref'd while idle so they never keep a process alive. Every buffer a Worker reads
 * or writes lives in a SharedArrayBuffer: the parameters and Adam moments (the host's own flat
 * buffers), and per lane its slice of the batch, its workspace and its gradients. The host
 * writes a lane's inputs, posts one command, runs lane 0, then waits for the answers. A lane is
 * opened by a message (its buffers); from then on commands and answers go through a small
 * shared handoff block ({@link LaneSync}: Atomics.wait and notify, about 10 µs a handoff against
 * 138 µs for a message there and back), and nothing is copied. OpenBLAS is set to one thread
 * while lanes are open (its thread count is global to the process). The parameters, moments and gradient shares live in one shared WebAssembly
 * memory where it runs (util/simd.ts), so each lane's Adam range is one f32x4 loop.
 *
 * Work beside (ram/backend.ts BesideWork, the probes' step: probe/beside.ts): the host's lane
 * takes `rows` fewer rows (laneSplit) and a share of Adam's range to match, and after its own
 * part of the forward, the backward and Adam it runs the work's part of each, while the other
 * lanes finish theirs. Two cores then stay busy without a third thread competing for them.
 *
 * @module
 */
import type { GroupLrs, RamConfig } from "./config.ts";
import {
  type ActionFill,
  blasBackward,
  blasForward,
  givenFill,
  noiseFill,
  Workspace,
} from "./blas_pass.ts";
import {
  adamRange,
  bindBlasNet,
  type BlasLayout,
  blasLayout,
  type BlasNet,
  sumBiases,
} from "./blas_layout.ts";
import { type Blas, loadBlas, type Sgemm } from "../util/blas.ts";
import type { BesideWork } from "./backend.ts";
import { SimdHeap } from "../util/simd.ts";

/** What a lane's Worker is started with, so that no other Worker importing this serves lanes. */
const LANE_MARK = "glimpse-blas-lane";

/** Fewest rows a lane gets: below this a lane's products are too small to pay for the handover. */
export const MIN_LANE_ROWS = 32;

/** A Float32Array over shared memory. */
export const sharedF32 = (n: number): Float32Array =>
  new Float32Array(new SharedArrayBuffer(4 * n));

/** One lane's buffers, shared between the host and the lane's Worker. */
export interface LaneBuffers {
  capacity: number;
  ws: Workspace;
  /** The shared WebAssembly memory `ws` lives in (Workspace.inHeap), or null. */
  memory: WebAssembly.Memory | null;
  images: Float32Array; // (capacity, height·width)
  labels: Int32Array; // (capacity)
  start: Float32Array; // (capacity, 2)
  /** (T−1, capacity, 2): policy noise ε ("noise") or the actions themselves ("given"). */
  actions: Float32Array;
  returns: Float32Array; // (T−1, capacity)
}

/** How a lane's forward picks a_t from μ_t: the mean, μ + σε, or given actions. */
export type LaneMode = "mean" | "noise" | "given";

/**
 * The parameters, Adam moments and every lane's gradient share (lane 0's first), flat
 * (ram/blas_layout.ts), in shared memory: all in `memory`, a shared WebAssembly memory
 * (util/simd.ts SimdHeap), where Adam then runs as one f32x4 loop; or, with `memory` null, in
 * SharedArrayBuffers.
 */
export interface SharedFlat {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  grads: Float32Array[];
  memory: WebAssembly.Memory | null;
}

/** Messages to a lane. */
type ToLane =
  | {
    type: "open";
    cfg: RamConfig;
    flat: SharedFlat;
    lane: number;
    buffers: LaneBuffers;
    /** The lane's handoff block ({@link LaneSync}). */
    sync: SharedArrayBuffer;
  }
  | { type: "forward"; B: number; mode: LaneMode }
  | { type: "backward"; B: number; total: number; lambda: number }
  /** Adam on [from, to) with the sum of the first `lanes` lanes' gradients. */
  | { type: "adam"; from: number; to: number; lanes: number; lrs: GroupLrs; step: number };

/** What the host asks of an opened lane (through its handoff block). */
type LaneCommand = Exclude<ToLane, { type: "open" }>;

/** A lane's reply: error null when done, else the error's message. */
type FromLane = { error: string | null };

/** Longest the host blocks waiting for a lane before it waits without blocking (ms). */
const WAIT_MS = 50;

/** Bytes of a lane's error message in its handoff block; longer ones are cut. */
const ERR_BYTES = 1024;
/** Command codes in a handoff block; YIELD returns the Worker to its event loop. */
const CODE = { forward: 1, backward: 2, adam: 3, yield: 4 } as const;
const MODES: LaneMode[] = ["mean", "noise", "given"];

/**
 * One lane's handoff block in shared memory: after "open" (a message) every command goes through
 * it, and the lane's Worker waits on it with Atomics.wait instead of in its event loop. A
 * message there and back took 138 µs on the development machine, this 7.5 µs; a training step
 * hands over three times. `ctl`: 0 the command's number (the host counts up), 1 the number of
 * the last one done (the lane), 2 its code, 3 B, 4 the mode or total, 5–8 Adam's from, to, lanes
 * and step, 9 the error message's length (0: none); `num`: λ and the three learning rates.
 */
class LaneSync {
  readonly ctl: Int32Array;
  readonly num: Float64Array;
  readonly err: Uint8Array;
  constructor(readonly buffer = new SharedArrayBuffer(16 * 4 + 4 * 8 + ERR_BYTES)) {
    this.ctl = new Int32Array(buffer, 0, 16);
    this.num = new Float64Array(buffer, 64, 4);
    this.err = new Uint8Array(buffer, 96, ERR_BYTES);
  }

  /** Writes command `m` (not "open"). */
  encode(m: LaneCommand | { type: "yield" }): void {
    const { ctl, num } = this;
    ctl[2] = CODE[m.type];
    if (m.type === "forward") {
      ctl[3] = m.B;
      ctl[4] = MODES.indexOf(m.mode);
    } else if (m.type === "backward") {
      ctl[3] = m.B;
      ctl[4] = m.total;
      num[0] = m.lambda;
    } else if (m.type === "adam") {
      [ctl[5], ctl[6], ctl[7], ctl[8]] = [m.from, m.to, m.lanes, m.step];
      [num[1], num[2], num[3]] = [m.lrs.model, m.lrs.policy, m.lrs.baseline];
    }
  }

  /** The command written, or null for "yield". */
  decode(): LaneCommand | null {
    const { ctl, num } = this;
    switch (ctl[2]) {
      case CODE.forward:
        return { type: "forward", B: ctl[3], mode: MODES[ctl[4]] };
      case CODE.backward:
        return { type: "backward", B: ctl[3], total: ctl[4], lambda: num[0] };
      case CODE.adam: {
        const lrs = { model: num[1], policy: num[2], baseline: num[3] };
        return { type: "adam", from: ctl[5], to: ctl[6], lanes: ctl[7], step: ctl[8], lrs };
      }
      case CODE.yield:
        return null;
    }
    throw new Error(`unknown lane command ${ctl[2]}`);
  }
}

/**
 * The Worker's side of a handoff block: runs the commands as they come until "yield", each
 * answered by setting ctl[1] to its number (an error's message in `err` first).
 */
function serveCommands(lane: Lane, sync: LaneSync): void {
  const { ctl, err } = sync;
  // From the last command done, not the last posted: the host may post the next command
  // before this thread gets here after answering "open".
  let done = Atomics.load(ctl, 1);
  for (;;) {
    const seq = Atomics.load(ctl, 0);
    if (seq === done) {
      Atomics.wait(ctl, 0, done);
      continue;
    }
    done = seq;
    let m: ReturnType<LaneSync["decode"]> = null, n = 0;
    try {
      m = sync.decode();
      if (m) lane.run(m);
    } catch (e) {
      const bytes = new TextEncoder().encode(e instanceof Error ? e.message : String(e));
      n = Math.min(bytes.length, ERR_BYTES);
      err.set(bytes.subarray(0, n));
    }
    ctl[9] = n;
    Atomics.store(ctl, 1, seq);
    Atomics.notify(ctl, 1);
    if (m === null && n === 0) return; // yield: back to the event loop, for a new "open"
  }
}

/** A lane's state: the network over the shared parameters, its gradient views, its buffers. */
class Lane {
  readonly net: BlasNet;
  readonly grads: BlasNet;
  readonly layout: BlasLayout;
  readonly flat: SharedFlat;
  constructor(
    readonly sgemm: Sgemm,
    readonly cfg: RamConfig,
    flat: SharedFlat,
    /** This lane's index: its gradient share is flat.grads[lane]. */
    lane: number,
    readonly buffers: LaneBuffers,
    /** The heap of flat.memory on this thread (null: plain SharedArrayBuffers). */
    readonly heap: SimdHeap | null,
  ) {
    // Arrays sent from the host are views of the memory's buffer as it was cloned: on a Worker,
    // take the same ranges of this thread's own view of it, which the heap's loops check for.
    const here = (a: Float32Array) => heap ? heap.view(a) : a;
    this.flat = {
      params: here(flat.params),
      m: here(flat.m),
      v: here(flat.v),
      grads: flat.grads.map(here),
      memory: flat.memory,
    };
    this.layout = blasLayout(cfg);
    this.net = bindBlasNet(cfg, this.layout, this.flat.params);
    this.grads = bindBlasNet(cfg, this.layout, this.flat.grads[lane]);
  }

  forward(B: number, mode: LaneMode): void {
    const { cfg, buffers: buf } = this;
    sumBiases(this.net); // the host updated the parameters since the last step
    const fill: ActionFill = mode === "mean"
      ? (_i, mu, a) => a.set(mu)
      : mode === "given"
      ? givenFill(B, buf.actions)
      : noiseFill(B, cfg.sigma, buf.actions);
    blasForward(this.sgemm, cfg, this.net, buf.ws, B, buf.images, buf.start, fill);
  }

  backward(B: number, total: number, lambda: number): void {
    const buf = this.buffers;
    blasBackward(
      this.sgemm,
      this.cfg,
      this.net,
      this.grads,
      buf.ws,
      B,
      buf.labels,
      buf.returns,
      lambda,
      total,
    );
  }

  run(m: ToLane): void {
    if (m.type === "forward") this.forward(m.B, m.mode);
    else if (m.type === "backward") this.backward(m.B, m.total, m.lambda);
    else if (m.type === "adam") {
      const { params, m: m1, v } = this.flat, grads = this.flat.grads.slice(0, m.lanes);
      adamRange(this.layout, m.lrs, m.step, params, m1, v, grads, this.heap, m.from, m.to);
    }
  }
}

/** One lane's buffers for `capacity` rows, in shared memory. */
export function laneBuffers(cfg: RamConfig, capacity: number): LaneBuffers {
  const A = Math.max(0, cfg.glimpses - 1);
  // The workspace in a shared WebAssembly memory where there is one: its ReLUs then run f32x4.
  const ws = Workspace.inHeap(cfg, capacity, true) ?? new Workspace(cfg, capacity, sharedF32);
  return {
    capacity,
    ws,
    memory: ws.simd?.memory ?? null,
    images: sharedF32(capacity * cfg.height * cfg.width),
    labels: new Int32Array(new SharedArrayBuffer(4 * capacity)),
    start: sharedF32(capacity * 2),
    actions: sharedF32(A * capacity * 2),
    returns: sharedF32(A * capacity),
  };
}

/** A typed array in a message, as its shared buffer and range (see {@link packArrays}). */
interface PackedArray {
  packed: "f32" | "i32";
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

/**
 * `v` with every Float32Array and Int32Array (over shared memory) replaced by its buffer and
 * range, for a message to a lane. Deno's node:worker_threads walks every received message for
 * MessagePorts, key by key, and a typed array's keys are its indices: the "open" message's
 * 2.5 million of them took about 0.2 s of every process's first step (and of every regrowth).
 */
export function packArrays(v: unknown): unknown {
  if (v instanceof SimdHeap) return null; // a heap's memory travels on its own (LaneBuffers)
  if (v instanceof Float32Array || v instanceof Int32Array) {
    if (!(v.buffer instanceof SharedArrayBuffer)) {
      throw new Error("BlasLanes: a lane's arrays must live in shared memory");
    }
    const packed = v instanceof Float32Array ? "f32" : "i32";
    return { packed, buffer: v.buffer, byteOffset: v.byteOffset, length: v.length };
  }
  if (Array.isArray(v)) return v.map(packArrays);
  if (plainObject(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, packArrays(x)]));
  }
  return v;
}

/** An object whose fields {@link packArrays} walks (not a buffer or a WebAssembly memory). */
function plainObject(v: unknown): v is object {
  return v !== null && typeof v === "object" && !(v instanceof WebAssembly.Memory) &&
    !(v instanceof SharedArrayBuffer) && !(v instanceof ArrayBuffer);
}

/** The arrays of a message made by {@link packArrays}, as views of the same memory. */
export function unpackArrays(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unpackArrays);
  if (plainObject(v)) {
    const p = v as PackedArray;
    if (p.packed === "f32") return new Float32Array(p.buffer, p.byteOffset, p.length);
    if (p.packed === "i32") return new Int32Array(p.buffer, p.byteOffset, p.length);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unpackArrays(x)]));
  }
  return v;
}

/** A lane's Worker: a node:worker_threads Worker running this module. */
export async function spawnLaneWorker(): Promise<LaneWorker> {
  const { Worker } = await import("node:worker_threads");
  return new Worker(new URL(import.meta.url), { workerData: LANE_MARK }) as unknown as LaneWorker;
}

/** What the host needs of a node:worker_threads Worker. */
export interface LaneWorker {
  postMessage(m: ToLane): void;
  once(event: "message", f: (m: FromLane) => void): void;
  once(event: "error", f: (e: Error) => void): void;
  once(event: "exit", f: (code: number) => void): void;
  off(event: "error" | "exit" | "message", f: (x: never) => void): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** Fewest rows the host's lane keeps when it also runs work beside the step. */
export const MIN_HOST_ROWS = 8;

/**
 * How the batch's B rows are split: lane k holds rows [starts[k], starts[k + 1]). With
 * `hostLess` > 0 (rows' worth of other work the host's thread runs beside the step,
 * ram/backend.ts BesideWork) lane 0 takes that many rows fewer than the others, so that every
 * core finishes at about the same time: r₀ + hostLess = (B − r₀)/(k − 1), at least
 * MIN_HOST_ROWS. The split depends only on its arguments, so a run repeats exactly.
 */
export function laneSplit(B: number, lanes: number, hostLess = 0): number[] {
  const k = Math.max(1, Math.min(lanes, Math.floor(B / MIN_LANE_ROWS)));
  const starts = [0];
  if (k > 1 && hostLess > 0) {
    const r0 = Math.round((B - hostLess * (k - 1)) / k);
    starts.push(Math.max(MIN_HOST_ROWS, Math.min(Math.round(B / k), r0)));
    const rest = B - starts[1];
    for (let i = 1; i < k; i++) starts.push(starts[1] + Math.round((rest * i) / (k - 1)));
    return starts;
  }
  for (let i = 1; i <= k; i++) starts.push(Math.round((B * i) / k));
  return starts;
}

/** Where a forward's actions come from, over the whole batch (as blas_cpu.ts's sources). */
export type LaneActions =
  | { mode: "mean" }
  | { mode: "noise"; eps: Float32Array } // (T−1, B, 2)
  | { mode: "given"; actions: Float32Array }; // (≥ T−1, B, 2)

/**
 * The lanes of one BlasRam: lane 0 on the host, the others on Workers. Open with
 * {@link BlasLanes.open}; {@link BlasLanes.close} ends the Workers.
 */
export class BlasLanes {
  /** Lanes open, the host's included. */
  readonly count: number;
  readonly #cfg: RamConfig;
  readonly #flat: SharedFlat;
  readonly #heap: SimdHeap | null;
  readonly #workers: LaneWorker[];
  readonly #syncs: LaneSync[];
  readonly #sgemm: Sgemm;
  #lanes: Lane[] = [];
  #starts: number[] = [0];
  #capacity = 0;
  #closed = false;
  #broken = false;

  private constructor(cfg: RamConfig, flat: SharedFlat, workers: LaneWorker[], blas: Blas) {
    this.#cfg = cfg;
    this.#flat = flat;
    this.#heap = flat.memory ? SimdHeap.adopt(flat.memory) : null;
    this.#workers = workers;
    this.#syncs = workers.map(() => new LaneSync());
    this.count = workers.length + 1;
    // A Worker that dies between steps answers nothing: the next use must fail, not wait.
    for (const w of workers) w.once("exit", () => this.#broken ||= !this.#closed);
    this.#sgemm = blas.sgemm;
  }

  /**
   * Opens `lanes` lanes (≥ 2) over the parameters and Adam moments, which must live in
   * SharedArrayBuffers: the lanes update them, the host reads them (getState) and writes them
   * (setState) between steps. The caller sets the BLAS to one thread (process-wide).
   */
  static async open(
    cfg: RamConfig,
    flat: SharedFlat,
    lanes: number,
    blas: Blas,
    spawn: () => Promise<LaneWorker> = spawnLaneWorker,
  ): Promise<BlasLanes> {
    for (const a of [flat.params, flat.m, flat.v, ...flat.grads]) {
      if (!(a.buffer instanceof SharedArrayBuffer)) {
        throw new Error("BlasLanes: parameters, moments and gradients must live in shared memory");
      }
    }
    if (flat.grads.length < lanes) {
      throw new Error(`BlasLanes: ${flat.grads.length} gradient buffers for ${lanes} lanes`);
    }
    const workers: LaneWorker[] = [];
    for (let i = 1; i < lanes; i++) {
      const w = await spawn();
      w.unref();
      workers.push(w);
    }
    return new BlasLanes(cfg, flat, workers, blas);
  }

  /** True once a lane's Worker died: close these lanes and open new ones. */
  get broken(): boolean {
    return this.#broken;
  }

  /** The row split for a batch of B (fewer lanes for small batches), as {@link laneSplit}. */
  split(B: number, hostLess = 0): number[] {
    return laneSplit(B, this.count, hostLess);
  }

  /**
   * Runs the forward over the batch's rows, split across the lanes, and gathers into `ws`
   * (a host workspace of capacity ≥ B) what the host reads: loc, logp, logπ, baselines, and
   * into `hidden` (T, B, H), when given, the states h. With `beside`, the host's lane takes `beside.rows` fewer rows
   * (laneSplit) and runs `beside.forward` after its own rows; {@link update} runs the rest.
   */
  async forward(
    ws: Workspace,
    B: number,
    images: Float32Array,
    labels: Int32Array,
    start: Float32Array,
    actions: LaneActions,
    hidden: Float32Array | null,
    beside?: BesideWork,
  ): Promise<void> {
    const starts = await this.#ready(B, beside?.rows ?? 0);
    const cfg = this.#cfg, HW = cfg.height * cfg.width, A = Math.max(0, cfg.glimpses - 1);
    for (let k = 0; k < starts.length - 1; k++) {
      const r0 = starts[k], r1 = starts[k + 1], n = r1 - r0, buf = this.#lanes[k].buffers;
      buf.images.set(images.subarray(r0 * HW, r1 * HW));
      buf.labels.set(labels.subarray(r0, r1));
      buf.start.set(start.subarray(2 * r0, 2 * r1));
      if (actions.mode !== "mean") {
        const src = actions.mode === "noise" ? actions.eps : actions.actions;
        for (let t = 0; t < A; t++) {
          buf.actions.set(src.subarray((t * B + r0) * 2, (t * B + r1) * 2), t * n * 2);
        }
      }
    }
    await this.#runAll(
      starts,
      (n) => ({ type: "forward", B: n, mode: actions.mode }),
      beside?.forward,
    );
    const T = cfg.glimpses, C = cfg.classes;
    this.#gather(starts, B, T, 2, (w) => w.loc, ws.loc);
    this.#gather(starts, B, T, C, (w) => w.logp, ws.logp);
    this.#gather(starts, B, A, 1, (w) => w.logpi, ws.logpi);
    this.#gather(starts, B, A, 1, (w) => w.base, ws.base);
    if (hidden) this.#gather(starts, B, T, cfg.hidden, (w) => w.h, hidden);
  }

  /**
   * After {@link forward} on the same batch: each lane's backward over its rows with means
   * over all B (`returns` is (T−1, B)), then Adam step `step` with the lanes' summed gradients,
   * the parameters split in ranges, one a lane. `beside` (the forward's) runs its backward and
   * adam parts on the host beside those two. `hidden` (T, B, H), when given, receives the
   * forward's states h, gathered on the host while the other lanes run their backward (so not
   * in the step's serial part, as {@link forward}'s `hidden` is).
   */
  async update(
    B: number,
    returns: Float32Array,
    lambda: number,
    lrs: GroupLrs,
    step: number,
    beside?: BesideWork,
    hidden?: Float32Array,
  ) {
    const starts = this.#starts, A = Math.max(0, this.#cfg.glimpses - 1);
    if (starts[starts.length - 1] !== B) {
      throw new Error("BlasLanes.update: not the forward's batch");
    }
    for (let k = 0; k < starts.length - 1; k++) {
      const r0 = starts[k], r1 = starts[k + 1], n = r1 - r0, buf = this.#lanes[k].buffers;
      for (let t = 0; t < A; t++) buf.returns.set(returns.subarray(t * B + r0, t * B + r1), t * n);
    }
    const backward = (n: number): LaneCommand => ({ type: "backward", B: n, total: B, lambda });
    const cfg = this.#cfg;
    await this.#runAll(starts, backward, () => {
      if (hidden) this.#gather(starts, B, cfg.glimpses, cfg.hidden, (w) => w.h, hidden);
      beside?.backward();
    });
    const used = starts.length - 1, total = this.#flat.params.length;
    // The host's range shrinks with its rows when it runs other work beside.
    const cut = (k: number) => k === 0 ? 0 : Math.round((total * starts[k]) / B);
    await this.#runAll(starts, (_n, k) => ({
      type: "adam",
      from: beside ? cut(k) : Math.round((total * k) / used),
      to: beside ? (k + 1 === used ? total : cut(k + 1)) : Math.round((total * (k + 1)) / used),
      lanes: used,
      lrs,
      step,
    }), beside?.adam);
  }

  /** Ends the Workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  /** Splits B and makes sure every lane's buffers hold its rows (opening the lanes first). */
  async #ready(B: number, hostLess: number): Promise<number[]> {
    if (this.#closed) throw new Error("BlasLanes: used after close()");
    if (this.#broken) throw new Error("cpu backend lane: a lane's Worker died (its step failed)");
    const starts = this.split(B, hostLess);
    let most = 0;
    for (let k = 0; k + 1 < starts.length; k++) most = Math.max(most, starts[k + 1] - starts[k]);
    if (most > this.#capacity) {
      const cap = Math.max(most, MIN_LANE_ROWS), cfg = this.#cfg, flat = this.#flat;
      const buffers: LaneBuffers[] = [];
      for (let k = 0; k < this.count; k++) buffers.push(laneBuffers(cfg, cap));
      this.#lanes = buffers.map((b, k) => new Lane(this.#sgemm, cfg, flat, k, b, this.#heap));
      // Workers serving a handoff block go back to their event loops for the new "open".
      if (this.#capacity > 0) await Promise.all(this.#workers.map((_, i) => this.#command(i)));
      this.#capacity = cap;
      await Promise.all(
        this.#workers.map((w, i) =>
          this.#call(w, {
            type: "open",
            cfg,
            flat,
            lane: i + 1,
            buffers: buffers[i + 1],
            sync: this.#syncs[i].buffer,
          })
        ),
      );
    }
    this.#starts = starts;
    return starts;
  }

  /**
   * Posts message(n_k, k) to lanes 1…, runs lane 0 here, then `beside` (which must not throw),
   * and waits for every reply.
   */
  async #runAll(
    starts: number[],
    message: (n: number, k: number) => LaneCommand,
    beside?: () => void,
  ): Promise<void> {
    const used = starts.length - 1;
    const posted = this.#workers.slice(0, used - 1).map((_, i) =>
      this.#post(i, message(starts[i + 2] - starts[i + 1], i + 1))
    );
    let hostError: unknown = null;
    try {
      this.#lanes[0].run(message(starts[1] - starts[0], 0));
    } catch (e) {
      hostError = e;
    }
    beside?.();
    const settled = await Promise.allSettled(posted.map((seq, i) => this.#answer(i, seq)));
    if (hostError) throw hostError;
    for (const s of settled) if (s.status === "rejected") throw s.reason;
  }

  /**
   * Posts one command to Worker k through its handoff block ({@link LaneSync}; none: "yield")
   * and returns its number, for {@link #answer}.
   */
  #post(k: number, m?: LaneCommand): number {
    const sync = this.#syncs[k], ctl = sync.ctl;
    if (this.#broken) throw new Error("cpu backend lane: a lane's Worker died (its step failed)");
    sync.encode(m ?? { type: "yield" });
    const seq = ctl[0] + 1;
    Atomics.store(ctl, 0, seq);
    Atomics.notify(ctl, 0);
    return seq;
  }

  /**
   * Waits for Worker k's answer to command `seq` and throws its error. The wait blocks this
   * thread (Atomics.wait) for up to WAIT_MS, which hands over fastest: a lane's part of a step
   * takes milliseconds, and there is nothing else for this thread to do meanwhile. Past that it
   * waits without blocking, so that a Worker that died (its "exit" comes through the event
   * loop) fails the step rather than hanging it. The Worker is ref'd while it works.
   */
  async #answer(k: number, seq: number): Promise<void> {
    const w = this.#workers[k], sync = this.#syncs[k], ctl = sync.ctl;
    const first = Atomics.load(ctl, 1);
    if (first !== seq) Atomics.wait(ctl, 1, first, WAIT_MS);
    if (Atomics.load(ctl, 1) !== seq) {
      w.ref();
      try {
        for (;;) {
          const done = Atomics.load(ctl, 1);
          if (done === seq) break;
          if (this.#broken) throw new Error("cpu backend lane: its Worker exited");
          const r = Atomics.waitAsync(ctl, 1, done, 200);
          if (r.async) await r.value;
        }
      } finally {
        w.unref();
      }
    }
    const n = ctl[9];
    if (n > 0) {
      throw new Error(`cpu backend lane: ${new TextDecoder().decode(sync.err.slice(0, n))}`);
    }
  }

  /** {@link #post} then {@link #answer}. */
  #command(k: number, m?: LaneCommand): Promise<void> {
    try {
      return this.#answer(k, this.#post(k, m));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** One message to a Worker and its reply; the Worker is ref'd only while it works. */
  #call(w: LaneWorker, m: ToLane): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (error: string | null) => {
        w.off("error", onError);
        w.off("exit", onExit);
        w.off("message", onMessage);
        w.unref();
        if (error === null) resolve();
        else reject(new Error(`cpu backend lane: ${error}`));
      };
      // A Worker that died answers nothing: the lanes are broken, and the next use reopens them.
      const onError = (e: Error) => {
        this.#broken = true;
        settle(e.message);
      };
      const onExit = (code: number) => {
        this.#broken = true;
        settle(`its Worker exited (code ${code})`);
      };
      const onMessage = (r: FromLane) => settle(r.error);
      w.ref();
      w.once("error", onError);
      w.once("exit", onExit);
      w.once("message", onMessage);
      w.postMessage(m.type === "open" ? packArrays(m) as ToLane : m);
    });
  }

  /** dst (Tf, B, w) ← each lane's (Tf, n_k, w) at its rows. */
  #gather(
    starts: number[],
    B: number,
    Tf: number,
    w: number,
    field: (ws: Workspace) => Float32Array,
    dst: Float32Array,
  ): void {
    for (let k = 0; k + 1 < starts.length; k++) {
      const r0 = starts[k], n = starts[k + 1] - r0, src = field(this.#lanes[k].buffers.ws);
      for (let t = 0; t < Tf; t++) {
        dst.set(src.subarray(t * n * w, (t + 1) * n * w), (t * B + r0) * w);
      }
    }
  }
}

/**
 * A lane's buffers as a Worker receives them: a workspace in a shared WebAssembly memory gets
 * that memory's heap here and its arrays as views of this thread's copy of the memory (which
 * the heap's loops check for), as Lane does for the parameters.
 */
export function adoptWorkspace(buffers: LaneBuffers): LaneBuffers {
  if (!buffers.memory) return buffers;
  const heap = SimdHeap.adopt(buffers.memory);
  const ws = buffers.ws as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(ws)) if (v instanceof Float32Array) ws[k] = heap.view(v);
  ws.simd = heap;
  return buffers;
}

/** The Worker side: a lane opened by the host's first message, then forward/backward calls. */
async function serveLane(): Promise<void> {
  const { isMainThread, parentPort, workerData } = await import("node:worker_threads");
  if (isMainThread || !parentPort || workerData !== LANE_MARK) return;
  let lane: Lane | null = null;
  parentPort.on("message", (message: ToLane) => {
    const m = message.type === "open" ? unpackArrays(message) as ToLane : message;
    let error: string | null = null;
    try {
      if (m.type === "open") {
        const blas = loadBlas();
        if (!blas) throw new Error("no BLAS library opens in the lane's Worker");
        const heap = m.flat.memory ? SimdHeap.adopt(m.flat.memory) : null;
        lane = new Lane(blas.sgemm, m.cfg, m.flat, m.lane, adoptWorkspace(m.buffers), heap);
      } else {
        throw new Error(`"${m.type}" arrived as a message; commands go through the handoff block`);
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    parentPort.postMessage({ error } satisfies FromLane);
    // Opened: serve the commands until "yield" (a new "open" follows one).
    if (error === null && m.type === "open") serveCommands(lane!, new LaneSync(m.sync));
  });
}

// A Worker started by BlasLanes.open serves a lane; anywhere else this does nothing.
if (typeof Deno !== "undefined") await serveLane();
