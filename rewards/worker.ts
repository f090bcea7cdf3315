/**
 * The worker side of the reward sandbox. The host starts a Worker whose main module is a tiny
 * generated module that statically imports this file and then the plugin, and calls `serve`:
 *
 * ```ts
 * import { serve } from "file:///…/rewards/worker.ts";
 * import * as plugin from "file:///…/my_reward.ts";
 * serve(plugin);
 * ```
 *
 * Static imports of a worker's main module are loaded by Deno before the worker runs, so the
 * plugin and its own relative imports load even though the worker has no permissions at all;
 * a dynamic `import()` inside the worker would need read access to the plugin's files, which
 * would then be readable by the plugin too.
 *
 * Protocol (all messages are plain data; typed arrays are transferred):
 * - worker → host `ready` (name, description, option table) or `invalid` (why the default
 *   export is not a reward definition), once, after the plugin's top level has run;
 * - host → worker `configure` (resolved options), then `call`s with one batch each;
 * - worker → host `result` (rewards, or the type it got when it was not an array) or `threw`.
 *
 * @module
 */
import { type RewardDefinition, rewardDefinitionProblem } from "./define.ts";
import { type OptionTable, optionTable, type ResolvedOptions } from "./options.ts";
import type { Episodes } from "./types.ts";

/** A message from the host to the worker. */
export type HostMessage =
  | { kind: "configure"; options: ResolvedOptions }
  | { kind: "call"; id: number; episodes: Episodes };

/** A message from the worker to the host. */
export type WorkerMessage =
  | { kind: "ready"; name: string; description: string; options: OptionTable }
  | { kind: "invalid"; problem: string }
  /** `rewards` is the output as a Float32Array, or the name of its type when it was not one. */
  | { kind: "result"; id: number; rewards: Float32Array | string }
  | { kind: "threw"; id: number; name: string; message: string };

interface Port {
  postMessage(message: WorkerMessage, options?: { transfer: Transferable[] }): void;
  onmessage: ((e: MessageEvent<HostMessage>) => void) | null;
}

/**
 * A copy of the output as a Float32Array, or the name of its type. Copied so the plugin may keep
 * and reuse its own buffer across calls (the copy's buffer is transferred to the host).
 */
function toRewards(out: unknown): Float32Array | string {
  if (out instanceof Float32Array || out instanceof Float64Array || Array.isArray(out)) {
    return new Float32Array(out as ArrayLike<number>);
  }
  if (out === null) return "null";
  if (ArrayBuffer.isView(out)) return out.constructor.name;
  return typeof out;
}

/** Serves a loaded plugin module (its namespace object) to the host. Called by the wrapper. */
export function serve(plugin: Record<string, unknown>): void {
  const port = self as unknown as Port;
  const def = plugin.default;
  const problem = !("default" in plugin)
    ? "the module has no default export"
    : rewardDefinitionProblem(def);
  if (problem) {
    port.postMessage({ kind: "invalid", problem });
    return;
  }
  const definition = def as RewardDefinition;
  let options: ResolvedOptions = {};
  port.onmessage = async (e) => {
    const msg = e.data;
    if (msg.kind === "configure") {
      options = msg.options;
      return;
    }
    try {
      const rewards = toRewards(await definition.reward(msg.episodes, options));
      const transfer = typeof rewards === "string" ? [] : [rewards.buffer as ArrayBuffer];
      port.postMessage({ kind: "result", id: msg.id, rewards }, { transfer });
    } catch (err) {
      const name = err instanceof Error ? err.name : "a non-Error value";
      const message = err instanceof Error ? err.message : String(err);
      port.postMessage({ kind: "threw", id: msg.id, name, message });
    }
  };
  port.postMessage({
    kind: "ready",
    name: definition.name,
    description: definition.description,
    options: optionTable(definition.options),
  });
}
