/**
 * Plugins given as http(s) URLs. The host downloads the module itself (one GET of the URL the
 * user gave, redirects followed, a size limit and the load timeout), writes it to a fresh
 * temporary folder, and from there it is checked and run like a local plugin, with only the
 * plugin API to import: the plugin's process never reaches the network, and a URL plugin cannot
 * make the host fetch anything else (`deno info` on a URL would fetch every import it names).
 *
 * @module
 */
import { RewardError } from "./define.ts";

/** A URL plugin larger than this is refused. */
export const MAX_REMOTE_PLUGIN_BYTES = 4 * 2 ** 20;

/** A downloaded plugin: its local copy and the folder to remove when done. */
export interface DownloadedPlugin {
  path: string;
  dir: string;
}

/** The extension Deno needs to read the module as what it is. */
function extensionOf(url: URL, contentType: string | null): string {
  const ext = /\.(ts|mts|js|mjs)$/.exec(url.pathname)?.[0];
  if (ext) return ext;
  return /typescript/i.test(contentType ?? "") ? ".ts" : ".js";
}

/** The innermost cause of a fetch failure (Deno nests the OS error in `cause`). */
function cause(e: unknown): string {
  let err = e as Error & { cause?: unknown };
  const parts = [err.message];
  while (err.cause instanceof Error) {
    err = err.cause as Error & { cause?: unknown };
    parts.push(err.message);
  }
  return parts.join(": ").replace(/\s*\n\s*/g, " ");
}

/**
 * Downloads the plugin at `url` into a new temporary folder. Throws a RewardError naming
 * `plugin` that says why: the network error, an HTTP status, a timeout, or a size over the
 * limit.
 */
export async function downloadPlugin(
  plugin: string,
  url: string,
  timeoutMs: number,
): Promise<DownloadedPlugin> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (e) {
    const why = (e as Error).name === "TimeoutError"
      ? `no answer within ${timeoutMs} ms`
      : cause(e);
    throw new RewardError(plugin, `cannot fetch ${url}: ${why}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new RewardError(plugin, `cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > MAX_REMOTE_PLUGIN_BYTES) {
    await res.body?.cancel();
    throw new RewardError(
      plugin,
      `${url} is ${declared} bytes (at most ${MAX_REMOTE_PLUGIN_BYTES})`,
    );
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_REMOTE_PLUGIN_BYTES) {
    throw new RewardError(plugin, `${url} is over ${MAX_REMOTE_PLUGIN_BYTES} bytes`);
  }
  const dir = await Deno.makeTempDir({ prefix: "glimpse-plugin-" });
  const path = `${dir}/plugin${
    extensionOf(new URL(res.url || url), res.headers.get("content-type"))
  }`;
  await Deno.writeFile(path, bytes);
  return { path, dir };
}
