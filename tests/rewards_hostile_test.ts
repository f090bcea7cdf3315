/**
 * Hostile reward plugins (tests/fixtures/hostile_plugins.ts) against the sandbox: each one is
 * refused by the module-graph check, denied by the plugin process's empty permissions, or
 * stopped (memory ceiling, timeout, exit), and the host lives on to say which in one line
 * naming the plugin. Each test also checks that nothing was read (a secret file's contents
 * never appear) and nothing was sent (a local server records no request).
 */
import assert from "node:assert/strict";
import { concatBytes, encodeFrame, FrameReader } from "../rewards/frames.ts";
import { RewardError } from "../rewards/define.ts";
import { loadReward } from "../rewards/loader.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";
import { FRIENDLY, HOSTILE } from "./fixtures/hostile_plugins.ts";
import { assertUsageError, glimpse, glimpseWith } from "./_cli.ts";

const SECRET = `secret-${crypto.randomUUID()}`;
const ep = () => syntheticEpisodes({ T: 6, B: 16, C: 10, seed: 5 });
const LIMITS = { timeoutMs: 5000, memoryMiB: 64 };

/** A temp folder with the secret, the plugins and a server that records every request. */
async function withHostileWorld(
  body: (w: { dir: string; port: number; requests: string[] }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "glimpse-hostile-" });
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests.push(req.url);
    return new Response(`export default "${SECRET}";`);
  });
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, SECRET);
    await Deno.writeTextFile(`${dir}/secret.json`, JSON.stringify({ s: SECRET }));
    await Deno.mkdir(`${dir}/plugin`);
    for (const [name, src] of Object.entries(HOSTILE)) {
      const text = src.replaceAll("__SECRET__", `${dir}/secret.txt`)
        .replaceAll("__PORT__", String(server.addr.port));
      await Deno.writeTextFile(`${dir}/plugin/${name}.ts`, text);
    }
    await body({ dir, port: server.addr.port, requests });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Loads plugin `name` and calls it once; returns the RewardError's message (one line). */
async function failure(dir: string, name: string, limits = LIMITS): Promise<string> {
  const spec = `${dir}/plugin/${name}.ts`;
  let r;
  try {
    r = await loadReward(spec, limits);
    await r.fn(ep());
  } catch (e) {
    assert.ok(e instanceof RewardError, `${name}: a RewardError, got ${e}`);
    assert.ok(e.message.startsWith(`reward "${spec}": `), e.message);
    assert.doesNotMatch(e.message, /\n/, `${name}: one line`);
    assert.ok(!e.message.includes(SECRET), `${name} leaked the secret: ${e.message}`);
    return e.message.slice(`reward "${spec}": `.length);
  } finally {
    await r?.close();
  }
  throw new Error(`${name}: loaded and returned`);
}

Deno.test("imports outside the plugin's folder are refused before anything runs", async () => {
  await withHostileWorld(async ({ dir, port, requests }) => {
    const outside = `refused: outside the plugin's folder ${dir}/plugin`;
    const cases: [string, string | RegExp][] = [
      [
        "static_text",
        `import "../secret.txt" (text import) ${outside} (at file://${dir}/plugin/static_text.ts:1)`,
      ],
      [
        "static_json",
        `import "../secret.json" (json import) ${outside} (at file://${dir}/plugin/static_json.ts:1)`,
      ],
      [
        "static_bytes",
        `import "../secret.txt" (bytes import) ${outside} (at file://${dir}/plugin/static_bytes.ts:1)`,
      ],
      ["literal_dynamic_at_call", /^import "\.\.\/secret\.txt" \(text import\) refused: outside/],
      ["file_url_at_load", /^import "file:\/\/.*\/secret\.txt" \(text import\) refused: outside/],
      [
        "http_import",
        `import "http://127.0.0.1:${port}/x.ts" refused: http: imports are not allowed (at file://${dir}/plugin/http_import.ts:1)`,
      ],
      [
        "https_import",
        /^import "https:\/\/127\.0\.0\.1:\d+\/x\.ts" refused: https: imports are not allowed/,
      ],
      ["data_import", /^import "data:text\/javascript,.*" refused: data: imports are not allowed/],
      ["npm_import", /^import "npm:left-pad" refused: npm: imports are not allowed/],
      ["node_import", /^import "node:fs" refused: node: imports are not allowed/],
    ];
    for (const [name, want] of cases) {
      const got = await failure(dir, name);
      if (typeof want === "string") assert.equal(got, want, name);
      else assert.match(got, want, name);
    }
    assert.deepEqual(requests, [], "no request reached the server");
  });
});

