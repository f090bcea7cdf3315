/**
 * The layout holds: each library folder is one layer, imports only go down, no module imports
 * itself back through a cycle, and no folder grows past what one reader can hold.
 *
 * The import graph is Deno's own (`deno info --json` on a root that imports every library
 * module), so type-only imports, re-exports and literal dynamic imports are all counted.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/** Layers, lowest first. A module may import its own folder or a folder of a lower layer. */
export const LAYERS: readonly (readonly string[])[] = [
  ["util", "gpu"], // no project imports below them
  ["kernels"], // WGSL kernels, their wrappers and CPU references
  ["datasets", "rewards"], // data and reward plugins: independent of each other
  ["ram"], // the RAM: config, parameters, CPU reference and WebGPU backends
  ["probe"], // probes on the RAM's recurrent state
  ["run"], // training, checkpoints, evaluation, opening a run
  ["report"], // tables, figures, charts
  ["commands", "web"], // what cli.ts and the browser page call
  ["."], // cli.ts, mod.ts
];

/** Most concepts (file stems, a kernel's .wgsl/.ts/_ref.ts counted once) in one folder. */
const MAX_CONCEPTS = 16;

const root = fromFileUrl(new URL("..", import.meta.url));

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

async function libraryModules(): Promise<string[]> {
  const out: string[] = [];
  for (const layer of LAYERS) {
    for (const folder of layer) {
      const dir = folder === "." ? root : `${root}/${folder}`;
      try {
        for await (const e of Deno.readDir(dir)) {
          if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
            out.push(relative(root, `${dir}/${e.name}`));
          }
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
  return out.sort();
}

interface Graph {
  /** Module (path relative to the repo) → the project modules it imports. */
  edges: Map<string, string[]>;
}

async function importGraph(modules: string[]): Promise<Graph> {
  const tmp = await Deno.makeTempFile({ dir: root, prefix: ".layout_root_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(tmp, modules.map((m) => `import "./${m}";\n`).join(""));
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", tmp],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await cmd.output();
    assert.equal(code, 0, `deno info failed: ${new TextDecoder().decode(stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
      }[];
    };
    const local = (s: string) => s.startsWith("file://") ? relative(root, fromFileUrl(s)) : null;
    const edges = new Map<string, string[]>();
    for (const m of info.modules) {
      const from = local(m.specifier);
      if (!from || from.startsWith(".layout_root_") || from.startsWith("..")) continue;
      const to: string[] = [];
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          const t = s ? local(s) : null;
          if (t && !t.startsWith("..") && !to.includes(t)) to.push(t);
        }
      }
      edges.set(from, to);
    }
    assert.ok(edges.size >= modules.length, `deno info saw ${edges.size} of ${modules.length}`);
    return { edges };
  } finally {
    await Deno.remove(tmp);
  }
}

function folderOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? "." : path.slice(0, i);
}

Deno.test("every library folder belongs to one layer", async () => {
  const known = new Set(LAYERS.flat());
  const skip = new Set(["tests", "bench", "examples", "docs", "checkpoints", "node_modules"]);
  const stray: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory || e.name.startsWith(".") || skip.has(e.name) || known.has(e.name)) {
      continue;
    }
    for await (const f of Deno.readDir(`${root}/${e.name}`)) {
      if (f.name.endsWith(".ts")) {
        stray.push(`${e.name}/`);
        break;
      }
    }
  }
  assert.deepEqual(stray, [], `folders with modules but no layer in tests/layout_test.ts`);
});

Deno.test("library imports only go down a layer, never up or sideways", async () => {
  const { edges } = await importGraph(await libraryModules());
  const bad: string[] = [];
  for (const [from, tos] of edges) {
    const ff = folderOf(from), lf = layerOf(ff);
    if (lf < 0) continue; // tests, bench, examples: free to import anything
    for (const to of tos) {
      const tf = folderOf(to), lt = layerOf(tf);
      if (tf === ff) continue;
      if (lt < 0 || lt >= lf) bad.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(bad, [], `imports that run up or sideways:\n${bad.join("\n")}`);
});

Deno.test("no import cycles between library modules", async () => {
  const { edges } = await importGraph(await libraryModules());
  const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
  const cycles: string[] = [];
  const visit = (m: string, stack: string[]) => {
    state.set(m, 1);
    for (const t of edges.get(m) ?? []) {
      if (layerOf(folderOf(t)) < 0) continue;
      if (state.get(t) === 1) cycles.push([...stack.slice(stack.indexOf(t)), t].join(" -> "));
      else if (!state.has(t)) visit(t, [...stack, t]);
    }
    state.set(m, 2);
  };
  for (const m of edges.keys()) if (!state.has(m)) visit(m, [m]);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join("\n")}`);
});

Deno.test("no library folder holds more than a reader can keep in mind", async () => {
  const over: string[] = [];
  for (const folder of LAYERS.flat()) {
    if (folder === ".") continue;
    const stems = new Set<string>();
    try {
      for await (const e of Deno.readDir(`${root}/${folder}`)) {
        if (!e.isFile || !/\.(ts|wgsl)$/.test(e.name)) continue;
        stems.add(e.name.replace(/\.(ts|wgsl)$/, "").replace(/_ref$/, ""));
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    if (stems.size > MAX_CONCEPTS) over.push(`${folder}/: ${stems.size}`);
  }
  assert.deepEqual(over, [], `folders over ${MAX_CONCEPTS} concepts`);
});
