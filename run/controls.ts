/**
 * Controls for the explanations (shared DESIGN.md "Information gain"): the same trained model
 * evaluated with its glimpses placed otherwise, so an information gain can be read against what
 * glimpses that are not chosen by the policy give.
 *
 * - `fixed`: every glimpse at the first location (l_2..l_T = l_1).
 * - `random`: l_2..l_T uniform in [−1, 1]², drawn per image from
 *   Rng.derive(seed, CONTROL_STREAM, index), so an image gets the same locations whatever the
 *   batch it is in.
 * - `untrained`: the policy network (loc1, loc2) as freshly initialised by the run's seed
 *   (ram/params.ts initParams, the same draws training started from), the rest trained.
 * The first location, the parameters apart from the untrained policy, the images and the probes
 * are the real evaluation's: only the locations differ (tests/controls_test.ts). The probes are
 * not retrained for a control: the class probe reads states it was not trained on.
 *
 * @module
 */
import type { ParamMap, TrainState } from "../ram/backend.ts";
import type { RamConfig } from "../ram/config.ts";
import { initParams } from "../ram/params.ts";
import { Rng } from "../util/rng.ts";

/** The controls, in the order eval reports them. */
export const CONTROLS = ["fixed", "random", "untrained"] as const;

/** One control. */
export type Control = typeof CONTROLS[number];

/** Random stream of the `random` control's locations. */
export const CONTROL_STREAM = 0x63746c72; // "ctlr"

/** The policy's parameter modules (ram/params.ts). */
const POLICY_MODULES = ["loc1.", "loc2."];

/**
 * The locations l_2..l_T (T−1, B, 2) a control gives for images `indices` (B) starting at
 * `start` (B, 2); undefined for `untrained`, which keeps the policy's own choice.
 *
 * @example
 * ```ts
 * import { controlLocations } from "./controls.ts";
 * const l = controlLocations("fixed", 3, Float32Array.from([0.5, -0.5]), [0], 1)!;
 * // l is [0.5, -0.5, 0.5, -0.5]: glimpses 2 and 3 at the first location
 * ```
 */
export function controlLocations(
  control: Control,
  glimpses: number,
  start: Float32Array,
  indices: ArrayLike<number>,
  seed: number,
): Float32Array | undefined {
  const B = indices.length, T = glimpses;
  if (start.length !== 2 * B) {
    throw new Error(`controls: ${start.length / 2} start locations for ${B} images`);
  }
  if (control === "untrained") return undefined;
  const out = new Float32Array((T - 1) * B * 2); // (T−1, B, 2)
  const draw = new Float32Array(2 * (T - 1));
  for (let b = 0; b < B; b++) {
    if (control === "random") {
      Rng.derive(seed, CONTROL_STREAM, indices[b]).fillUniform(draw, -1, 1);
    }
    for (let t = 0; t < T - 1; t++) {
      const o = (t * B + b) * 2;
      if (control === "fixed") out.set(start.subarray(2 * b, 2 * b + 2), o);
      else out.set(draw.subarray(2 * t, 2 * t + 2), o);
    }
  }
  return out;
}

/**
 * `state` with the policy's parameters (loc1, loc2) replaced by their initial values for
 * `seed`; every other tensor is the same object as in `state`.
 *
 * @example
 * ```ts ignore
 * import { untrainedPolicy } from "./controls.ts";
 * ram.setState(untrainedPolicy(await ram.getState(), ram.config, config.train.seed));
 * ```
 */
export function untrainedPolicy(state: TrainState, cfg: RamConfig, seed: number): TrainState {
  const fresh = initParams(cfg, seed);
  const params: ParamMap = new Map(state.params);
  for (const name of params.keys()) {
    if (POLICY_MODULES.some((m) => name.startsWith(m))) params.set(name, fresh.get(name)!);
  }
  return { ...state, params };
}

/**
 * Parses `--control` values (repeatable, comma-separated) and `--controls` (all); throws one
 * line naming the option for an unknown control.
 *
 * @example
 * ```ts
 * import { parseControls } from "./controls.ts";
 * parseControls(["random,fixed"], false); // ["fixed", "random"]
 * ```
 */
export function parseControls(values: readonly string[] | undefined, all: boolean): Control[] {
  const picked = new Set<Control>(all ? CONTROLS : []);
  for (const v of values ?? []) {
    for (const part of v.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      if (!(CONTROLS as readonly string[]).includes(part)) {
        throw new Error(`--control ${part}: unknown control (known: ${CONTROLS.join(", ")})`);
      }
      picked.add(part as Control);
    }
  }
  return CONTROLS.filter((c) => picked.has(c));
}
