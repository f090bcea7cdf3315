/**
 * The host side of the reward sandbox: runs one reward plugin in its own `deno run` process
 * with no permissions, after checking its module graph, with a memory ceiling, a timeout on
 * loading and on every call, and checks on everything that comes back.
 *
 * Why a process and not a Worker (measured on Deno 2.9.6, DESIGN.md): a module specifier
 * written literally in a plugin is loaded with the *loader's* permissions before a Worker's
 * `permissions: "none"` applies, so in an `-A` host a Worker reads whatever the plugin names; a
 * Worker has no heap limit, so a plugin that grows without bound kills the host; and a Worker
 * stuck in a loop cannot be stopped. A child process with no permissions at all has none of
 * these holes but one: the static imports of its main module are still read. So:
 * 1. rewards/graph.ts checks the plugin's module graph (`deno info --json`, nothing runs) and
 *    refuses any import outside the plugin's folder and the plugin API;
 * 2. the process is `deno run --no-prompt --no-remote --no-npm --no-config --no-lock
 *    --v8-flags=--max-old-space-size=N` with no `--allow-*` flag and a cleared environment; its
 *    main module imports rewards/runner.ts and then the plugin, exactly the graph checked;
 *    anything the plugin tries at run time (non-literal `import()`, Workers, files, network,
 *    env, subprocesses, FFI) is denied;
 * 3. on Linux the host also watches the process's resident memory (ArrayBuffers are outside the
 *    V8 heap limit) and kills it past N + RSS_HEADROOM_MIB;
 * 4. a timeout kills the process (SIGKILL): a loop cannot outlive it.
 * The host survives every way the process ends, and says which in one line naming the plugin:
 * memory ceiling, `Deno.exit()`/`close()`, uncaught error, timeout, signal, exit code.
 *
 * Per batch the episodes (about 40 KiB at T=6, B=128, C=10) go over a pipe and float64 rewards
 * come back (bench/rewards_bench.ts measures the round trip).
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { hasControlCharacters, RewardError } from "./define.ts";
import { checkEpisodes, checkRewardOutput, describeThrown, plainText } from "./check.ts";
import { concatBytes, encodeFrame, type Frame, FrameReader } from "./frames.ts";
import { checkPluginGraph, LOAD_FLAGS } from "./graph.ts";
import { type OptionTable, type ResolvedOptions, resolveRewardOptions } from "./options.ts";
import { downloadPlugin } from "./remote.ts";
import type { Episodes } from "./types.ts";

/** Default for `--reward-timeout`: loading the plugin, and each call, in milliseconds. */
export const DEFAULT_REWARD_TIMEOUT_MS = 10_000;
/** Default for `--reward-memory`: the plugin process's V8 heap ceiling, MiB. */
export const DEFAULT_REWARD_MEMORY_MIB = 512;
/** Resident memory allowed above the heap ceiling: the runtime, code, and ArrayBuffers. */
export const RSS_HEADROOM_MIB = 256;

