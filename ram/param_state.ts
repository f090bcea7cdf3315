/**
 * A model's trainable state on the host: its parameters and Adam moments as named tensors, and
 * the Adam step count. The CPU RAM (ram/cpu.ts) and the CPU probes (probe/vae_cpu.ts,
 * probe/cls_cpu.ts) keep their state in one; ram/flat_state.ts is the same owner on a WebGPU
 * device, and both check an incoming {@link TrainState} with {@link checkStateMaps}.
 *
 * @module
 */
import type { ParamMap, TrainState } from "./backend.ts";
import { cloneParams, type FlatLayout, viewParams } from "./params.ts";
import { adamFast, adamRef } from "../kernels/adam_ref.ts";
import { SimdHeap } from "../util/simd.ts";

/** Throws unless `p` holds the model's tensors with their shapes; `what` names the map. */
export type ParamCheck = (p: ParamMap, what: string) => void;

/**
 * Checks the three maps of `state` with `check` and its step count; `prefix` starts every
 * message (e.g. "VAE " gives "VAE Adam first moments: missing tensor …").
 */
export function checkStateMaps(state: TrainState, check: ParamCheck, prefix = ""): void {
  check(state.params, `${prefix}parameters`);
  check(state.adamM, `${prefix}Adam first moments`);
  check(state.adamV, `${prefix}Adam second moments`);
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new Error(`${prefix}state step ${state.step} is not a step count`);
  }
}

/**
 * Parameters, Adam moments (zero at first) and the step count of a model on the host.
 *
 * @example
 * ```ts
 * import { ParamState } from "./param_state.ts";
 * const w = { shape: [2], data: new Float32Array([1, 2]) };
 * const s = new ParamState(new Map([["w", w]]));
 * s.adamStep(new Map([["w", { shape: [2], data: new Float32Array([1, -1]) }]]), 0.1);
 * // w.data ≈ [0.9, 2.1], s.step === 1
 * ```
 */
export class ParamState {
  /** The live parameters (the model reads them; Adam updates them in place). */
  readonly params: ParamMap;
  readonly #m: ParamMap; // Adam first moments, shaped as params
  readonly #v: ParamMap; // Adam second moments, shaped as params
  /** Adam steps taken. */
  step = 0;
  /** With a layout: parameters, moments and gradients, each one flat buffer. */
  readonly #flat: {
    p: Float32Array;
    m: Float32Array;
    v: Float32Array;
    g: Float32Array;
    heap: SimdHeap | null;
  } | null;
  /**
   * With a layout: gradient tensors (views into one flat buffer, zero at first) that a model
   * writes its step's gradients into before {@link ParamState.adamFlat}; else empty.
   */
  readonly grads: ParamMap;

  /**
   * Owns `params` with zero moments. Without `layout` the tensors are kept as given (not copied);
   * with one, parameters, moments and gradients each live in one flat buffer laid out by it
   * (`params` are copied in and the maps are views), so that {@link ParamState.adamFlat} is one
   * pass and a step allocates nothing.
   */
  constructor(params: ParamMap, layout?: FlatLayout) {
    const zeros = () =>
      new Map(
        [...params].map((
          [n, t],
        ) => [n, { shape: [...t.shape], data: new Float32Array(t.data.length) }]),
      );
    if (layout) {
      // In WebAssembly memory where it runs, so that Adam is one f32x4 loop (util/simd.ts).
      const heap = SimdHeap.create(4 * layout.total + 16);
      const [p, m, v, g] = [0, 1, 2, 3].map(() =>
        heap ? heap.alloc(layout.total) : new Float32Array(layout.total)
      );
      this.#flat = { p, m, v, g, heap };
      this.params = viewParams(p, layout);
      for (const [name, t] of params) {
        const view = this.params.get(name);
        if (!view || view.data.length !== t.data.length) {
          throw new Error(`ParamState: layout does not hold tensor "${name}" of ${t.data.length}`);
        }
        view.data.set(t.data);
      }
      this.#m = viewParams(m, layout);
      this.#v = viewParams(v, layout);
      this.grads = viewParams(g, layout);
    } else {
      this.#flat = null;
      this.params = params;
      this.#m = zeros();
      this.#v = zeros();
      this.grads = new Map();
    }
  }

  /** With a layout: zeroes {@link ParamState.grads} (one fill). */
  zeroGrads(): void {
    this.#flatOrThrow("zeroGrads").g.fill(0);
  }

  /**
   * With a layout: one Adam step (PyTorch defaults) of every parameter from
   * {@link ParamState.grads} at learning rate `lr`, once over the flat buffers (Adam is
   * element-wise, so this is Adam on every tensor), by kernels/adam_ref.ts adamFast: float32
   * SIMD in WebAssembly where it runs, else adamHoisted.
   */
  adamFlat(lr: number): void {
    const f = this.#flatOrThrow("adamFlat");
    this.step++;
    adamFast(f.heap, f.p, f.g, f.m, f.v, this.step, { lr });
  }

  #flatOrThrow(what: string) {
    if (!this.#flat) throw new Error(`ParamState.${what}: needs a flat layout`);
    return this.#flat;
  }

  /**
   * One Adam step (PyTorch defaults) of every parameter from `grads`, at learning rate `lr` or
   * `lr(name)`.
   */
  adamStep(grads: ParamMap, lr: number | ((name: string) => number)): void {
    const lrOf = typeof lr === "number" ? () => lr : lr;
    this.step++;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) throw new Error(`adam: no gradient for "${name}"`);
      adamRef(p.data, g.data, this.#m.get(name)!.data, this.#v.get(name)!.data, this.step, {
        lr: lrOf(name),
      });
    }
  }

  /** Copies of the parameters, moments and step count. */
  getState(): Promise<TrainState> {
    return Promise.resolve({
      params: cloneParams(this.params),
      adamM: cloneParams(this.#m),
      adamV: cloneParams(this.#v),
      step: this.step,
    });
  }

  /** Copies `state` in after {@link checkStateMaps}(state, check, prefix). */
  setState(state: TrainState, check: ParamCheck, prefix = ""): void {
    checkStateMaps(state, check, prefix);
    const pairs: [ParamMap, ParamMap][] = [
      [this.params, state.params],
      [this.#m, state.adamM],
      [this.#v, state.adamV],
    ];
    for (const [dst, src] of pairs) {
      for (const [name, t] of dst) t.data.set(src.get(name)!.data);
    }
    this.step = state.step;
  }
}
