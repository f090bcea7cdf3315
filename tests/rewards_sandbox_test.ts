/**
 * The reward sandbox end to end: plugins resolved from names, paths (relative to the working
 * directory) and URLs, loaded in a Worker without permissions, called with checked results.
 * Fixtures in tests/fixtures/rewards/ try file, network, environment and subprocess access,
 * never return, return the wrong shape or NaN, throw, or are not definitions at all.
 *
 * Hostile plugins (refused imports, memory, exits) are in rewards_hostile_test.ts.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { assertClose } from "./_assert.ts";
import entropy from "../rewards/entropy.ts";
import saccade from "../examples/saccade_reward.ts";
import { bindReward } from "../rewards/check.ts";
import { RewardError } from "../rewards/define.ts";
import { loadReward, parseRewardTimeout, resolveRewardSpec } from "../rewards/loader.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";
import { rewardsCheck, rewardsList } from "../commands/rewards.ts";

const ROOT = fileURLToPath(new URL(".", new URL("..", import.meta.url))).replace(/\/$/, "");
const FIX = "tests/fixtures/rewards";
/** Loading starts a process and runs `deno info`: allow for a busy machine. */
const SLOW_LOAD = { loadTimeoutMs: 30_000 };
const ep = () => syntheticEpisodes({ T: 6, B: 16, C: 10, seed: 5 });

/** Loads `spec` from the project root, runs `body`, always closes. */
async function withReward<T>(
  spec: string,
  body: (r: Awaited<ReturnType<typeof loadReward>>) => Promise<T>,
  opts: string[] = [],
  timeoutMs = 10_000,
): Promise<T> {
  const r = await loadReward(spec, { opts, timeoutMs, cwd: ROOT, ...SLOW_LOAD });
  try {
    return await body(r);
  } finally {
    await r.close();
  }
}

/** Asserts that `p` rejects with a RewardError whose message is exactly `message`. */
async function rejectsWith(p: Promise<unknown>, message: string | RegExp) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof RewardError, `a RewardError, got ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

Deno.test("a built-in in the sandbox gives the in-process rewards and records its options", async () => {
  const batch = ep();
  const want = entropy.reward(batch, { beta: 0.25 }) as Float32Array;
  for (const spec of ["entropy", "rewards/entropy.ts", "./rewards/entropy.ts"]) {
    await withReward(spec, async (r) => {
      assert.deepEqual(r.metadata, { spec, name: "entropy", options: { beta: 0.25 } });
      assert.equal(r.optionTable.beta.default, 0.5);
      assertClose(await r.fn(batch), want, { atol: 0, rtol: 0, label: spec });
    }, ["beta=0.25"]);
  }
});

Deno.test("the example plugin loads with its relative imports and matches in-process", async () => {
  const batch = ep();
  await withReward("examples/saccade_reward.ts", async (r) => {
    assert.equal(r.name, "saccade");
    assert.deepEqual(r.options, { weight: 0.02, radius: 0.5 });
    const want = bindReward(saccade, r.options)(batch) as Float32Array;
    assertClose(await r.fn(batch), want, { atol: 0, rtol: 0 });
  }, ["weight=0.02"]);
});

Deno.test("batches are copies: the caller's arrays survive, plugin state persists", async () => {
  // plain_object.ts has no imports, returns number[] and counts its calls
  await withReward(`${FIX}/plain_object.ts`, async (r) => {
    assert.deepEqual(r.options, { scale: 3, label: "x", on: true });
    const batch = ep();
    const probs = batch.probs.slice();
    const first = await r.fn(batch);
    assert.equal(batch.probs.length, probs.length, "probs not detached");
    assert.deepEqual(batch.probs, probs);
    assert.ok(first instanceof Float32Array && first.length === 6 * 16);
    assert.equal(first[0], 3);
    assert.equal((await r.fn(batch))[0], 6, "second call sees the plugin's state");
  }, ["scale=3"]);
});

Deno.test("a relative path resolves against the working directory", async () => {
  const before = Deno.cwd();
  try {
    Deno.chdir(`${ROOT}/tests/fixtures`);
    // "rewards/" here is tests/fixtures/rewards, not the project's rewards/
    const r = await loadReward("rewards/plain_object.ts", SLOW_LOAD);
    assert.equal(r.name, "plain");
    assert.equal(r.url, new URL(`${FIX}/plain_object.ts`, `file://${ROOT}/`).href);
    await r.close();
    await rejectsWith(
      loadReward("rewards/entropy.ts"),
      `reward "rewards/entropy.ts": module not found: ${ROOT}/tests/fixtures/rewards/entropy.ts`,
    );
  } finally {
    Deno.chdir(before);
  }
  const url = new URL(`${FIX}/plain_object.ts`, `file://${ROOT}/`).href;
  assert.equal((await resolveRewardSpec(url)).url, url, "file: URLs are taken as they are");
});

