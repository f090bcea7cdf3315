/**
 * Typeset digits read by a model through `explain`'s own path: renders 0–9 in every font of a
 * list that is installed here (DejaVu Sans/Serif/Mono at least; Liberation, FreeFont and
 * others when present), at several sizes, black on white, as PNG and as JPEG; then reads each
 * file back with readGreyImage, fits it with toModelInput and classifies it with explainInput,
 * exactly as `deno task explain IMAGE` does, and prints the accuracy per font, per size, per
 * format and overall.
 *
 * ```sh
 * deno run -A bench/typeset_digits.ts [--model checkpoints/mnist-classification]
 *   [--sizes 24,48,120,400] [--out DIR] [--backend cpu|webgpu] [--no-jpeg] [--verbose]
 * deno run -A bench/typeset_digits.ts --examples examples/typeset  # the ten committed examples
 * ```
 *
 * Fonts are looked for at their Debian paths (fonts-dejavu-core, fonts-liberation,
 * fonts-freefont-ttf); a font that is not installed is skipped and named, so the script runs
 * with whatever the machine has. `--font PATH` (repeatable) adds any other .ttf/.otf.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readGreyImage } from "../datasets/image.ts";
import { toModelInput } from "../datasets/model_input.ts";
import { loadRun } from "../run/load_run.ts";
import { explainInput } from "../report/explain.ts";
import { jpegOfPng, renderGlyph } from "../report/typeset.ts";

/** A font to render with: a name for the table and its file. */
interface Font {
  name: string;
  path: string;
}

const DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"];
const FREE = "/usr/share/fonts/truetype/freefont";
/** Fonts tried, in the table's order; missing ones are skipped. */
const FONTS: readonly Font[] = [
  { name: "DejaVu Sans", path: `${DIRS[0]}/DejaVuSans.ttf` },
  { name: "DejaVu Sans Bold", path: `${DIRS[0]}/DejaVuSans-Bold.ttf` },
  { name: "DejaVu Sans ExtraLight", path: `${DIRS[0]}/DejaVuSans-ExtraLight.ttf` },
  { name: "DejaVu Serif", path: `${DIRS[0]}/DejaVuSerif.ttf` },
  { name: "DejaVu Sans Mono", path: `${DIRS[0]}/DejaVuSansMono.ttf` },
  { name: "DejaVu Sans Oblique", path: `${DIRS[0]}/DejaVuSans-Oblique.ttf` },
  { name: "Liberation Sans", path: `${DIRS[1]}/LiberationSans-Regular.ttf` },
  { name: "Liberation Serif", path: `${DIRS[1]}/LiberationSerif-Regular.ttf` },
  { name: "Liberation Mono", path: `${DIRS[1]}/LiberationMono-Regular.ttf` },
  { name: "Liberation Sans Narrow", path: `${DIRS[1]}/LiberationSansNarrow-Regular.ttf` },
  { name: "FreeSans", path: `${FREE}/FreeSans.ttf` },
  { name: "FreeSerif", path: `${FREE}/FreeSerif.ttf` },
  { name: "FreeMono", path: `${FREE}/FreeMono.ttf` },
];

async function installed(fonts: readonly Font[]): Promise<{ have: Font[]; missing: Font[] }> {
  const have: Font[] = [], missing: Font[] = [];
  for (const f of fonts) ((await Deno.stat(f.path).catch(() => null)) ? have : missing).push(f);
  return { have, missing };
}

