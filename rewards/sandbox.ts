/**
 * The host side of the reward sandbox: runs one reward plugin in a Worker started with
 * `deno: { permissions: "none" }` (no file, network, environment, subprocess, FFI or system
 * access), with a timeout on loading and on every call, and checks everything that comes back.
 *
 * How the plugin is loaded: the worker's main module is a generated `data:` module that
 * statically imports rewards/worker.ts and then the plugin (see worker.ts). Deno loads a worker's
 * main module graph before the worker runs, so the plugin file and its relative imports load
 * without granting the worker read access; a dynamic `import()` in the worker is refused
 * (measured on Deno 2.9.6: "Requires read access to …/plugin.ts"). The cost is that a plugin
 * which fails to load (syntax error, missing import, throw at top level) takes the worker down
 * before any of our code runs: Deno prints its own "Uncaught (in worker …)" report with a code
 * frame on stderr, and the host turns the error event into one line naming the plugin.
 *
 * Batches are copied and the copies transferred: the trainer keeps its arrays, and the plugin
 * cannot see or change them.
 *
 * In a terminal, a worker with permissions "none" would *prompt* the user when the plugin
 * touches a file rather than fail; run with `--no-prompt` (the deno.json tasks do) so every
 * access is simply denied.
 *
 * @module
 */
import { RewardError } from "./define.ts";
import { checkEpisodes, checkRewardOutput, describeThrown } from "./check.ts";
import { type OptionTable, type ResolvedOptions, resolveRewardOptions } from "./options.ts";
import type { Episodes } from "./types.ts";
import type { HostMessage, WorkerMessage } from "./worker.ts";

/** Default for `--reward-timeout`: loading the plugin, and each call, in milliseconds. */
export const DEFAULT_REWARD_TIMEOUT_MS = 10_000;

/** How to open a sandbox. */
export interface SandboxOptions {
  /** `--reward-opt` strings ("key=value") or typed values, checked against the defaults. */
  opts?: readonly string[] | Readonly<Record<string, unknown>>;
  /** Limit for loading and for each call, ms (default DEFAULT_REWARD_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Limit for loading alone, ms (default: `timeoutMs`). Under `deno test` Deno type-checks the
   * worker's module graph before it runs (seconds for a graph it has not checked before).
   */
  loadTimeoutMs?: number;
}

/** What the trainer records about the reward (checkpoint metadata, metrics.jsonl). */
export interface RewardMetadata {
  /** The reward as given to --reward (built-in name, path or URL). */
  spec: string;
  /** The definition's name. */
  name: string;
  /** Resolved options, defaults filled in. */
  options: ResolvedOptions;
}

