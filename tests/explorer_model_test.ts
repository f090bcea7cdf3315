/**
 * The browser explorer's model side, run in Deno on the shipped entropy model: opening a
 * checkpoint from its bytes gives what `explain` computes, and a counterfactual moves exactly
 * the glimpse asked for while the earlier ones stay put.
 */
import assert from "node:assert/strict";
import { readGreyImage } from "../datasets/image.ts";
import { toModelInput } from "../datasets/model_input.ts";
import { loadRun } from "../run/load_run.ts";
import { explainInput } from "../report/explain.ts";
import { locationPixel } from "../report/glimpse_overlay.ts";
import type { Gpu } from "../gpu/device.ts";
import {
  explainTrajectory,
  openExplorerModel,
  pixelLocation,
  redirect,
} from "../web/explorer_model.ts";
import { gpuTest } from "./_gpu.ts";
import { checkpointState, loadCheckpoint, saveCheckpoint } from "../run/checkpoint.ts";
import { clsConfigFor, DEFAULT_CLS_RUN } from "../probe/cls_params.ts";
import { CpuClassProbe } from "../probe/cls_cpu.ts";
import { withTempDir } from "./_cli.ts";

const MODEL = new URL("../checkpoints/mnist-entropy/", import.meta.url);
const SEVEN = new URL("../examples/seven.png", import.meta.url);

async function sevenInput(): Promise<Float32Array> {
  return toModelInput(await readGreyImage(SEVEN.pathname), 28, 28, true).input;
}

async function checkModel(gpu: Gpu | null): Promise<void> {
  const bytes = await Deno.readFile(new URL("model.safetensors", MODEL));
  const model = await openExplorerModel("mnist-entropy", bytes, "model.safetensors", gpu);
  const run = await loadRun(MODEL.pathname, { backend: "cpu", optimizer: false });
  try {
    assert.ok(model.vae, "the shipped model has a probe");
    const input = await sevenInput();
    const base = await explainTrajectory(model, input);
    const ref = await explainInput(run.ram, run.vae, input);
    const tol = gpu ? 1e-4 : 0;
    for (const [i, g] of base.explanation.glimpses.entries()) {
      const r = ref.glimpses[i];
      assert.deepEqual([g.x, g.y], [r.x, r.y], `glimpse ${i + 1} location`);
      for (let c = 0; c < 10; c++) {
        assert.ok(Math.abs(g.probabilities[c] - r.probabilities[c]) <= tol, `p_${i + 1}(${c})`);
      }
    }
    // glimpse 3 to pixel (20, 6); then, on top of that, glimpse 5 to (3, 24)
    const moved = await redirect(model, input, base, 3, ...pixelLocation(20, 6, 28, 28));
    const gs = moved.explanation.glimpses;
    assert.deepEqual([gs[2].x, gs[2].y], [20, 6]);
    for (const t of [0, 1]) {
      assert.deepEqual([gs[t].lx, gs[t].ly], [
        base.explanation.glimpses[t].lx,
        base.explanation.glimpses[t].ly,
      ]);
    }
    assert.notDeepEqual(gs[2].probabilities, base.explanation.glimpses[2].probabilities);
    const again = await redirect(model, input, moved, 5, ...pixelLocation(3, 24, 28, 28));
    const g2 = again.explanation.glimpses;
    assert.deepEqual([g2[2].x, g2[2].y], [20, 6], "the earlier redirect is kept");
    assert.deepEqual([g2[4].x, g2[4].y], [3, 24]);
    // moving glimpse 3 again replaces both redirects from glimpse 3 on
    const back = await redirect(model, input, again, 3, ...pixelLocation(10, 10, 28, 28));
    assert.deepEqual([back.explanation.glimpses[2].x, back.explanation.glimpses[2].y], [10, 10]);
    const first = await redirect(model, input, base, 1, ...pixelLocation(0, 27, 28, 28));
    const g1 = first.explanation.glimpses[0];
    assert.deepEqual(locationPixel(g1.lx, g1.ly, 28, 28), [0, 27]);
    await assert.rejects(
      () => redirect(model, input, base, 7, 0, 0),
      /glimpse 7 is not one of 1\.\.6/,
    );
  } finally {
    model.dispose();
    run.close();
  }
}

Deno.test("explorer model on the cpu reference: explain's numbers, counterfactuals move one glimpse", async () => {
  await checkModel(null);
});

gpuTest(
  "explorer model on webgpu: explain's numbers, counterfactuals move one glimpse",
  async (gpu) => {
    await checkModel(gpu);
  },
);

Deno.test("explorer model: a file that is not a checkpoint is one line naming it", async () => {
  await assert.rejects(
    () => openExplorerModel("x", new Uint8Array(4), "models/x/model.safetensors", null),
    /^Error: Cannot read "models\/x\/model.safetensors": 4 bytes is too short/,
  );
});

Deno.test("explorer model with a class probe: its beliefs per glimpse are the probe's on explain's states", async () => {
  await withTempDir("glimpse_explorer_cls_", async (dir) => {
    // the shipped model plus a (seeded, untrained) class probe: the page shows its beliefs
    const ckpt = await loadCheckpoint(MODEL.pathname);
    const config = { ...ckpt.meta.config, cls: { ...DEFAULT_CLS_RUN } };
    const probe = new CpuClassProbe(clsConfigFor(config.model, config.cls), 3);
    const meta = { ...ckpt.meta, config, clsStep: 0 };
    await saveCheckpoint(dir, checkpointState(ckpt), meta, {}, ckpt.vae!, {
      optimizer: false,
      cls: await probe.getState(),
    });
    const bytes = await Deno.readFile(`${dir}/model.safetensors`);
    const model = await openExplorerModel("with-cls", bytes, "model.safetensors", null);
    try {
      assert.ok(model.cls, "the class probe is opened");
      const input = await sevenInput();
      const base = await explainTrajectory(model, input);
      const logp = await probe.beliefs(base.explanation.hidden);
      assert.equal(base.beliefs!.length, 6);
      for (const [t, row] of base.beliefs!.entries()) {
        for (let c = 0; c < 10; c++) {
          assert.ok(Math.abs(row[c] - Math.exp(logp[t * 10 + c])) < 1e-6);
        }
        assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5);
      }
      const moved = await redirect(model, input, base, 2, ...pixelLocation(5, 5, 28, 28));
      assert.notDeepEqual(moved.beliefs![1], base.beliefs![1], "the counterfactual's beliefs");
    } finally {
      model.dispose();
    }
  });
  const plain = await openExplorerModel(
    "mnist-entropy",
    await Deno.readFile(new URL("model.safetensors", MODEL)),
    "model.safetensors",
    null,
  );
  try {
    // the shipped model carries its class probe: the page shows the probe's beliefs
    assert.ok(plain.cls, "the shipped model's class probe is opened");
    const beliefs = (await explainTrajectory(plain, await sevenInput())).beliefs;
    assert.equal(beliefs?.length, 6);
  } finally {
    plain.dispose();
  }
});