const DENIED = "(reward plugins run without file, network, environment or subprocess access)";

Deno.test("what the graph check cannot see is denied by the process's permissions", async () => {
  await withHostileWorld(async ({ dir, port, requests }) => {
    const secret = `${dir}/secret.txt`;
    assert.equal(
      await failure(dir, "computed_dynamic"),
      `denied read access to "${secret}" ${DENIED}`,
    );
    assert.equal(
      await failure(dir, "nested_worker_import"),
      `denied read access to "${secret}" ${DENIED}`,
    );
    assert.equal(
      await failure(dir, "fetch_at_call"),
      `denied net access to "127.0.0.1:${port}" ${DENIED}`,
    );
    assert.deepEqual(requests, [], "no request reached the server");
  });
});

Deno.test("a plugin that grows without bound hits its memory ceiling; the host lives", async () => {
  await withHostileWorld(async ({ dir }) => {
    assert.equal(
      await failure(dir, "memory_at_load"),
      "exceeded its memory ceiling of 64 MiB while loading; its process was stopped",
    );
    assert.equal(
      await failure(dir, "memory_in_reward"),
      "exceeded its memory ceiling of 64 MiB; its process was stopped",
    );
    assert.match(await failure(dir, "memory_in_worker"), /^exceeded its memory ceiling of 64 MiB/);
    // ArrayBuffers live outside V8's heap limit: the host's watch on resident memory stops them
    assert.match(
      await failure(dir, "buffers_in_reward"),
      /^exceeded its memory ceiling of 64 MiB( \(\d+ MiB resident, limit 320 MiB with the runtime\))?; its process was stopped$/,
    );
  });
});

Deno.test("exits are reported as exits, a loop by the timeout, stray output as such", async () => {
  await withHostileWorld(async ({ dir }) => {
    assert.equal(await failure(dir, "deno_exit"), "called Deno.exit(3), which ended its process");
    assert.equal(await failure(dir, "self_close"), "called close(), which ended its process");
    assert.equal(
      await failure(dir, "process_exit"),
      // node:process's exit is Deno.exit underneath
      "called Deno.exit(4), which ended its process",
    );
    const t0 = performance.now();
    assert.equal(
      await failure(dir, "infinite_loop", { ...LIMITS, timeoutMs: 1000 }),
      "timed out after 1000 ms on a batch (T=6, B=16); its process was stopped",
    );
    const ms = performance.now() - t0;
    assert.ok(ms < 4000, `stopped after ${ms.toFixed(0)} ms`);
    assert.equal(
      await failure(dir, "writes_stdout"),
      "wrote to standard output outside the sandbox protocol: hello",
    );
  });
});

Deno.test("huge rewards are refused as the values they were; control characters are refused", async () => {
  await withHostileWorld(async ({ dir }) => {
    assert.equal(
      await failure(dir, "huge_reward"),
      "1e+30 at glimpse 1 sample 0 (beyond the reward bound ±1000000)",
    );
    assert.equal(
      await failure(dir, "reward_1e300"),
      "1e+300 at glimpse 2 sample 2 (beyond the reward bound ±1000000)",
    );
    assert.equal(
      await failure(dir, "ansi_name"),
      `default export is not a reward definition: "name" has control characters (ANSI escapes ` +
        "and line breaks are not allowed)",
    );
    assert.match(await failure(dir, "ansi_description"), /"description" has control characters/);
  });
});