/** A loaded, configured reward plugin running in its own sandboxed worker. */
export interface SandboxedReward {
  /** The reward function for the trainer (a RewardFn); rejects with a RewardError naming the plugin. */
  readonly fn: (episodes: Episodes) => Promise<Float32Array>;
  /** The plugin as named in errors: what was given to --reward. */
  readonly plugin: string;
  /** The module that was loaded. */
  readonly url: string;
  readonly name: string;
  readonly description: string;
  /** Resolved option values. */
  readonly options: ResolvedOptions;
  /** The plugin's declared options: type, default, help. */
  readonly optionTable: OptionTable;
  /** `{ spec, name, options }` to record with the run. */
  readonly metadata: RewardMetadata;
  /** Stops the worker; pending and later calls reject. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

// Deno colours worker error messages; errors we raise are plain one-liners.
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");
const stripAnsi = (s: string) => s.replace(ANSI, "");

/**
 * One line for an error event that stopped the worker: while it loaded the plugin (syntax
 * error, missing import, throw at top level) or later (an error the plugin left uncaught, such
 * as a rejected promise it did not await).
 */
function describeWorkerError(raw: string, loading: boolean): string {
  const text = stripAnsi(raw).trim().replace(/^Uncaught (\(in promise\) )?/, "");
  const first = text.split("\n")[0].trim();
  const at = /\n\s*at (\S+)\s*$/.exec(text)?.[1];
  const where = at && !at.startsWith("data:") ? ` (at ${at})` : "";
  if (/Requires \w+ access to/.test(first)) {
    return describeThrown("", first.replace(/^\w+: /, "")) + (loading ? " while loading" : "");
  }
  if (!loading) return `failed with an uncaught error: ${first}${where}`;
  if (first.startsWith("SyntaxError:")) {
    return `syntax error: ${first.slice("SyntaxError:".length).trim()}${where}`;
  }
  if (first.startsWith("Type checking failed")) {
    // Only where Deno type-checks (deno test, deno run --check); it printed the errors itself.
    return "type checking failed (Deno printed the errors above)";
  }
  if (first.startsWith("Module not found")) {
    return `module not found: ${first.slice("Module not found".length).trim()}${where}`;
  }
  return `threw while loading: ${first}${where}`;
}

interface Pending {
  resolve(r: Float32Array): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  T: number;
  B: number;
}

/**
 * Loads the plugin module at `url` in a sandboxed worker, checks its default export, resolves
 * `opts` against its option defaults and returns the configured reward. `plugin` names it in
 * every error (module not found, syntax error, not a reward definition, threw, timed out, wrong
 * shape, NaN at glimpse t sample b).
 *
 * @example
 * ```ts
 * import { openSandbox } from "./sandbox.ts";
 * const url = new URL("./entropy.ts", import.meta.url).href;
 * const reward = await openSandbox("entropy", url, { opts: ["beta=0.25"], timeoutMs: 5000 });
 * try {
 *   // const r = await reward.fn(episodes); // (T, B)
 * } finally {
 *   reward.close();
 * }
 * ```
 */
export async function openSandbox(
  plugin: string,
  url: string,
  { opts = [], timeoutMs = DEFAULT_REWARD_TIMEOUT_MS, loadTimeoutMs = timeoutMs }: SandboxOptions =
    {},
): Promise<SandboxedReward> {
  for (const ms of [timeoutMs, loadTimeoutMs]) {
    if (!(Number.isFinite(ms) && ms > 0)) {
      throw new RewardError(plugin, `timeout must be a positive number of ms, got ${ms}`);
    }
  }
  const wrapper = `import { serve } from ${JSON.stringify(WORKER_URL)};\n` +
    `import * as plugin from ${JSON.stringify(url)};\nserve(plugin);\n`;
  const worker = new Worker(`data:text/javascript,${encodeURIComponent(wrapper)}`, {
    type: "module",
    name: `reward ${plugin}`,
    deno: { permissions: "none" },
  });
  const pending = new Map<number, Pending>();
  let stopped: RewardError | null = null;
  let nextId = 0;

  const stop = (err: RewardError) => {
    if (stopped) return;
    stopped = err;
    worker.terminate();
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };

  // Load: wait for `ready`/`invalid`, an error event, or the timeout.
  let onLoaded: (m: WorkerMessage) => void = () => {};
  let onLoadError: (e: RewardError) => void = () => {};
  const loaded = new Promise<WorkerMessage>((resolve, reject) => {
    onLoaded = resolve;
    onLoadError = reject;
  });
  let ready = false;
  worker.addEventListener("error", (e) => {
    // Always handled here: an unhandled worker error would be rethrown in the host.
    e.preventDefault();
    const err = new RewardError(plugin, describeWorkerError(e.message, !ready));
    stop(err);
    onLoadError(err);
  });
  worker.addEventListener("message", (e: MessageEvent<WorkerMessage>) => {
    const m = e.data;
    if (!ready) return onLoaded(m);
    if (m?.kind !== "result" && m?.kind !== "threw") {
      return stop(new RewardError(plugin, `sent an unexpected message (${m?.kind})`));
    }
    const p = pending.get(m.id);
    if (!p) return stop(new RewardError(plugin, `sent a reply to no call (${m.id})`));
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.kind === "threw") {
      return p.reject(new RewardError(plugin, describeThrown(m.name, m.message)));
    }
    if (typeof m.rewards === "string") {
      return p.reject(
        new RewardError(plugin, `returned ${m.rewards}, expected a Float32Array (T, B)`),
      );
    }
    try {
      p.resolve(checkRewardOutput(plugin, p.T, p.B, m.rewards));
    } catch (err) {
      p.reject(err as Error);
    }
  });

  let loadTimer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    loadTimer = setTimeout(() => {
      const err = new RewardError(
        plugin,
        `timed out after ${loadTimeoutMs} ms while loading (the worker was stopped)`,
      );
      stop(err);
      reject(err);
    }, loadTimeoutMs);
  });
  let first: WorkerMessage;
  try {
    first = await Promise.race([loaded, timedOut]);
  } finally {
    clearTimeout(loadTimer);
  }
  if (first.kind === "invalid") {
    const err = new RewardError(
      plugin,
      `default export is not a reward definition: ${first.problem}`,
    );
    stop(err);
    throw err;
  }
  if (first.kind !== "ready") {
    const err = new RewardError(plugin, `sent an unexpected message while loading (${first.kind})`);
    stop(err);
    throw err;
  }
  ready = true;

  let options: ResolvedOptions;
  try {
    options = resolveRewardOptions(plugin, first.options, opts);
  } catch (err) {
    stop(new RewardError(plugin, "closed"));
    throw err;
  }
  worker.postMessage({ kind: "configure", options } satisfies HostMessage);

  const fn = (ep: Episodes): Promise<Float32Array> => {
    if (stopped) return Promise.reject(stopped);
    checkEpisodes(plugin, ep);
    const { T, B, C } = ep;
    // Copies, so the trainer's arrays survive the transfer.
    const episodes: Episodes = {
      T,
      B,
      C,
      probs: ep.probs.slice(),
      labels: ep.labels.slice(),
      predictions: ep.predictions.slice(),
      locations: ep.locations.slice(),
    };
    const id = nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop(
          new RewardError(
            plugin,
            `timed out after ${timeoutMs} ms on a batch (T=${T}, B=${B}); the worker was stopped`,
          ),
        );
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer, T, B });
      const transfer = [
        episodes.probs.buffer,
        episodes.labels.buffer,
        episodes.predictions.buffer,
        episodes.locations.buffer,
      ] as ArrayBuffer[];
      worker.postMessage({ kind: "call", id, episodes } satisfies HostMessage, transfer);
    });
  };

  const close = () => stop(new RewardError(plugin, "the reward was closed"));
  const name = first.name;
  return {
    fn,
    plugin,
    url,
    name,
    description: first.description,
    options,
    optionTable: first.options,
    metadata: { spec: plugin, name, options: { ...options } },
    close,
    [Symbol.dispose]: close,
  };
}
