/**
 * The explorer in a real browser: Debian's chromium-headless-shell, WebGPU on SwiftShader,
 * driven over the DevTools protocol by puppeteer-core. The page served by `glimpse serve`
 * must explain examples/seven.png as `glimpse explain --json` does (Deno on Mesa's adapter:
 * same locations, beliefs within float tolerance), a click must move the next glimpse there,
 * and the screenshot the README shows is saved to docs/explorer.png. Prints the time from page
 * load to the first explained digit and the time of a step.
 *
 * Where chromium is missing: in CI (CI set) the test fails saying what to install (.ci/run
 * installs it); elsewhere it is skipped with that reason printed.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { writeFileAtomic } from "../util/write_atomic.ts";
import { glimpse, ROOT, withTempDir } from "./_cli.ts";

const CHROMIUM = Deno.env.get("GLIMPSE_CHROMIUM") ?? "/usr/bin/chromium-headless-shell";
const WEBGPU_FLAGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-webgpu-adapter=swiftshader",
  "--disable-gpu-sandbox",
];
const MODEL = "checkpoints/mnist-entropy";
const TIMEOUT = 180_000;

const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") !== undefined && Deno.env.get("CI") !== "";
if (!haveChromium && !inCi) {
  console.error(
    `web_test skipped: ${CHROMIUM} is missing (apt-get install chromium-headless-shell, ` +
      "or set GLIMPSE_CHROMIUM)",
  );
}

interface Glimpse {
  x: number;
  y: number;
  lx: number;
  ly: number;
  prediction: number;
  probabilities: number[];
  entropy: number;
}
interface Shown {
  prediction: number;
  probability: number;
  glimpses: Glimpse[];
}
interface Hook {
  ready: boolean;
  error: string | null;
  backend: string;
  source: string;
  step: number;
  explanation: Shown;
  layout: { zoom: number; margin: number };
  timings: { firstExplainedMs: number | null; modelMs: number[]; stepMs: number[] };
}

/** `glimpse serve --port 0` as a child process, and the URL it printed. */
async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "serve", "--port", "0", "--model", MODEL],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+\//.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`glimpse serve exited before printing its URL: ${text}`);
    text += value;
  }
  const url = text.match(/http:\/\/\S+\//)![0];
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

const hook = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { explorer: unknown }).explorer) as Promise<Hook>;

/** Waits until the page has computed more explanations than `before` and is idle. */
async function settled(page: Page, before: number): Promise<Hook> {
  await page.waitForFunction(
    (n: number) => {
      const h = (globalThis as unknown as { explorer?: Hook }).explorer;
      return h && (h.error !== null || (h.ready && h.timings.modelMs.length > n));
    },
    { timeout: TIMEOUT, polling: 50 },
    before,
  );
  const h = await hook(page);
  assert.equal(h.error, null, `the page reported: ${h.error}`);
  return h;
}

/** Clicks image pixel (x, y) of the view canvas. */
async function clickPixel(page: Page, h: Hook, x: number, y: number): Promise<void> {
  const box = await (await page.$("#view"))!.boundingBox();
  const width = await page.$eval("#view", (c) => (c as unknown as { width: number }).width);
  const s = box!.width / width, { zoom, margin } = h.layout;
  await page.mouse.click(
    box!.x + (margin + x + 0.5) * zoom * s,
    box!.y + (margin + y + 0.5) * zoom * s,
  );
}

function assertSameExplanation(got: Shown, want: Shown, tol: number, what: string): void {
  assert.equal(got.glimpses.length, want.glimpses.length, `${what}: glimpses`);
  for (const [i, g] of got.glimpses.entries()) {
    const w = want.glimpses[i];
    assert.deepEqual([g.x, g.y], [w.x, w.y], `${what}: glimpse ${i + 1} location`);
    assert.ok(Math.abs(g.lx - w.lx) < 1e-3 && Math.abs(g.ly - w.ly) < 1e-3, `${what}: l_${i + 1}`);
    assert.equal(g.prediction, w.prediction, `${what}: glimpse ${i + 1} prediction`);
    const diff = Math.max(...g.probabilities.map((p, c) => Math.abs(p - w.probabilities[c])));
    assert.ok(diff <= tol, `${what}: glimpse ${i + 1} beliefs differ by ${diff} (> ${tol})`);
  }
  assert.equal(got.prediction, want.prediction, `${what}: prediction`);
}