function pct(right: number, total: number): string {
  return `${right}/${total} (${((100 * right) / total).toFixed(1)}%)`;
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: "checkpoints/mnist-classification" },
      sizes: { type: "string", default: "24,48,120,400" },
      out: { type: "string" },
      backend: { type: "string", default: "cpu" },
      font: { type: "string", multiple: true, default: [] },
      "no-jpeg": { type: "boolean", default: false },
      "no-fit": { type: "boolean", default: false },
      examples: { type: "string" },
      verbose: { type: "boolean", default: false },
    },
  });
  if (values.examples) {
    // the committed examples: DejaVu Sans, 64 px per em, one small PNG per digit
    const bytes = await Deno.readFile(FONTS[0].path);
    await Deno.mkdir(values.examples, { recursive: true });
    for (let d = 0; d <= 9; d++) {
      await Deno.writeFile(`${values.examples}/${d}.png`, await renderGlyph(bytes, String(d), 64));
    }
    console.log(`wrote ${values.examples}/0.png … 9.png (DejaVu Sans, 64 px per em)`);
    return;
  }
  const sizes = values.sizes.split(",").map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 8 || s > 4000)) {
    throw new Error(`--sizes "${values.sizes}": expected whole pixel sizes between 8 and 4000`);
  }
  const extra = values.font.map((path) => ({ name: path.replace(/^.*\//, ""), path }));
  const { have, missing } = await installed([...FONTS, ...extra]);
  if (have.length === 0) throw new Error("no font found; install fonts-dejavu-core");
  if (missing.length) {
    console.log(`not installed, skipped: ${missing.map((f) => f.name).join(", ")}`);
  }
  const out = values.out ?? await Deno.makeTempDir({ prefix: "typeset-" });
  await Deno.mkdir(out, { recursive: true });
  const run = await loadRun(values.model, { backend: values.backend as "cpu", optimizer: false });
  const formats = values["no-jpeg"] ? ["png"] : ["png", "jpg"];
  const tally = new Map<string, [number, number]>();
  const count = (key: string, ok: boolean) => {
    const t = tally.get(key) ?? [0, 0];
    t[0] += ok ? 1 : 0;
    t[1]++;
    tally.set(key, t);
  };
  const started = performance.now();
  try {
    const m = run.config.model;
    for (const font of have) {
      const bytes = await Deno.readFile(font.path);
      const slug = font.name.replace(/\W+/g, "-");
      const wrong: string[] = [];
      for (const px of sizes) {
        for (let d = 0; d <= 9; d++) {
          const png = await renderGlyph(bytes, String(d), px);
          for (const format of formats) {
            const file = `${out}/${slug}-${px}-${d}.${format}`;
            await Deno.writeFile(file, format === "png" ? png : jpegOfPng(png, 75));
            const grey = await readGreyImage(file);
            const { input } = toModelInput(grey, m.height, m.width, !values["no-fit"]);
            const { prediction } = await explainInput(run.ram, null, input);
            const ok = prediction === d;
            if (!ok) wrong.push(`${d}→${prediction} (${px}px ${format})`);
            for (const key of [`font ${font.name}`, `size ${px}`, `format ${format}`, "all"]) {
              count(key, ok);
            }
            count(`digit ${d}`, ok);
          }
        }
      }
      if (values.verbose && wrong.length) console.log(`${font.name} wrong: ${wrong.join(", ")}`);
    }
  } finally {
    run.close();
  }
  console.log(
    `model ${values.model} (epoch ${run.meta.epoch}), ${
      values["no-fit"] ? "not fitted" : "fitted"
    }, ` +
      `${have.length} fonts × ${sizes.length} sizes (${
        sizes.join(", ")
      } px per em) × 10 digits × ` +
      `${formats.join("+")}; images in ${out}; ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
  );
  const width = Math.max(...[...tally.keys()].map((k) => k.length));
  // grouped: fonts, sizes, formats, digits, then the total
  const order = ["font", "size", "format", "digit", "all"];
  const keys = [...tally.keys()].sort((a, b) =>
    order.indexOf(a.split(" ")[0]) - order.indexOf(b.split(" ")[0])
  );
  for (const key of keys) {
    const [right, total] = tally.get(key)!;
    console.log(`  ${key.padEnd(width)}  ${pct(right, total)}`);
  }
}

if (import.meta.main) await main();
