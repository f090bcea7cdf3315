/**
 * The plugin's side of the reward sandbox: the main module of the `deno run` process that
 * rewards/sandbox.ts starts for a plugin, with no permissions. The host generates the process's
 * main module, which statically imports this file first and the plugin second:
 *
 * ```ts
 * import { serve } from "file:///…/rewards/runner.ts";
 * import * as plugin from "file:///…/my_reward.ts";
 * serve(plugin);
 * ```
 *
 * Static imports are loaded before any code runs and without a permission check (that is why
 * the host checks the plugin's module graph first, rewards/graph.ts); everything the plugin
 * tries at run time (dynamic `import()`, Workers, files, network, env, subprocesses) meets the
 * process's empty permission set.
 *
 * This module is evaluated before the plugin, so its top level installs the guards the plugin
 * cannot undo: the frame writer is bound before the plugin can touch `Deno.stdout`; `console`
 * output becomes `log` frames (stdout carries the protocol; the host prints them); `Deno.exit()` and `close()` are reported to the
 * host before the process ends, so the host can say which the plugin called; an error the plugin
 * leaves uncaught is reported as such.
 *
 * Protocol (frames, rewards/frames.ts):
 * - runner → host `ready` (name, description, option table) or `invalid` (why the default
 *   export is not a reward definition), once, after the plugin's top level has run;
 * - host → runner `configure` (resolved options), then `call`s (T, B, C and the episode arrays
 *   as bytes: probs f32, labels i32, predictions i32, locations f32);
 * - runner → host `result` (rewards as float64 bytes, or the type it got when it was not an
 *   array), `threw`, `uncaught`, or `exit` (how the plugin ended the process).
 *
 * @module
 */
import { type RewardDefinition, rewardDefinitionProblem } from "./define.ts";
import { concatBytes, encodeFrame, FrameReader } from "./frames.ts";
import { optionTable, type ResolvedOptions } from "./options.ts";
import type { Episodes } from "./types.ts";

const writeStdout = Deno.stdout.writeSync.bind(Deno.stdout);
const realExit = Deno.exit.bind(Deno);

function send(header: Record<string, unknown>, body?: Uint8Array): void {
  const bytes = encodeFrame(header, body);
  for (let at = 0; at < bytes.length;) at += writeStdout(bytes.subarray(at));
}

for (const k of ["log", "info", "debug", "warn", "error"] as const) {
  console[k] = (...args: unknown[]) =>
    send({
      kind: "log",
      text: args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ").slice(0, 2000),
    });
}
Deno.exit = (code?: number): never => {
  send({ kind: "exit", how: `Deno.exit(${code ?? ""})` });
  return realExit(code);
};
globalThis.close = () => {
  send({ kind: "exit", how: "close()" });
  realExit(0);
};
/** "Error: message (at file:///…:3:7)": the plugin's first frame says where. */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const at = /\((file:\/\/[^)]+:\d+:\d+)\)|at (file:\/\/\S+:\d+:\d+)/.exec(e.stack ?? "");
  const where = at ? ` (at ${at[1] ?? at[2]})` : "";
  return `${e.name}: ${e.message}${where}`;
}
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  send({ kind: "uncaught", message: describe(e.error ?? e.message) });
});
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  send({ kind: "uncaught", message: describe(e.reason) });
});

/** The output as float64 (checked by the host before it becomes Float32), or its type's name. */
function toRewards(out: unknown): Float64Array | string {
  if (out instanceof Float32Array || out instanceof Float64Array || Array.isArray(out)) {
    return Float64Array.from(out as ArrayLike<number>);
  }
  if (out === null) return "null";
  if (ArrayBuffer.isView(out)) return out.constructor.name;
  return typeof out;
}

/** The episodes of a `call` frame: copies, so each array has its own aligned buffer. */
function episodesOf(T: number, B: number, C: number, body: Uint8Array): Episodes {
  let at = 0;
  const take = (n: number) => body.slice(at, at += 4 * n).buffer;
  return {
    T,
    B,
    C,
    probs: new Float32Array(take(T * B * C)),
    labels: new Int32Array(take(B)),
    predictions: new Int32Array(take(T * B)),
    locations: new Float32Array(take(T * B * 2)),
  };
}

/** Serves a loaded plugin module (its namespace object) to the host. Called by the wrapper. */
export async function serve(plugin: Record<string, unknown>): Promise<void> {
  const def = plugin.default;
  const problem = !("default" in plugin)
    ? "the module has no default export"
    : rewardDefinitionProblem(def);
  if (problem) {
    send({ kind: "invalid", problem });
    return;
  }
  const definition = def as RewardDefinition;
  send({
    kind: "ready",
    name: definition.name,
    description: definition.description,
    options: optionTable(definition.options),
  });
  let options: ResolvedOptions = {};
  const reader = new FrameReader();
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return realExit(0); // the host closed the pipe
    reader.push(buf.subarray(0, n));
    for (let f = reader.next(); f; f = reader.next()) {
      const h = f.header as Record<string, never>;
      if (h.kind === "configure") {
        options = h.options;
        continue;
      }
      try {
        const out = toRewards(await definition.reward(episodesOf(h.T, h.B, h.C, f.body), options));
        if (typeof out === "string") send({ kind: "result", id: h.id, type: out });
        else send({ kind: "result", id: h.id }, concatBytes([out]));
      } catch (err) {
        const name = err instanceof Error ? err.name : "a non-Error value";
        const message = err instanceof Error ? err.message : String(err);
        send({ kind: "threw", id: h.id, name, message });
      }
    }
  }
}
