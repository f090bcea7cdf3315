/**
 * A model's trainable state on the host: its parameters and Adam moments as named tensors, and
 * the Adam step count. The CPU RAM (ram/cpu.ts) and the CPU probes (probe/vae_cpu.ts,
 * probe/cls_cpu.ts) keep their state in one; ram/flat_state.ts is the same owner on a WebGPU
 * device, and both check an incoming {@link TrainState} with {@link checkStateMaps}.
 *
 * @module
 */
import type { ParamMap, TrainState } from "./backend.ts";
import { cloneParams } from "./params.ts";
import { adamRef } from "../kernels/adam_ref.ts";

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

  /** Owns `params` (not copied) with zero moments. */
  constructor(params: ParamMap) {
    this.params = params;
    const zeros = () =>
      new Map(
        [...params].map((
          [n, t],
        ) => [n, { shape: [...t.shape], data: new Float32Array(t.data.length) }]),
      );
    this.#m = zeros();
    this.#v = zeros();
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
