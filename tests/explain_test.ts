/**
 * `glimpse explain IMAGE` as a user runs it (a child process), on a tiny run with random weights
 * and a synthetic "7" drawn dark on light paper: the printed numbers against a direct rollout,
 * the pictures against the numbers, and every bad input: one line, exit code 1, nothing written.
 */
import assert from "node:assert/strict";
import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { decodeGrey } from "../datasets/image.ts";
import { toModelInput } from "../datasets/model_input.ts";
import { loadRun } from "../run/load_run.ts";
import { explainInput } from "../report/explain.ts";
import { glimpseColour, glimpseRects } from "../report/glimpse_overlay.ts";
import { reconGridLayout } from "../report/recon_grid.ts";
import { sevenPng, writeTinyRun } from "./_explain_fixture.ts";
import { glimpse, glimpseWith, type Output, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("glimpse_explain_", fn);

const close = (a: number, b: number, tol = 1e-5) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

interface JsonGlimpse {
  glimpse: number;
  x: number;
  y: number;
  lx: number;
  ly: number;
  prediction: number;
  probability: number;
  entropy: number;
  info_gain: number;
  cumulative_gain: number;
  probabilities: number[];
}

Deno.test("explain --json on a synthetic digit: numbers match a direct rollout, pictures match the numbers", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/run`, "entropy");
    const png = sevenPng();
    await Deno.writeFile(`${dir}/seven.png`, png);
    const r = await glimpse(
      "explain",
      `${dir}/seven.png`,
      "--model",
      `${dir}/run`,
      "--out",
      `${dir}/out`,
      "--json",
      "--backend",
      "cpu",
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, "one JSON object on stdout");
    const j = JSON.parse(lines[0]);
    assert.equal(j.glimpses.length, 4);
    assert.equal(j.reward, "entropy");
    assert.deepEqual(j.files, {
      glimpses: `${dir}/out/seven.glimpses.png`,
      recon: `${dir}/out/seven.recon.png`,
    });

    // the same computation in-process
    const run = await loadRun(`${dir}/run`, { backend: "cpu" });
    let direct, recon: Float32Array;
    const input = toModelInput(decodeGrey(png, "seven.png"), 28, 28, true).input;
    try {
      direct = await explainInput(run.ram, run.vae, input);
      const rollout = await run.ram.rollout(
        { size: 1, images: input, labels: new Int32Array(1) },
        { stochastic: false, start: new Float32Array(2) },
      );
      recon = await run.vae!.reconstruct(rollout.hidden);
    } finally {
      run.close();
    }
    let prevH = Math.log(10);
    (j.glimpses as JsonGlimpse[]).forEach((g, t) => {
      const d = direct.glimpses[t];
      assert.equal(g.glimpse, t + 1);
      assert.equal(g.prediction, d.prediction);
      close(g.lx, d.lx);
      close(g.ly, d.ly);
      assert.deepEqual([g.x, g.y], [Math.floor((g.lx + 1) * 14), Math.floor((g.ly + 1) * 14)]);
      // the numbers are consistent with the probabilities
      const sum = g.probabilities.reduce((a, b) => a + b, 0);
      close(sum, 1);
      const h = -g.probabilities.reduce((a, p) => a + (p > 0 ? p * Math.log(p) : 0), 0);
      close(g.entropy, h);
      close(g.info_gain, prevH - h);
      close(g.cumulative_gain, Math.log(10) - h);
      assert.equal(g.probability, Math.max(...g.probabilities));
      assert.equal(g.prediction, g.probabilities.indexOf(g.probability));
      prevH = h;
    });
    assert.deepEqual([j.glimpses[0].x, j.glimpses[0].y], [14, 14], "the first glimpse is central");
    assert.ok(
      j.glimpses.some((g: JsonGlimpse) => g.x !== 14 || g.y !== 14),
      "the policy moves",
    );
    assert.equal(j.prediction, j.glimpses[3].prediction);
    assert.equal(j.probability, j.glimpses[3].probability);

    // recon.png: the fitted input, then the probe's reconstruction after each glimpse
    const grid = decodePng(await Deno.readFile(`${dir}/out/seven.recon.png`));
    const layout = reconGridLayout(1, 4, false, 112);
    assert.deepEqual([grid.width, grid.height], [layout.width, layout.height]);
    const at = (x: number, y: number) => grid.data[grid.channels * (y * grid.width + x)];
    for (const tile of layout.tiles) {
      for (const [sx, sy] of [[5, 5], [14, 14], [20, 9], [9, 22]]) {
        const v = tile.kind === "input"
          ? input[sy * 28 + sx]
          : recon![(tile.glimpse - 1) * 784 + sy * 28 + sx];
        assert.equal(at(tile.x + sx * 4 + 1, tile.y + sy * 4 + 1), Math.round(v * 255));
      }
    }
    // glimpses.png: the last glimpse's smallest patch outlined in its colour
    const ov = decodePng(await Deno.readFile(`${dir}/out/seven.glimpses.png`));
    const zoom = 12, margin = 8;
    assert.equal(ov.width, (28 + 2 * margin) * zoom);
    const last = glimpseRects(
      (j.glimpses as JsonGlimpse[]).flatMap((g) => [g.lx, g.ly]),
      { height: 28, width: 28, patch: 8, scales: 2, scale: 2 },
    ).find((p) => p.glimpse === 4 && p.patch === 0)!;
    const fx = (margin + last.x) * zoom, fy = (margin + last.y + last.side / 2) * zoom;
    const rgb = [0, 1, 2].map((c) => ov.data[ov.channels * (fy * ov.width + fx) + c]);
    assert.deepEqual(rgb, [...glimpseColour(4)]);
  });
});

Deno.test("explain --eig-map writes the map and reports the best and the policy's candidate", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/run`, "entropy");
    await Deno.writeFile(`${dir}/seven.png`, sevenPng());
    const args = ["explain", `${dir}/seven.png`, "--model", `${dir}/run`, "--backend", "cpu"];
    const r = await glimpse(...args, "--out", `${dir}/out`, "--eig-map", "--json");
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.eig_map.length, 3);
    for (const [k, m] of j.eig_map.entries()) {
      assert.equal(m.glimpse, k + 2);
      assert.equal(m.eig.length, m.grid * m.grid);
      assert.equal(m.best.eig, Math.max(...m.eig));
      assert.ok(m.eig.every((v: number) => v >= 0), `glimpse ${m.glimpse}: a negative EIG`);
      assert.ok(Math.abs(m.entropy_before - j.glimpses[k].entropy) < 1e-5);
      assert.ok(Math.abs(m.policy.lx - j.glimpses[k + 1].lx) < 1e-5);
    }
    assert.equal(j.files.eig_map, `${dir}/out/seven.eigmap.png`);
    const png = decodePng(await Deno.readFile(j.files.eig_map));
    assert.ok(png.width > 3 * 168);
    // without a probe there is nothing to imagine images with
    await writeTinyRun(`${dir}/bare`, "entropy", { vae: false });
    const bare = await glimpse(
      "explain",
      `${dir}/seven.png`,
      "--model",
      `${dir}/bare`,
      "--backend",
      "cpu",
      "--out",
      `${dir}/out2`,
      "--eig-map",
    );
    await assertRefused(`${dir}/out2`, bare, /--eig-map needs a VAE probe and .*bare has none/);
  });
});

