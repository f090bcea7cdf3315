/**
 * `glimpse site` and `glimpse serve` as a user runs them, without a browser (tests/web_test.ts
 * drives one): the static site holds the page, the bundle with the WGSL in it, the models as
 * trained and their list; it replaces an earlier site atomically, refuses a folder of other
 * files, and bad options are one line.
 */
import assert from "node:assert/strict";
import { assertUsageError, glimpse, withTempDir } from "./_cli.ts";

const MODEL = "checkpoints/mnist-classification";

Deno.test("site writes the page, its bundle and the models; rewriting replaces it", async () => {
  await withTempDir("glimpse_site_", async (dir) => {
    const out = `${dir}/site`;
    const r = await glimpse("site", "--out", out, "--model", MODEL);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote the explorer to .*site\/ \(\d+ files, [\d.]+ MB\)\n$/);
    const html = await Deno.readTextFile(`${out}/index.html`);
    assert.match(html, /<script type="module" src="main.js"><\/script>/);
    const js = await Deno.readTextFile(`${out}/main.js`);
    assert.match(js, /@compute @workgroup_size/, "the kernels' WGSL is in the bundle");
    assert.doesNotMatch(js, /from\s*["']\.\.?\//, "no relative import is left for the browser");
    const list = JSON.parse(await Deno.readTextFile(`${out}/models.json`));
    assert.equal(list.length, 1);
    assert.equal(list[0].name, "mnist-classification");
    assert.equal(list[0].reward, "classification");
    assert.equal(list[0].probe, true);
    assert.deepEqual(
      await Deno.readFile(`${out}/${list[0].file}`),
      await Deno.readFile(`${MODEL}/model.safetensors`),
    );
    assert.ok((await Deno.stat(`${out}/examples/seven.png`)).isFile);
    await Deno.writeTextFile(`${out}/stale.txt`, "from before");
    const again = await glimpse("site", "--out", out, "--model", MODEL);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await Deno.stat(`${out}/stale.txt`).catch(() => null), null, "replaced whole");
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left, ["site"], "no temporary folder left behind");
  });
});

Deno.test("site and serve: bad input is one line and writes nothing", async () => {
  await withTempDir("glimpse_site_", async (dir) => {
    await Deno.mkdir(`${dir}/mine`);
    await Deno.writeTextFile(`${dir}/mine/notes.txt`, "keep");
    assertUsageError(
      await glimpse("site", "--out", `${dir}/mine`, "--model", MODEL),
      /--out ".*mine": holds files that are not an explorer site/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/mine/notes.txt`), "keep");
    assertUsageError(
      await glimpse("site", "--out", `${dir}/x`, "--model", `${dir}/nope`),
      /Cannot read model ".*nope": no such folder/,
    );
    assert.equal(await Deno.stat(`${dir}/x`).catch(() => null), null);
    assertUsageError(
      await glimpse("site", "--out", `${dir}/y`, "--model", MODEL, "--model", `${MODEL}/`),
      /a model named "mnist-classification" is already listed/,
    );
    assertUsageError(await glimpse("serve", "--port", "http"), /--port "http": expected/);
    assertUsageError(
      await glimpse("serve", "--port", "70000"),
      /--port "70000": expected 0\.\.65535/,
    );
  });
});