const DENIED = "(reward plugins run without file, network, environment or subprocess access)";

Deno.test("file, network, environment and subprocess access are denied in the sandbox", async () => {
  const cases: [string, string][] = [
    ["reads_file.ts", `denied read access to "deno.json"`],
    ["opens_network.ts", `denied net access to "127.0.0.1:9"`],
    ["reads_env.ts", `denied env access to "HOME"`],
    ["runs_subprocess.ts", `denied run access to "true"`],
  ];
  for (const [file, what] of cases) {
    const spec = `${FIX}/${file}`;
    await withReward(spec, async (r) => {
      await rejectsWith(r.fn(ep()), `reward "${spec}": ${what} ${DENIED}`);
    });
  }
});

Deno.test("the same plugins are not denied in-process (the denial is the sandbox's)", async () => {
  const before = Deno.cwd();
  Deno.chdir(ROOT);
  try {
    for (
      const file of ["reads_file.ts", "reads_env.ts", "runs_subprocess.ts", "opens_network.ts"]
    ) {
      const def = (await import(`./fixtures/rewards/${file}`)).default;
      try {
        const r = await bindReward(def, {}, file)(ep());
        assert.equal(r.length, 6 * 16);
      } catch (e) {
        // nothing listens on port 9: refused, but not denied
        assert.doesNotMatch((e as Error).message, /denied/, file);
      }
    }
  } finally {
    Deno.chdir(before);
  }
});

Deno.test("load failures name the plugin and what was wrong", async () => {
  await rejectsWith(
    loadReward("nope.ts", { cwd: ROOT }),
    `reward "nope.ts": module not found: ${ROOT}/nope.ts`,
  );
  await rejectsWith(
    loadReward("entropyy", { cwd: ROOT }),
    `reward "entropyy": module not found: ${ROOT}/entropyy (built-in rewards: classification, entropy, early-information)`,
  );
  await rejectsWith(
    loadReward("npm:left-pad", { cwd: ROOT }),
    /^reward "npm:left-pad": unsupported URL scheme "npm:"/,
  );
  await rejectsWith(
    loadReward(`${FIX}/not_a_definition.ts`, { cwd: ROOT, ...SLOW_LOAD }),
    `reward "${FIX}/not_a_definition.ts": default export is not a reward definition: ` +
      "expected an object, got a function (export default defineReward({ name, description, " +
      "options, reward }))",
  );
  await rejectsWith(
    loadReward(`${FIX}/throws_loading.ts`, { cwd: ROOT, ...SLOW_LOAD }),
    new RegExp(`^reward "${FIX}/throws_loading.ts": threw while loading: Error: broken at load`),
  );
  await rejectsWith(
    loadReward(`${FIX}/plain_object.ts`, { cwd: ROOT, opts: ["scale=big"], ...SLOW_LOAD }),
    `reward "${FIX}/plain_object.ts": option "scale" must be a number, got "big"`,
  );
  await rejectsWith(
    loadReward(`${FIX}/plain_object.ts`, { cwd: ROOT, opts: ["size=1"], ...SLOW_LOAD }),
    `reward "${FIX}/plain_object.ts": unknown option "size" (its options: scale, label, on)`,
  );
});

/**
 * Loads `spec` the way `deno task train` does: in a `deno eval` process, which (like deno run)
 * does not type-check, unlike this test process. Returns the error message or "loaded".
 */