Deno.test("explain --eig-map on examples/seven.png with a shipped model: every EIG ≥ 0, the four corners far below the best cell", async () => {
  await withDir(async (dir) => {
    for (const model of ["checkpoints/mnist-entropy"]) {
      const r = await glimpse(
        "explain",
        "examples/seven.png",
        "--model",
        model,
        "--backend",
        "cpu",
        "--out",
        `${dir}/out`,
        "--eig-map",
        "--json",
      );
      assert.equal(r.code, 0, r.stderr);
      const maps = JSON.parse(r.stdout).eig_map as {
        glimpse: number;
        grid: number;
        eig: number[];
      }[];
      assert.equal(maps.length, 5);
      for (const m of maps) {
        const G = m.grid, best = Math.max(...m.eig);
        assert.ok(m.eig.every((v) => v >= 0), `${model} glimpse ${m.glimpse}: a negative EIG`);
        assert.ok(best > 0, `${model} glimpse ${m.glimpse}: the map is flat`);
        for (const c of [0, G - 1, G * (G - 1), G * G - 1]) {
          assert.ok(
            m.eig[c] < best / 100,
            `${model} glimpse ${m.glimpse}: corner ${c} holds ${m.eig[c]} of the best ${best}`,
          );
        }
      }
    }
  });
});

