/**
 * The module-graph check that runs before a plugin is loaded. Deno loads the static imports of
 * a process's main module before any permission applies (measured, DESIGN.md: a `deno run` with
 * no permissions still reads a statically imported file, text imports included), so what the
 * plugin's process may load is decided here, from `deno info --json`, which lists every static
 * and literal dynamic import (code, JSON, text and bytes) without running anything.
 *
 * A plugin may import only:
 * - modules inside its own folder (the folder of the plugin file, symlinks resolved), except
 *   hidden files and folders (a name starting with "."), code or data (JSON/text/bytes);
 * - the project's plugin API: rewards/define.ts, rewards/types.ts and the built-in rewards
 *   rewards/classification.ts and rewards/entropy.ts (to build on), with what entropy.ts
 *   computes its entropies with, kernels/softmax_ref.ts (plain arithmetic, no imports).
 * Anything else (another folder, `file://` elsewhere, http:, https:, data:, npm:, jsr:, node:,
 * bare names) is refused in one line naming the plugin and the specifier as written. A plugin
 * fetched from a URL (rewards/remote.ts) is checked from its downloaded copy and may import the
 * plugin API only.
 *
 * `deno info` runs with `--no-remote --no-npm --no-config --no-lock`, so the check itself never
 * touches the network, and a deno.json next to the plugin cannot remap what it imports. The
 * plugin's process runs with the same flags and loads exactly what was checked.
 *
 * @module
 */
import { dirname, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { plainText } from "./check.ts";
import { RewardError } from "./define.ts";

/** The project's files every plugin may import (the plugin API and the built-ins). */
export const PLUGIN_API: readonly string[] = [
  "define.ts",
  "types.ts",
  "classification.ts",
  "entropy.ts",
  "../kernels/softmax_ref.ts",
]
  .map((f) => fileURLToPath(new URL(`./${f}`, import.meta.url)));

/** The flags `deno info` and the plugin's `deno run` share: nothing but local files, as checked. */
export const LOAD_FLAGS: readonly string[] = [
  "--no-remote",
  "--no-npm",
  "--no-config",
  "--no-lock",
];

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string; error?: string; span?: { start: { line: number } } };
  assertionType?: string;
}
interface InfoModule {
  specifier: string;
  kind?: string;
  error?: string;
  dependencies?: InfoDependency[];
}

/** Where a plugin lives and what it may import. */
export interface GraphScope {
  /** The plugin file (local path). */
  path: string;
  /** True for a downloaded copy of a URL plugin: only the plugin API may be imported. */
  remote?: boolean;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();

/** Runs `deno info --json` on `path`. */
async function denoInfo(plugin: string, path: string): Promise<InfoModule[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...LOAD_FLAGS, path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = oneLine(new TextDecoder().decode(out.stderr)).replace(/^error: /, "");
    throw new RewardError(plugin, `cannot read its module graph: ${err.slice(0, 300)}`);
  }
  return (JSON.parse(text) as { modules: InfoModule[] }).modules;
}

/**
 * Why `url` may not be loaded, or null when it may. `folder` is the plugin's folder with
 * symlinks resolved.
 */
async function refusal(url: string, folder: string, scope: GraphScope): Promise<string | null> {
  if (!url.startsWith("file:")) {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
    return scheme ? `${scheme} imports are not allowed` : "bare imports are not allowed";
  }
  const remoteOnly = "a plugin loaded from a URL may import only rewards/define.ts";
  let real: string;
  try {
    real = await Deno.realPath(fileURLToPath(url));
  } catch {
    // missing: reported as "module not found" once nothing is refused
    return scope.remote ? remoteOnly : null;
  }
  if (PLUGIN_API.includes(real)) return null;
  if (scope.remote) return remoteOnly;
  const rel = relative(folder, real);
  if (rel.startsWith("..") || rel === "" || rel.startsWith(sep)) {
    return `outside the plugin's folder ${folder}`;
  }
  if (rel.split(sep).some((part) => part.startsWith("."))) {
    return "hidden files and folders are not allowed";
  }
  return null;
}

/**
 * Checks the module graph of the plugin at `scope.path`; throws a RewardError naming `plugin`
 * for the first import that is refused, then for the first module that does not load (missing
 * file, syntax error).
 *
 * @example
 * ```ts
 * import { checkPluginGraph } from "./graph.ts";
 * await checkPluginGraph("entropy", { path: new URL("./entropy.ts", import.meta.url).pathname });
 * ```
 */
export async function checkPluginGraph(plugin: string, scope: GraphScope): Promise<void> {
  const folder = await Deno.realPath(dirname(scope.path));
  const root = await Deno.realPath(scope.path);
  if (dirname(root) !== folder) {
    throw new RewardError(plugin, `${scope.path} is a link to ${root}, outside its folder`);
  }
  const modules = await denoInfo(plugin, scope.path);
  const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
  const importedAt = new Map<string, string>();
  // Breadth-first from the plugin, so the import refused is the one the plugin wrote (not one
  // inside, say, a data: module it names), and nothing past a refused import is looked at.
  const queue = [pathToFileURL(scope.path).href];
  const seen = new Set(queue);
  while (queue.length) {
    const m = bySpecifier.get(queue.shift()!);
    for (const d of m?.dependencies ?? []) {
      if (!d.code) continue; // `import type`: erased, never loaded
      const target = d.code.specifier ?? d.specifier;
      const where = `${m!.specifier}:${(d.code.span?.start.line ?? 0) + 1}`;
      importedAt.set(target, where);
      const why = await refusal(target, folder, scope);
      if (why) {
        const kind = d.assertionType ? ` (${d.assertionType} import)` : "";
        throw new RewardError(
          plugin,
          `import "${plainText(d.specifier, 200)}"${kind} refused: ${why} (at ${where})`,
        );
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  for (const m of modules) {
    const err = m.error ?? m.dependencies?.find((d) => d.code?.error)?.code?.error;
    if (!err) continue;
    const text = oneLine(err);
    const syntax = /^SyntaxError: (.*?) \|.* at (\S+)$/.exec(text);
    if (syntax) throw new RewardError(plugin, `syntax error: ${syntax[1]} (at ${syntax[2]})`);
    const missing = /^Module not found "([^"]+)"/.exec(text);
    if (missing) {
      const at = importedAt.get(missing[1]);
      throw new RewardError(plugin, `module not found: ${missing[1]}${at ? ` (at ${at})` : ""}`);
    }
    throw new RewardError(plugin, `cannot load ${m.specifier}: ${text.slice(0, 300)}`);
  }
}