Deno.test({
  name:
    "explorer in chromium on WebGPU: explains seven.png as explain --json does, a click moves the next glimpse",
  ignore: !haveChromium && !inCi,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(
      haveChromium,
      `${CHROMIUM} is missing: apt-get install chromium-headless-shell (.ci/run does)`,
    );
    let reference: Shown & { glimpses: Glimpse[] } = null!;
    await withTempDir("glimpse_web_", async (dir) => {
      const r = await glimpse(
        "explain",
        "examples/seven.png",
        "--json",
        "--model",
        MODEL,
        "--out",
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      reference = JSON.parse(r.stdout);
    });
    const server = await startServer();
    let browser: Browser | null = null;
    try {
      browser = await puppeteer.launch({ executablePath: CHROMIUM, args: WEBGPU_FLAGS });
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 760 });
      await page.goto(server.url);
      let h = await settled(page, 0);
      assert.match(
        h.backend,
        /^webgpu/,
        `the page found no WebGPU adapter in chromium (backend: ${h.backend})`,
      );
      const firstMs = h.timings.firstExplainedMs!;

      // draw a stroke: a new explanation of the drawing
      const pad = (await (await page.$("#pad"))!.boundingBox())!;
      await page.mouse.move(pad.x + pad.width * 0.3, pad.y + pad.height * 0.2);
      await page.mouse.down();
      await page.mouse.move(pad.x + pad.width * 0.7, pad.y + pad.height * 0.8, { steps: 8 });
      await page.mouse.up();
      h = await settled(page, h.timings.modelMs.length);
      assert.equal(h.source, "drawing");

      // drop seven.png in through the file input: explain --json's numbers
      const file = await page.$("input#file");
      await file!.uploadFile(`${ROOT}/examples/seven.png`);
      h = await settled(page, h.timings.modelMs.length);
      assert.equal(h.source, "seven.png");
      assertSameExplanation(h.explanation, reference, 2e-3, "browser vs explain --json");
      const text = await page.$eval("#gain", (e) => e.textContent ?? "");
      assert.match(text, new RegExp(`^predicts ${reference.prediction} `));

      // step with the keyboard to glimpse 2, then click a pixel: glimpse 3 looks there
      await page.keyboard.press("Home");
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(
        () => (globalThis as unknown as { explorer: Hook }).explorer.step === 2,
      );
      h = await hook(page);
      const stepMs = h.timings.stepMs.at(-1)!;
      const target: [number, number] = [20, 6];
      assert.notDeepEqual([h.explanation.glimpses[2].x, h.explanation.glimpses[2].y], target);
      const before = h.explanation;
      await clickPixel(page, h, ...target);
      h = await settled(page, h.timings.modelMs.length);
      const moved = h.explanation.glimpses;
      assert.equal(h.step, 3);
      assert.deepEqual([moved[2].x, moved[2].y], target, "glimpse 3 moved to the clicked pixel");
      for (const t of [0, 1]) {
        assert.deepEqual([moved[t].x, moved[t].y], [before.glimpses[t].x, before.glimpses[t].y]);
        assert.deepEqual(moved[t].probabilities, before.glimpses[t].probabilities);
      }
      assert.notDeepEqual(moved[2].probabilities, before.glimpses[2].probabilities);
      const clickMs = h.timings.modelMs.at(-1)!;

      // the expected-information-gain map of glimpse 3 on the policy's own path
      await page.click("#undo");
      await page.keyboard.press("Home");
      await page.keyboard.press("ArrowRight");
      const nMaps = h.timings.modelMs.length;
      await page.click("#eig");
      await page.waitForFunction(
        () => {
          const h = (globalThis as unknown as { explorer: Hook }).explorer;
          return h.ready && h.step === 2;
        },
        { timeout: TIMEOUT },
      );
      const eigNote = await page.$eval("#eig-note", (e) => e.textContent ?? "");
      assert.match(
        eigNote,
        /^Glimpse 3: best \d\.\d{3} nats \(×\), where the policy looks \d\.\d{3}/,
      );
      assert.equal((await hook(page)).timings.modelMs.length, nMaps, "no new rollout for the map");
      await page.click("#eig");
      await clickPixel(page, h, ...target);
      h = await settled(page, nMaps);

      await page.keyboard.press("End");
      await page.waitForFunction(
        () => (globalThis as unknown as { explorer: Hook }).explorer.step === 6,
      );
      const png = await page.screenshot({ fullPage: true });
      await writeFileAtomic(`${ROOT}/docs/explorer.png`, new Uint8Array(png));

      // phone width: nothing wider than the screen
      await page.setViewport({ width: 390, height: 844 });
      const scroll = (await page.evaluate("document.documentElement.scrollWidth")) as number;
      assert.ok(scroll <= 390, `at 390 px wide the page is ${scroll} px wide`);

      const T = moved.length;
      console.log(
        `explorer on ${h.backend}: page load to first explained digit ${firstMs.toFixed(0)} ms; ` +
          `a click (rollout of ${T} glimpses and probe) ${clickMs.toFixed(0)} ms = ` +
          `${(clickMs / T).toFixed(0)} ms per glimpse; drawing one step ${stepMs.toFixed(1)} ms`,
      );

      // without WebGPU: one line saying so, and the CPU reference gives the same explanation
      const cpu = await browser.newPage();
      await cpu.goto(`${server.url}?backend=cpu`);
      let hc = await settled(cpu, 0);
      assert.equal(hc.backend, "the cpu reference");
      const notice = await cpu.$eval("#notice", (e) => ({
        hidden: (e as unknown as { hidden: boolean }).hidden,
        text: e.textContent ?? "",
      }));
      assert.ok(!notice.hidden && /^WebGPU is not available here/.test(notice.text));
      await (await cpu.$("input#file"))!.uploadFile(`${ROOT}/examples/seven.png`);
      hc = await settled(cpu, hc.timings.modelMs.length);
      assertSameExplanation(hc.explanation, reference, 2e-3, "cpu reference vs explain --json");
    } finally {
      await browser?.close();
      await server.stop();
    }
  },
});