Deno.test("explain prints a per-glimpse table; without a probe it writes the overlay only", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/run`, "classification", { vae: false });
    // a 28×28 grey PNG taken as it is (--no-fit)
    const grey = Uint8Array.from(
      { length: 784 },
      (_, p) => ((p % 28) > 10 && (p % 28) < 15 ? 255 : 0),
    );
    await Deno.writeFile(
      `${dir}/bar.png`,
      encodePng({ width: 28, height: 28, channels: 1, depth: 8, data: grey }),
    );
    const r = await glimpse(
      "explain",
      `${dir}/bar.png`,
      "--model",
      `${dir}/run`,
      "--out",
      `${dir}/out`,
      "--no-fit",
      "--backend",
      "cpu",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /as is \(28×28\)/);
    assert.match(r.stdout, /glimpse +at \(x, y\) +prediction +p +H_t \(nats\) +IG_t +H_0 − H_t/);
    const rows = r.stdout.split("\n").filter((l) => /^ +\d +\(\d+, \d+\)/.test(l));
    assert.equal(rows.length, 4);
    assert.match(rows[0], /^ +1 +\(14, 14\) +\d +0\.\d{3} +\d\.\d{4} +[+-]\d\.\d{4} +\d\.\d{4}$/);
    assert.match(r.stdout, /prediction: \d \(p = 0\.\d{4}\)/);
    assert.match(r.stderr, /has no VAE probe, so no bar\.recon\.png/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name), ["bar.glimpses.png"]);
  });
});

/** Exit code 1, nothing on stdout, one `glimpse: …` line on stderr, and no folder `out`. */
async function assertRefused(out: string, r: Output, pattern: RegExp): Promise<void> {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^glimpse: /);
  assert.match(lines[0], pattern);
  assert.equal(await Deno.stat(out).catch(() => null), null, "nothing written");
}

/** `bytes` with the first occurrence of `from` replaced by `to` (same length). */
function replaceBytes(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(from);
  assert.ok(at >= 0 && from.length === to.length);
  const out = bytes.slice();
  out.set(new TextEncoder().encode(to), at);
  return out;
}

Deno.test("explain refuses bad images and checkpoints with one line, exit 1, nothing written", async () => {
  await withDir(async (dir) => {
    await writeTinyRun(`${dir}/run`, "entropy");
    const png = sevenPng();
    await Deno.writeFile(`${dir}/seven.png`, png);
    const explain = (image: string, model = `${dir}/run`) =>
      glimpse("explain", image, "--model", model, "--out", `${dir}/out`, "--backend", "cpu");

    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/missing.png`),
      /Cannot read image .*missing\.png/,
    );

    await Deno.writeTextFile(`${dir}/notes.png`, "these are not pixels\n");
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/notes.png`),
      /notes\.png: not a PNG or JPEG/,
    );

    await Deno.writeFile(`${dir}/cut.png`, png.subarray(0, png.length - 40));
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/cut.png`),
      /cut\.png: cannot decode PNG/,
    );

    const rgba = new Uint8Array(32 * 32 * 4).map((_, k) => (k * 13) % 256);
    const jpg = new Uint8Array(jpeg.encode({ width: 32, height: 32, data: rgba }, 90).data);
    await Deno.writeFile(`${dir}/cut.jpg`, jpg.subarray(0, jpg.length >> 1));
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/cut.jpg`),
      /cut\.jpg: cannot decode JPEG/,
    );

    // IHDR width and height are bytes 16..23 (big-endian)
    const zero = png.slice();
    new DataView(zero.buffer).setUint32(16, 0);
    await Deno.writeFile(`${dir}/zero.png`, zero);
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/zero.png`),
      /zero\.png: zero-size image/,
    );

    const huge = png.slice();
    new DataView(huge.buffer).setUint32(16, 200_000);
    new DataView(huge.buffer).setUint32(20, 300_000);
    await Deno.writeFile(`${dir}/huge.png`, huge);
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/huge.png`),
      /huge\.png: 200000×300000 image is larger than the \d+-pixel limit/,
    );

    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/seven.png`, `${dir}/nowhere`),
      /Cannot read model ".*nowhere": no such folder/,
    );

    const model = await Deno.readFile(`${dir}/run/model.safetensors`);
    await Deno.mkdir(`${dir}/cut`);
    await Deno.writeFile(`${dir}/cut/model.safetensors`, model.subarray(0, model.length - 100));
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/seven.png`, `${dir}/cut`),
      /Cannot read ".*cut\/model\.safetensors"/,
    );

    await Deno.mkdir(`${dir}/v9`);
    await Deno.writeFile(
      `${dir}/v9/model.safetensors`,
      replaceBytes(model, `"format_version":"1"`, `"format_version":"9"`),
    );
    await assertRefused(
      `${dir}/out`,
      await explain(`${dir}/seven.png`, `${dir}/v9`),
      /v9\/model\.safetensors": format version 9, this glimpse reads version 1/,
    );

    // labels need a font: without one, nothing is written
    await assertRefused(
      `${dir}/out`,
      await glimpseWith(
        { GLIMPSE_FONT: `${dir}/no-such-font.ttf` },
        "explain",
        `${dir}/seven.png`,
        "--model",
        `${dir}/run`,
        "--out",
        `${dir}/out`,
        "--backend",
        "cpu",
      ),
      /GLIMPSE_FONT=".*no-such-font\.ttf": cannot read the font/,
    );

    await assertRefused(
      `${dir}/out`,
      await glimpse(
        "explain",
        `${dir}/seven.png`,
        "--model",
        `${dir}/run`,
        "--out",
        `${dir}/out`,
        "--backend",
        "tpu",
      ),
      /--backend "tpu": expected auto or webgpu or cpu/,
    );
  });
});