/** How to open a sandbox. */
export interface SandboxOptions {
  /** `--reward-opt` strings ("key=value") or typed values, checked against the defaults. */
  opts?: readonly string[] | Readonly<Record<string, unknown>>;
  /** Limit for loading and for each call, ms (default DEFAULT_REWARD_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Limit for loading alone, ms (default: `timeoutMs`). */
  loadTimeoutMs?: number;
  /** The plugin process's heap ceiling, MiB (default DEFAULT_REWARD_MEMORY_MIB). */
  memoryMiB?: number;
  /**
   * Where the plugin's `console` output goes, one line at a time with control characters
   * removed (default: stderr, prefixed with the plugin).
   */
  onLog?: (line: string) => void;
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

/** A loaded, configured reward plugin running in its own sandboxed process. */
export interface SandboxedReward {
  /** The reward function for the trainer (a RewardFn); rejects with a RewardError naming the plugin. */
  readonly fn: (episodes: Episodes) => Promise<Float32Array>;
  /** The plugin as named in errors: what was given to --reward. */
  readonly plugin: string;
  /** The module that was loaded. */
  readonly url: string;
  /** The definition's name. */
  readonly name: string;
  /** The definition's one-line description. */
  readonly description: string;
  /** Resolved option values. */
  readonly options: ResolvedOptions;
  /** The plugin's declared options: type, default, help. */
  readonly optionTable: OptionTable;
  /** `{ spec, name, options }` to record with the run. */
  readonly metadata: RewardMetadata;
  /** Stops the process; pending and later calls reject. Idempotent; resolves once it is gone. */
  close(): Promise<void>;
  /** close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const RUNNER_URL = new URL("./runner.ts", import.meta.url).href;

/**
 * Environment of the plugin's process: where Deno keeps its cache, and PATH (so a subprocess is
 * reported as denied, not as not found). The plugin itself can read none of it.
 */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "PATH"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** Resident memory of process `pid` in MiB, or null where /proc is not there. */
async function residentMiB(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = /^VmRSS:\s+(\d+)/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** Why the plugin's `ready` frame is unusable (it comes from the plugin's process: re-check). */
function readyProblem(h: Record<string, unknown>): string | null {
  const clean = (s: unknown) => typeof s === "string" && !hasControlCharacters(s);
  if (!clean(h.name) || (h.name as string).trim() === "") {
    return `its name is not a plain one-line string (${plainText(String(h.name))})`;
  }
  if (!clean(h.description)) {
    return `its description is not a plain one-line string (${plainText(String(h.description))})`;
  }
  const opts = h.options;
  if (typeof opts !== "object" || opts === null) return "its option table is not an object";
  for (const [k, o] of Object.entries(opts as Record<string, Record<string, unknown>>)) {
    if (!/^[A-Za-z_][\w-]*$/.test(k)) return `option name "${plainText(k)}" is not an identifier`;
    if (
      typeof o?.default !== o?.type || !["number", "boolean", "string"].includes(o.type as string)
    ) {
      return `option "${k}" has no valid type and default`;
    }
    if (!clean(o.description) || (o.type === "string" && !clean(o.default))) {
      return `option "${k}" has control characters in its text`;
    }
  }
  return null;
}

/** One line for the process's stderr when it died while loading (Deno's own report). */
function loadFailure(stderr: string): string | null {
  const text = plainText(stderr, 2000);
  const m = /error: (?:Uncaught (?:\(in promise\) )?)?(.*?)(?: at (file:\S+|data:\S+))?(?: |$)/
    .exec(
      text,
    );
  if (!m) return null;
  const first = /^(.*?)(?: [^ ]+\n| {2}|\s+\^)/.exec(m[1])?.[1] ?? m[1];
  const at = /at (file:\/\/\S+?:\d+:\d+)/.exec(text)?.[1];
  return `threw while loading: ${first.trim()}${at ? ` (at ${at})` : ""}`;
}

interface Pending {
  resolve(r: Float32Array): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  T: number;
  B: number;
}

/**
 * Loads the plugin module at `url` (file:, http: or https:) in a sandboxed process, checks its
 * default export, resolves `opts` against its option defaults and returns the configured
 * reward. `plugin` names it in every error (refused import, module not found, syntax error, not
 * a reward definition, threw, memory ceiling, exited, timed out, wrong shape, a value that is
 * not finite or beyond the bound, at glimpse t sample b).
 *
 * @example
 * ```ts
 * import { openSandbox } from "./sandbox.ts";
 * const url = new URL("./entropy.ts", import.meta.url).href;
 * const reward = await openSandbox("entropy", url, { opts: ["beta=0.25"], timeoutMs: 5000 });
 * try {
 *   // const r = await reward.fn(episodes); // (T, B)
 * } finally {
 *   await reward.close();
 * }
 * ```
 */
export async function openSandbox(
  plugin: string,
  url: string,
  {
    opts = [],
    timeoutMs = DEFAULT_REWARD_TIMEOUT_MS,
    loadTimeoutMs = timeoutMs,
    memoryMiB = DEFAULT_REWARD_MEMORY_MIB,
    onLog = (line) => console.error(`[${plugin}] ${line}`),
  }: SandboxOptions = {},
): Promise<SandboxedReward> {
  for (const ms of [timeoutMs, loadTimeoutMs]) {
    if (!(Number.isFinite(ms) && ms > 0)) {
      throw new RewardError(plugin, `timeout must be a positive number of ms, got ${ms}`);
    }
  }
  if (!(Number.isInteger(memoryMiB) && memoryMiB >= 16)) {
    throw new RewardError(plugin, `memory ceiling must be an integer ≥ 16 MiB, got ${memoryMiB}`);
  }
  const remote = /^https?:/i.test(url);
  const downloaded = remote ? await downloadPlugin(plugin, url, loadTimeoutMs) : null;
  const removeDownload = () =>
    downloaded ? Deno.remove(downloaded.dir, { recursive: true }).catch(() => {}) : undefined;
  const path = downloaded?.path ?? fileURLToPath(url);
  try {
    await checkPluginGraph(plugin, { path, remote });
  } catch (e) {
    await removeDownload();
    throw e;
  }

  const main = `import { serve } from ${JSON.stringify(RUNNER_URL)};\n` +
    `import * as plugin from ${JSON.stringify(pathToFileURL(path).href)};\nawait serve(plugin);\n`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...LOAD_FLAGS,
      `--v8-flags=--max-old-space-size=${memoryMiB}`,
      `data:application/typescript;base64,${btoa(main)}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: childEnv(),
  }).spawn();
  const stdin = child.stdin.getWriter();

  const pending = new Map<number, Pending>();
  let stopped: RewardError | null = null;
  let nextId = 0;
  let ready = false;
  let exitedBy: string | null = null; // what the runner reported before the process ended
  let stderr = "";
  let onLoaded: (f: Frame) => void = () => {};
  let onLoadError: (e: RewardError) => void = () => {};
  const loaded = new Promise<Frame>((resolve, reject) => {
    onLoaded = resolve;
    onLoadError = reject;
  });
  loaded.catch(() => {}); // rejected after loading only when nobody waits any more

  const stop = (err: RewardError) => {
    if (stopped) return;
    stopped = err;
    clearInterval(watchdog);
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
    onLoadError(err);
  };
  const stage = () => ready ? "" : " while loading";

  const onFrame = ({ header: h, body }: Frame) => {
    if (h.kind === "exit") {
      exitedBy = plainText(String(h.how), 60);
      return;
    }
    if (h.kind === "log") return onLog(plainText(String(h.text), 2000));
    if (h.kind === "uncaught") {
      const what = ready ? "failed with an uncaught error" : "threw while loading";
      return stop(new RewardError(plugin, `${what}: ${plainText(String(h.message))}`));
    }
    if (!ready) return onLoaded({ header: h, body });
    const p = pending.get(h.id as number);
    if ((h.kind !== "result" && h.kind !== "threw") || !p) {
      return stop(
        new RewardError(plugin, `sent an unexpected message (${plainText(String(h.kind), 40)})`),
      );
    }
    pending.delete(h.id as number);
    clearTimeout(p.timer);
    if (h.kind === "threw") {
      return p.reject(
        new RewardError(
          plugin,
          describeThrown(plainText(String(h.name), 60), plainText(String(h.message))),
        ),
      );
    }
    if (typeof h.type === "string") {
      return p.reject(
        new RewardError(
          plugin,
          `returned ${plainText(h.type, 40)}, expected a Float32Array (T, B)`,
        ),
      );
    }
    if (body.byteLength % 8 !== 0) {
      return stop(new RewardError(plugin, "sent a malformed result"));
    }
    try {
      p.resolve(
        checkRewardOutput(plugin, p.T, p.B, new Float64Array(body.buffer, 0, body.byteLength / 8)),
      );
    } catch (err) {
      p.reject(err as Error);
    }
  };

  const stdoutDone = (async () => {
    const reader = new FrameReader();
    try {
      for await (const chunk of child.stdout) {
        if (stopped) continue; // drain
        reader.push(chunk);
        for (let f = reader.next(); f && !stopped; f = reader.next()) onFrame(f);
      }
    } catch (e) {
      stop(new RewardError(plugin, plainText((e as Error).message)));
    }
  })();
  const stderrDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderr = (stderr + dec.decode(chunk)).slice(-16384);
  })();
  const exited = child.status.then(async (s) => {
    await Promise.all([stdoutDone, stderrDone]);
    if (stopped) return;
    const when = stage();
    if (/out of memory|heap limit/i.test(stderr)) {
      stop(
        new RewardError(
          plugin,
          `exceeded its memory ceiling of ${memoryMiB} MiB${when}; its process was stopped`,
        ),
      );
    } else if (exitedBy) {
      stop(new RewardError(plugin, `called ${exitedBy}${when}, which ended its process`));
    } else if (s.signal) {
      stop(new RewardError(plugin, `its process was killed by ${s.signal}${when}`));
    } else {
      const failure = ready ? null : loadFailure(stderr);
      stop(
        new RewardError(
          plugin,
          failure ??
            `its process exited with code ${s.code}${when} (Deno.exit(), process.exit() or close())`,
        ),
      );
    }
  });

  const rssLimit = memoryMiB + RSS_HEADROOM_MIB;
  let polling = false;
  const watchdog = setInterval(async () => {
    if (polling || stopped) return;
    polling = true;
    const mib = await residentMiB(child.pid);
    polling = false;
    if (mib !== null && mib > rssLimit) {
      stop(
        new RewardError(
          plugin,
          `exceeded its memory ceiling of ${memoryMiB} MiB${stage()} (${Math.round(mib)} MiB ` +
            `resident, limit ${rssLimit} MiB with the runtime); its process was stopped`,
        ),
      );
    }
  }, 100);

  const close = async () => {
    stop(new RewardError(plugin, "the reward was closed"));
    await stdin.close().catch(() => {});
    await exited;
    await removeDownload();
  };

  let loadTimer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    loadTimer = setTimeout(() => {
      const err = new RewardError(
        plugin,
        `timed out after ${loadTimeoutMs} ms while loading (its process was stopped)`,
      );
      stop(err);
      reject(err);
    }, loadTimeoutMs);
  });
  timedOut.catch(() => {});
  let first: Frame;
  try {
    first = await Promise.race([loaded, timedOut]);
  } catch (e) {
    await close();
    throw stopped ?? e;
  } finally {
    clearTimeout(loadTimer);
  }
  const h = first.header;
  const problem = h.kind === "invalid"
    ? `default export is not a reward definition: ${plainText(String(h.problem))}`
    : h.kind !== "ready"
    ? `sent an unexpected message while loading (${plainText(String(h.kind), 40)})`
    : readyProblem(h);
  let options: ResolvedOptions;
  try {
    if (problem) throw new RewardError(plugin, problem);
    options = resolveRewardOptions(plugin, h.options as OptionTable, opts);
  } catch (err) {
    await close();
    throw err;
  }
  ready = true;
  stdin.write(encodeFrame({ kind: "configure", options })).catch(() => {});

  const fn = (ep: Episodes): Promise<Float32Array> => {
    if (stopped) return Promise.reject(stopped);
    checkEpisodes(plugin, ep);
    const { T, B, C } = ep;
    const id = nextId++;
    const frame = encodeFrame(
      { kind: "call", id, T, B, C },
      concatBytes([ep.probs, ep.labels, ep.predictions, ep.locations]), // a copy
    );
    return new Promise<Float32Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop(
          new RewardError(
            plugin,
            `timed out after ${timeoutMs} ms on a batch (T=${T}, B=${B}); its process was stopped`,
          ),
        );
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer, T, B });
      // A broken pipe means the process ended: `exited` says why.
      stdin.write(frame).catch(() => {});
    });
  };

  const name = h.name as string;
  const table = h.options as OptionTable;
  return {
    fn,
    plugin,
    url,
    name,
    description: h.description as string,
    options,
    optionTable: table,
    metadata: { spec: plugin, name, options: { ...options } },
    close,
    [Symbol.asyncDispose]: close,
  };
}
