/**
 * The explorer in the browser, delivered: `glimpse serve` runs a local server for the page and
 * `glimpse site --out DIR` writes the very same files for any static host. The page (web/) is
 * the library's own TypeScript and WGSL bundled for the browser by `deno bundle`, beside the
 * models' safetensors and a list of them, so the browser runs the model `explain` runs.
 *
 * Files of the site (all paths relative, so it works from any folder of a host):
 *   index.html, style.css, main.js            the page and its bundle
 *   models.json                               [{name, reward, dataset, …, file, eig}]
 *   models/NAME/model.safetensors             each model as trained (RAM and probes)
 *   models/NAME/eig.json                      its EIG table on the test split, when it has one
 *   examples/seven.png, two.png, four.png     digits to start from
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadCheckpoint, MODEL_FILE } from "../run/checkpoint.ts";
import { intOption, OptionError } from "./options.ts";
import { SHIPPED_MODELS } from "./explain.ts";

/** One file of the site: its bytes and content type. */
export interface SiteFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

/** What models.json lists for each model. */
export interface SiteModel {
  name: string;
  reward: string;
  dataset: string;
  variant: string;
  width: number;
  height: number;
  glimpses: number;
  epoch: number;
  /** Whether it carries a VAE probe (vae.* tensors). */
  probe: boolean;
  /** Path of its model.safetensors in the site. */
  file: string;
  /** Path of its eig.json in the site, or null. */
  eig: string | null;
}

const ROOT = new URL("..", import.meta.url);
const EXAMPLES = ["seven.png", "two.png", "four.png"];

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  png: "image/png",
  safetensors: "application/octet-stream",
};

function typeOf(path: string): string {
  return TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

async function exists(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null)) !== null;
}

/** The shipped models found in the working folder or beside this module. */
async function shippedModels(): Promise<string[]> {
  for (const root of [".", fileURLToPath(ROOT).replace(/\/$/, "")]) {
    const found: string[] = [];
    for (const m of SHIPPED_MODELS) {
      const dir = root === "." ? m : `${root}/${m}`;
      if (await exists(`${dir}/${MODEL_FILE}`)) found.push(dir);
    }
    if (found.length > 0) return found;
  }
  throw new OptionError(
    `no --model given and no shipped model found (${SHIPPED_MODELS.join(", ")}); ` +
      "pass --model runs/NAME",
  );
}

