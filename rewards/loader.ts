/**
 * Resolves `--reward classification|entropy|PATH|URL` to a module and loads it in the sandbox.
 *
 * Built-in names resolve to the rewards/*.ts files beside this module and run in the sandbox
 * like any plugin: `--reward entropy` and `--reward rewards/entropy.ts` behave the same, and
 * the sandbox costs a fraction of a millisecond per batch (bench/rewards_bench.ts). A relative
 * path resolves against `cwd` (the commands pass invocationDir(): where the user ran
 * `deno task`), not against this file.
 *
 * @example
 * ```ts
 * import { loadReward } from "./loader.ts";
 * // deno task train --reward entropy --reward-opt beta=0.25 --reward-timeout 5000
 * const reward = await loadReward("entropy", { opts: ["beta=0.25"], timeoutMs: 5000 });
 * try {
 *   console.log(reward.metadata); // { spec: "entropy", name: "entropy", options: { beta: 0.25 } }
 *   // const r = await reward.fn(episodes); // (T, B)
 * } finally {
 *   await reward.close();
 * }
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type RewardDefinition, RewardError } from "./define.ts";
import { type OptionTable, optionTable } from "./options.ts";
import { openSandbox, type SandboxedReward, type SandboxOptions } from "./sandbox.ts";

/** The built-in rewards: name → module beside this file. */
export const BUILTIN_REWARDS: Readonly<Record<string, string>> = Object.freeze({
  classification: new URL("./classification.ts", import.meta.url).href,
  entropy: new URL("./entropy.ts", import.meta.url).href,
  "early-information": new URL("./early.ts", import.meta.url).href,
});

/** Where a --reward value points. */
export interface ResolvedRewardSpec {
  /** As given: names the plugin in errors and is recorded with the run. */
  spec: string;
  /** Module URL (file:, http: or https:). */
  url: string;
  builtin: boolean;
}

/**
 * Resolves a --reward value: a built-in name, an http(s): or file: URL, or a path (relative to
 * `cwd`). A path must name an existing file.
 *
 * @example
 * ```ts
 * import { resolveRewardSpec } from "./loader.ts";
 * const r = await resolveRewardSpec("./my_reward.ts", "/home/me/project");
 * // r.url === "file:///home/me/project/my_reward.ts" (when that file exists)
 * ```
 */
export async function resolveRewardSpec(
  spec: string,
  cwd: string = Deno.cwd(),
): Promise<ResolvedRewardSpec> {
  if (spec.trim() === "") throw new RewardError(spec, "empty --reward");
  if (Object.hasOwn(BUILTIN_REWARDS, spec)) {
    return { spec, url: BUILTIN_REWARDS[spec], builtin: true };
  }
  // A scheme is at least two letters, so a Windows path (C:\…) is still a path.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    return { spec, url: new URL(spec).href, builtin: false };
  }
  if (scheme && scheme !== "file") {
    throw new RewardError(
      spec,
      `unsupported URL scheme "${scheme}:" (use a path, file:, http: or https:)`,
    );
  }
  const url = scheme === "file"
    ? new URL(spec)
    : pathToFileURL(isAbsolute(spec) ? spec : resolve(cwd, spec));
  const path = decodeURIComponent(url.pathname);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      const hint = /[/\\.]/.test(spec)
        ? ""
        : ` (built-in rewards: ${Object.keys(BUILTIN_REWARDS).join(", ")})`;
      throw new RewardError(spec, `module not found: ${path}${hint}`);
    }
    throw new RewardError(spec, `cannot read ${path}: ${(e as Error).message}`);
  }
  if (!info.isFile) throw new RewardError(spec, `${path} is not a file`);
  return { spec, url: url.href, builtin: false };
}

/**
 * The folder the user ran the command from: `deno task` runs tasks in the project root and
 * records the user's folder in INIT_CWD; a plain `deno run` leaves it unset, and the working
 * directory is the user's.
 */
export function invocationDir(): string {
  return Deno.env.get("INIT_CWD") || Deno.cwd();
}

/**
 * Resolves `spec` (see resolveRewardSpec) and loads it in the sandbox with `opts` resolved
 * against its option defaults. This is what the trainer calls for
 * `--reward X --reward-opt k=v … --reward-timeout ms`; close the result when done.
 */
export async function loadReward(
  spec: string,
  options: SandboxOptions & { cwd?: string } = {},
): Promise<SandboxedReward> {
  const { url } = await resolveRewardSpec(spec, options.cwd);
  return await openSandbox(spec, url, options);
}

/** A built-in reward as listed by `deno task rewards`. */
export interface BuiltinRewardInfo {
  name: string;
  description: string;
  /** Path relative to the project root. */
  module: string;
  options: OptionTable;
}

/** The built-in rewards with their options (imported in this process: they are our code). */
export async function listBuiltinRewards(): Promise<BuiltinRewardInfo[]> {
  const out: BuiltinRewardInfo[] = [];
  for (const [name, url] of Object.entries(BUILTIN_REWARDS)) {
    const def = (await import(url)).default as RewardDefinition;
    out.push({
      name,
      description: def.description,
      module: `rewards/${url.slice(url.lastIndexOf("/") + 1)}`,
      options: optionTable(def.options),
    });
  }
  return out;
}

/**
 * Parses `--reward-timeout` (milliseconds, a positive number).
 *
 * @example
 * ```ts
 * import { parseRewardTimeout } from "./loader.ts";
 * parseRewardTimeout("5000"); // 5000
 * ```
 */
export function parseRewardTimeout(text: string): number {
  const ms = text.trim() === "" ? NaN : Number(text);
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new Error(`--reward-timeout "${text}": expected a positive number of milliseconds`);
  }
  return ms;
}