async function loadInRun(spec: string): Promise<string> {
  const loader = JSON.stringify(new URL("../rewards/loader.ts", import.meta.url).href);
  const code = `const { loadReward } = await import(${loader});
    try { await (await loadReward(${JSON.stringify(spec)})).close(); console.log("loaded"); }
    catch (e) { console.log(e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", code],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped", // Deno's own report of the worker's error
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("a syntax error and a missing import are reported with their location", async () => {
  // Written at test time: a file with a syntax error in the tree would break `deno fmt`/`lint`.
  const dir = await Deno.makeTempDir({ prefix: "glimpse-reward-" });
  try {
    await Deno.writeTextFile(`${dir}/syntax.ts`, "export default { name: 'x', +* };\n");
    await Deno.writeTextFile(`${dir}/missing.ts`, `import "./gone.ts";\nexport default {};\n`);
    const syntax = new RegExp(
      `^reward "${dir}/syntax.ts": syntax error: .+ \\(at file://${dir}/syntax.ts:1:\\d+\\)$`,
    );
    await rejectsWith(loadReward(`${dir}/syntax.ts`, SLOW_LOAD), syntax);
    assert.match(await loadInRun(`${dir}/syntax.ts`), syntax);
    const missing = `reward "${dir}/missing.ts": module not found: file://${dir}/gone.ts ` +
      `(at file://${dir}/missing.ts:1)`;
    assert.equal(await loadInRun(`${dir}/missing.ts`), missing);
    await rejectsWith(loadReward(`${dir}/missing.ts`, SLOW_LOAD), missing);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wrong shape, NaN and a throw are each reported for the plugin", async () => {
  const cases: [string, string][] = [
    ["wrong_shape.ts", "wrong shape: returned 95 values, expected T·B = 6·16 = 96"],
    ["nan.ts", "NaN at glimpse 3 sample 5"],
    ["throws.ts", "threw RangeError: the plugin gave up"],
  ];
  for (const [file, what] of cases) {
    const spec = `${FIX}/${file}`;
    await withReward(spec, (r) => rejectsWith(r.fn(ep()), `reward "${spec}": ${what}`));
  }
});

Deno.test("an error the plugin leaves uncaught fails the pending call at once", async () => {
  const spec = `${FIX}/throws_later.ts`;
  await withReward(spec, async (r) => {
    const t0 = performance.now();
    await rejectsWith(
      r.fn(ep()),
      new RegExp(
        `^reward "${spec}": failed with an uncaught error: Error: too late ` +
          `\\(at file://${ROOT}/${spec}:\\d+:\\d+\\)$`,
      ),
    );
    assert.ok(performance.now() - t0 < 5000, "not by the 10 s timeout");
    await rejectsWith(r.fn(ep()), /failed with an uncaught error/);
  });
});

Deno.test("a closed reward rejects further calls; bad timeouts are refused", async () => {
  const r = await loadReward("classification", SLOW_LOAD);
  await r.close();
  await r.close();
  await rejectsWith(r.fn(ep()), `reward "classification": the reward was closed`);
  assert.equal(parseRewardTimeout("2500"), 2500);
  assert.throws(() => parseRewardTimeout("soon"), /--reward-timeout "soon": expected a positive/);
  await rejectsWith(loadReward("entropy", { timeoutMs: 0 }), /timeout must be a positive/);
});

Deno.test("rewards list and rewards check report built-ins and a plugin's output", async () => {
  const list = await rewardsList();
  assert.match(list, /^entropy {2}\(rewards\/entropy\.ts\)$/m);
  assert.match(list, /--reward-opt beta=0\.5 {2}number {2}weight β/);
  const before = Deno.cwd();
  Deno.chdir(ROOT);
  try {
    const out = await rewardsCheck("examples/saccade_reward.ts", {
      rewardOpt: ["weight=0.1"],
      glimpses: "4",
      batch: "32",
    });
    assert.match(out, /^options: weight=0\.1 radius=0\.5$/m);
    assert.match(out, /output: \(4, 32\) Float32Array, all finite, range \[0\.0000, 1\.\d+\]/);
    await rejectsWith(rewardsCheck(`${FIX}/nan.ts`), /NaN at glimpse 3 sample 5$/);
  } finally {
    Deno.chdir(before);
  }
});

Deno.test("a plugin that never finishes loading is stopped by the load timeout", async () => {
  const t0 = performance.now();
  await rejectsWith(
    loadReward(`${FIX}/never_loads.ts`, { cwd: ROOT, timeoutMs: 1000 }),
    `reward "${FIX}/never_loads.ts": timed out after 1000 ms while loading (its process was stopped)`,
  );
  const ms = performance.now() - t0;
  assert.ok(ms >= 1000 && ms < 4000, `gave up after ${ms.toFixed(0)} ms`);
});

Deno.test("a plugin that never returns is stopped by the call timeout", async () => {
  const spec = `${FIX}/never_returns.ts`;
  // loading may include a type check under deno test: give it its own, longer limit
  const r = await loadReward(spec, { cwd: ROOT, timeoutMs: 1000, loadTimeoutMs: 60_000 });
  const t0 = performance.now();
  const msg =
    `reward "${spec}": timed out after 1000 ms on a batch (T=6, B=16); its process was stopped`;
  await rejectsWith(r.fn(ep()), msg);
  const ms = performance.now() - t0;
  assert.ok(ms >= 1000 && ms < 4000, `gave up after ${ms.toFixed(0)} ms`);
  await rejectsWith(r.fn(ep()), msg);
  await r.close();
});