Deno.test("a plugin imports code and JSON from its own folder and may log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "glimpse-friendly-" });
  try {
    for (const [name, src] of Object.entries(FRIENDLY)) {
      await Deno.writeTextFile(`${dir}/${name}`, src);
    }
    const logged: string[] = [];
    const r = await loadReward(`${dir}/friendly.ts`, { ...LIMITS, onLog: (l) => logged.push(l) });
    try {
      assert.equal(r.name, "friendly");
      assert.deepEqual(logged, ["loaded with { bonus: 0.25 } red"], "console, without escapes");
      const out = await r.fn(ep());
      assert.equal(out.length, 6 * 16);
      assert.ok(out.every((v) => v === 0.5), "2 × the bonus from table.json");
    } finally {
      await r.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("URL plugins: fetched once by the host, self-contained, unreachable ones say why", async () => {
  const requests: string[] = [];
  const plugins: Record<string, string> = {
    "/ok.js": `export default { name: "remote", description: "served", options: {},
      reward: ({ T, B }) => new Float32Array(T * B).fill(0.125) };`,
    "/imports.js": `import x from "./other.js"; export default x;`,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    return plugins[path] ? new Response(plugins[path]) : new Response("no", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const r = await loadReward(`${base}/ok.js`, LIMITS);
    try {
      assert.equal(r.name, "remote");
      assert.equal((await r.fn(ep()))[0], 0.125);
    } finally {
      await r.close();
    }
    await assert.rejects(
      loadReward(`${base}/imports.js`, LIMITS),
      new RegExp(
        `^RewardError: reward "${base}/imports.js": import "\\./other\\.js" refused: a plugin ` +
          "loaded from a URL may import only rewards/define\\.ts",
      ),
    );
    await assert.rejects(
      loadReward(`${base}/gone.js`, LIMITS),
      /: cannot fetch http:\/\/127\.0\.0\.1:\d+\/gone\.js: HTTP 404 Not Found$/,
    );
    assert.deepEqual(requests, ["/ok.js", "/imports.js", "/gone.js"], "one GET each, nothing else");
  } finally {
    await server.shutdown();
  }
  // a port nobody listens on: the reason is in the message
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await assert.rejects(
    loadReward(`https://127.0.0.1:${port}/x.ts`, LIMITS),
    /cannot fetch https:\/\/127\.0\.0\.1:\d+\/x\.ts: .*Connection refused/,
  );
});

Deno.test("rewards check: one line for a refused plugin, resolved from the user's folder", async () => {
  await withHostileWorld(async ({ dir }) => {
    // deno task runs in the project root and leaves the user's folder in INIT_CWD
    const env = { INIT_CWD: dir };
    const refused = await glimpseWith(env, "rewards", "check", "./plugin/static_text.ts");
    assertUsageError(
      refused,
      /^glimpse: reward "\.\/plugin\/static_text\.ts": import "\.\.\/secret\.txt" \(text import\) refused/,
    );
    assert.ok(!refused.stderr.includes(SECRET));
    // a long timeout, so that a loaded machine still reaches the memory ceiling first
    const oom = await glimpseWith(
      env,
      "rewards",
      "check",
      "plugin/memory_at_load.ts",
      "--reward-timeout",
      "60000",
    );
    assertUsageError(oom, /memory ceiling of 512 MiB while loading; its process was stopped$/);
  });
  const list = await glimpse("rewards");
  assert.match(list.stdout, /Write one: README\.md, section "Writing a reward plugin"/);
});

Deno.test("stray output names only the stray bytes, also when a frame follows in the same chunk", () => {
  for (const tail of ["", "\n"]) {
    const r = new FrameReader();
    r.push(concatBytes([new TextEncoder().encode(`hello${tail}`), encodeFrame({ kind: "x" })]));
    assert.throws(
      () => r.next(),
      (e: Error) => e.message === "wrote to standard output outside the sandbox protocol: hello",
    );
  }
  const ok = new FrameReader();
  ok.push(encodeFrame({ kind: "x" }));
  assert.equal(ok.next()?.header.kind, "x");
});