/** Bundles web/main.ts for the browser with `deno bundle` (the WGSL comes along as text). */
async function bundlePage(): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "glimpse_bundle_" });
  try {
    const entry = fileURLToPath(new URL("web/main.ts", ROOT));
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--minify",
        "-o",
        `${dir}/main.js`,
        entry,
      ],
      cwd: fileURLToPath(ROOT),
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      // deno bundle's report ends with the error; its first line is "experimental" noise
      // deno-lint-ignore no-control-regex
      const text = new TextDecoder().decode(stderr).replace(/\x1b\[[0-9;]*m/g, "").trim();
      const line = text.split("\n").filter((l) => /error/i.test(l)).at(0) ??
        text.split("\n").at(-1);
      throw new Error(`Cannot bundle web/main.ts for the browser: ${line}`);
    }
    return await Deno.readFile(`${dir}/main.js`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Every file of the explorer site for the model folders `models` (default: the shipped ones).
 * A folder that is not a readable checkpoint, or two with the same name, is one line.
 *
 * @example
 * ```ts ignore
 * import { explorerFiles } from "./serve.ts";
 * const files = await explorerFiles(["checkpoints/mnist-entropy"]);
 * console.log([...files.keys()]); // index.html, main.js, models.json, models/mnist-entropy/…
 * ```
 */
export async function explorerFiles(
  models: readonly string[] = [],
): Promise<Map<string, SiteFile>> {
  const dirs = models.length > 0
    ? models.map((m) => m.replace(/\/+$/, "") || "/")
    : await shippedModels();
  const files = new Map<string, SiteFile>();
  const add = (path: string, body: Uint8Array<ArrayBuffer>) =>
    files.set(path, { body, type: typeOf(path) });
  const list: SiteModel[] = [];
  for (const dir of dirs) {
    const name = dir.slice(dir.lastIndexOf("/") + 1) || "model";
    if (list.some((m) => m.name === name)) {
      throw new OptionError(`--model "${dir}": a model named "${name}" is already listed`);
    }
    const ckpt = await loadCheckpoint(dir);
    const cfg = ckpt.meta.config;
    const file = `models/${name}/${MODEL_FILE}`;
    add(file, await Deno.readFile(`${dir}/${MODEL_FILE}`));
    let eig: string | null = null;
    const eigJson = await Deno.readFile(`${dir}/eig.json`).catch(() => null);
    if (eigJson) add(eig = `models/${name}/eig.json`, eigJson);
    list.push({
      name,
      reward: cfg.reward.name,
      dataset: cfg.dataset,
      variant: cfg.data.variant,
      width: cfg.model.width,
      height: cfg.model.height,
      glimpses: cfg.model.glimpses,
      epoch: ckpt.meta.epoch,
      probe: ckpt.vae !== null,
      file,
      eig,
    });
  }
  add("models.json", new TextEncoder().encode(JSON.stringify(list, null, 2) + "\n"));
  for (const page of ["index.html", "style.css"]) {
    add(page, await Deno.readFile(new URL(`web/${page}`, ROOT)));
  }
  for (const ex of EXAMPLES) {
    add(`examples/${ex}`, await Deno.readFile(new URL(`examples/${ex}`, ROOT)));
  }
  add("main.js", await bundlePage());
  return files;
}

/** The options of `serve`, as commander hands them over. */
export interface ServeFlags {
  model?: string[];
  port?: string;
}

/**
 * Serves the explorer on 127.0.0.1 until the process is stopped; prints its URL first (the
 * port as given, or the one picked with --port 0).
 *
 * @example
 * ```ts ignore
 * import { serveCommand } from "./serve.ts";
 * await serveCommand({ port: "8000" }); // glimpse explorer: http://127.0.0.1:8000/
 * ```
 */
export async function serveCommand(flags: ServeFlags): Promise<number> {
  const port = intOption("--port", flags.port, 0) ?? 8000;
  if (port > 65535) throw new OptionError(`--port "${flags.port}": expected 0..65535`);
  const files = await explorerFiles(flags.model);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
      let path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
      if (path === "") path = "index.html";
      const f = files.get(path);
      if (!f || (req.method !== "GET" && req.method !== "HEAD")) {
        return new Response("not found\n", { status: 404 });
      }
      return new Response(req.method === "HEAD" ? null : f.body, {
        headers: { "content-type": f.type, "cache-control": "no-cache" },
      });
    });
  } catch (e) {
    throw new OptionError(`--port ${port}: cannot listen on 127.0.0.1: ${(e as Error).message}`);
  }
  const models = JSON.parse(
    new TextDecoder().decode(files.get("models.json")!.body),
  ) as SiteModel[];
  console.log(
    `glimpse explorer: http://127.0.0.1:${server.addr.port}/ ` +
      `(models: ${models.map((m) => m.name).join(", ")}; Ctrl-C stops)`,
  );
  await server.finished;
  return 0;
}

/** The options of `site`. */
export interface SiteFlags {
  model?: string[];
  out?: string;
}

/**
 * Writes the explorer as static files into --out, atomically: the files go into a temporary
 * folder beside it, which then replaces --out (a folder that holds something other than an
 * earlier site is refused, so nothing of the user's is deleted).
 */
export async function siteCommand(flags: SiteFlags): Promise<number> {
  const out = (flags.out ?? "").replace(/\/+$/, "");
  if (out === "") throw new OptionError(`--out: expected a folder for the site`);
  const info = await Deno.stat(out).catch(() => null);
  if (info && !info.isDirectory) {
    throw new OptionError(`--out "${out}": exists and is not a folder`);
  }
  if (info) {
    const names: string[] = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    if (names.length > 0 && !names.includes("models.json")) {
      throw new OptionError(
        `--out "${out}": holds files that are not an explorer site; give an empty or new folder`,
      );
    }
  }
  const files = await explorerFiles(flags.model);
  const parent = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".site_" });
  await Deno.chmod(tmp, 0o755); // makeTempDir makes it private; a site is for serving
  try {
    for (const [path, f] of files) {
      const file = `${tmp}/${path}`;
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(file, f.body);
    }
    if (info) {
      const old = `${tmp}.old`;
      await Deno.rename(out, old);
      await Deno.rename(tmp, out);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, out);
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  let bytes = 0;
  for (const f of files.values()) bytes += f.body.length;
  console.log(
    `wrote the explorer to ${out}/ (${files.size} files, ${(bytes / 1e6).toFixed(1)} MB)`,
  );
  return 0;
}
