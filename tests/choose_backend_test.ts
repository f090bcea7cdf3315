import assert from "node:assert/strict";
import { chooseBackend, decideBackend } from "../ram/choose_backend.ts";
import { backendOption } from "../commands/backend.ts";

const llvmpipe = { description: "llvmpipe (LLVM 15.0.6, 256 bits)", software: true };
const h200 = { description: "NVIDIA H200", software: false };

Deno.test("auto picks webgpu on a hardware adapter, with or without a BLAS", () => {
  for (const blas of [true, false]) {
    const d = decideBackend("auto", { adapter: h200, blas });
    assert.equal(d.name, "webgpu");
    assert.match(d.reason, /hardware WebGPU adapter \(NVIDIA H200\)/);
  }
});

Deno.test("auto picks the cpu BLAS path over a software adapter or none, and says why", () => {
  const soft = decideBackend("auto", { adapter: llvmpipe, blas: true });
  assert.equal(soft.name, "cpu");
  assert.match(soft.reason, /only WebGPU adapter is software \(llvmpipe/);
  const none = decideBackend("auto", { adapter: null, blas: true });
  assert.equal(none.name, "cpu");
  assert.match(none.reason, /no WebGPU adapter/);
});

Deno.test("auto without a BLAS keeps llvmpipe, and falls to the reference without either", () => {
  const soft = decideBackend("auto", { adapter: llvmpipe, blas: false });
  assert.equal(soft.name, "webgpu");
  assert.match(soft.reason, /libopenblas0-pthread/);
  assert.equal(decideBackend("auto", { adapter: null, blas: false }).name, "cpu");
});

Deno.test("--backend webgpu and cpu are taken as given; auto is the default", async () => {
  assert.equal(backendOption(undefined), "auto");
  assert.deepEqual(await chooseBackend("cpu"), {
    name: "cpu",
    choice: "cpu",
    reason: "--backend cpu",
  });
  assert.equal(decideBackend("webgpu", { adapter: null, blas: true }).name, "webgpu");
  assert.throws(() => backendOption("tpu"), /--backend/);
});
