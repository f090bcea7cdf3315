import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { writeExamples } from "../commands/examples.ts";
import { decodeGrey } from "../datasets/image.ts";
import { loadDataset } from "../datasets/load.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FILES = ["seven.png", "two.png", "two-on-paper.jpg", "four.png", "cluttered-four.png"];

Deno.test("examples are test-split digits, written the same every time, as committed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = await writeExamples(dir);
    assert.equal(lines.length, FILES.length);
    const ds = await loadDataset("mnist-10k");
    for (const [name, digit] of [["seven.png", 7], ["two.png", 2], ["four.png", 4]] as const) {
      const img = decodeGrey(await Deno.readFile(`${dir}/${name}`), name);
      assert.deepEqual([img.width, img.height], [28, 28]);
      const i = ds.test.labels.indexOf(digit);
      const want = new Float32Array(784);
      ds.test.fill([i], 0, want);
      for (let p = 0; p < 784; p++) assert.ok(Math.abs(img.data[p] - want[p]) <= 0.5 / 255);
      assert.match(
        lines.find((l) => l.includes(name))!,
        new RegExp(`test image ${i} \\(a ${digit}\\)`),
      );
    }
    const paper = decodeGrey(await Deno.readFile(`${dir}/two-on-paper.jpg`), "paper");
    assert.deepEqual([paper.width, paper.height], [112, 112]);
    assert.ok(paper.data[0] > 0.8, "light paper at the corner");
    const clutter = decodeGrey(await Deno.readFile(`${dir}/cluttered-four.png`), "clutter");
    assert.deepEqual([clutter.width, clutter.height], [60, 60]);
    // a second run writes the same bytes, and so did the run that made the committed files
    const again = await Deno.makeTempDir();
    try {
      await writeExamples(again);
      for (const f of FILES) {
        const bytes = await Deno.readFile(`${dir}/${f}`);
        assert.deepEqual(await Deno.readFile(`${again}/${f}`), bytes, f);
        assert.deepEqual(await Deno.readFile(`${ROOT}examples/${f}`), bytes, `examples/${f}`);
      }
    } finally {
      await Deno.remove(again, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
