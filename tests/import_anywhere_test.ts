/**
 * The library works from a script outside the project: no deno.json, no import map, no
 * --config, only mod.ts imported by its file URL. This is what a user's own script does.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_cli.ts";

const script = (root: string) => `
import {
  explainInput, explanationFigures, figurePng, loadRun, readGreyImage, toModelInput,
} from ${JSON.stringify(new URL("mod.ts", `file://${root}`).href)};
const run = await loadRun(${JSON.stringify(`${root}checkpoints/mnist-classification`)}, {
  backend: "cpu",
});
try {
  const image = await readGreyImage(${JSON.stringify(`${root}examples/seven.png`)});
  const { input } = toModelInput(image, run.config.model.height, run.config.model.width, true);
  const e = await explainInput(run.ram, run.vae, input);
  const { overlay } = explanationFigures(e, run.config.model);
  const png = await figurePng(overlay);
  console.log(JSON.stringify({
    prediction: e.prediction,
    probability: e.probability,
    glimpses: e.glimpses.map((g) => [g.x, g.y]),
    png: Array.from(png.subarray(1, 4)),
  }));
} finally {
  run.close();
}
`;

Deno.test("a script in a folder outside the project imports mod.ts by path and explains seven.png", async () => {
  const dir = await Deno.makeTempDir({ prefix: "glimpse_outside_" });
  try {
    assert.ok(!dir.startsWith(ROOT), `${dir} should lie outside ${ROOT}`);
    await Deno.writeTextFile(`${dir}/explain_seven.ts`, script(ROOT));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "--no-prompt", "explain_seven.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the script failed:\n${stderr}`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const result = JSON.parse(lines[lines.length - 1]);
    assert.equal(result.prediction, 7, "the shipped classification model reads the seven as 7");
    assert.ok(result.probability > 0.5 && result.probability <= 1);
    assert.equal(result.glimpses.length, 6);
    for (const [x, y] of result.glimpses) {
      assert.ok(Number.isInteger(x) && x >= 0 && x < 28 && Number.isInteger(y) && y >= 0 && y < 28);
    }
    assert.deepEqual(result.png, [..."PNG"].map((c) => c.charCodeAt(0)), "a PNG came back");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
