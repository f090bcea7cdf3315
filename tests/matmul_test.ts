import assert from "node:assert/strict";
import {
  bindColsum,
  bindMatmul,
  blockedChoice,
  blockedEntry,
  BLOCKS,
  colsumKernel,
  layoutOf,
  type MatmulKernel,
  matmulKernel,
  type MatmulLayout,
  type MatmulStrategy,
} from "../kernels/matmul.ts";
import { type Activation, colsumRef, matmulRef, type MatmulShape } from "../kernels/matmul_ref.ts";
import { run } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import { read, tensor } from "../gpu/tensor.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

/** The strides of a linear layer's product in `layout` for an M×N result over K. */
function shapeOf(layout: MatmulLayout, M: number, N: number, K: number): MatmulShape {
  switch (layout) {
    case "nt":
      return { M, N, K, aRow: K, aCol: 1, bRow: 1, bCol: K };
    case "nn":
      return { M, N, K, aRow: K, aCol: 1, bRow: N, bCol: 1 };
    case "tn":
      return { M, N, K, aRow: 1, aCol: M, bRow: N, bCol: 1 };
  }
}

// [M, N, K]: blocked-eligible sizes that are not multiples of the block (16×16) nor of the
// workgroup, an exact block, several blocks and 64×64 tiles with K over two tiled steps, ones
// that fall back (M < 16, N or K not multiples of 4; more rows than columns put row blocks
// along x), batch 1.
const SIZES: [number, number, number][] = [
  [37, 44, 20],
  [16, 16, 4],
  [70, 72, 36],
  [5, 12, 8],
  [33, 17, 65],
  [1, 7, 3],
  [20, 18, 6],
  [130, 3, 9],
];

async function check(
  gpu: Gpu,
  k: MatmulKernel,
  layout: MatmulLayout,
  [M, N, K]: [number, number, number],
  o: {
    act: Activation;
    bias: boolean;
    accumulate: boolean;
    mask?: boolean;
    lo?: number;
    hi?: number;
  },
) {
  const s = shapeOf(layout, M, N, K);
  const A = randomArray(M * K, M + 3 * K, o.lo, o.hi),
    B = randomArray(K * N, N + 7 * K, o.lo, o.hi);
  const bias = randomArray(N, 5), C0 = randomArray(M * N, 6);
  // A ReLU output as the mask: about half zeros, exact zeros included.
  const mask = o.mask ? randomArray(M * N, 8).map((v) => Math.max(v, 0)) : null;
  const want = C0.slice();
  matmulRef(s, A, B, o.bias ? bias : null, want, o.accumulate, o.act, mask);
  const gC = tensor(gpu, [M, N], "C", C0);
  const d = bindMatmul(gpu, k, s, tensor(gpu, [M * K], "A", A), tensor(gpu, [K * N], "B", B), gC, {
    bias: o.bias ? tensor(gpu, [N], "bias", bias) : null,
    accumulate: o.accumulate,
    act: o.act,
    mask: mask ? tensor(gpu, [M, N], "mask", mask) : null,
  });
  run(gpu, [d]);
  const scale = o.hi ?? 1;
  assertClose(await read(gpu, gC), want, {
    atol: 1e-4 * scale * scale * K,
    rtol: 1e-4,
    label: `${k.strategy} ${layout} ${M}×${N}×${K} ${JSON.stringify(o)}`,
  });
  return d;
}

for (const strategy of ["blocked", "tiled", "strided"] as MatmulStrategy[]) {
  gpuTest(`matmul (${strategy}) matches the CPU reference on every layout`, async (gpu) => {
    const k = await matmulKernel(gpu, strategy);
    assert.equal(k.strategy, strategy);
    for (const layout of ["nt", "nn", "tn"] as MatmulLayout[]) {
      for (const size of SIZES) {
        const d = await check(gpu, k, layout, size, {
          act: layout === "nt" ? "relu" : "none",
          bias: layout === "nt",
          accumulate: layout !== "nt",
          mask: layout !== "tn", // as the RAM's input gradients use it
        });
        const [M, N, K] = size;
        const small = BLOCKS.at(-1)!;
        const fits = M >= small.rows && N >= 4 * small.cols4 && N % 4 === 0 &&
          (layout === "tn" ? M % 4 === 0 : K % 4 === 0);
        const want = strategy === "blocked" && fits
          ? `matmul blocked ${layout}`
          : strategy === "tiled"
          ? "matmul tiled"
          : M > N
          ? "matmul rows"
          : "matmul";
        assert.ok(
          d.kernel.name.startsWith(want) && (want !== "matmul" || d.kernel.name === "matmul"),
          `${strategy} ${layout} ${size}: ran ${d.kernel.name}, expected ${want}`,
        );
      }
    }
  });

  gpuTest(`matmul (${strategy}) fuses every activation and saturates on extremes`, async (gpu) => {
    const k = await matmulKernel(gpu, strategy);
    for (const act of ["none", "relu", "tanh", "sigmoid"] as Activation[]) {
      for (const layout of ["nt", "nn", "tn"] as MatmulLayout[]) {
        await check(gpu, k, layout, [37, 44, 20], { act, bias: true, accumulate: true });
      }
      await check(gpu, k, "nt", [16, 16, 8], {
        act,
        bias: false,
        accumulate: false,
        lo: -1e3,
        hi: 1e3,
      });
    }
  });
}

gpuTest("column sums (scalar and vec4 kernels) match the CPU reference", async (gpu) => {
  const k = await colsumKernel(gpu);
  for (const [M, N] of [[1, 1], [768, 256], [37, 12], [5, 7], [130, 4]]) {
    for (const accumulate of [false, true]) {
      const X = randomArray(M * N, M + N, -1e3, 1e3), out0 = randomArray(N, 3);
      const want = out0.slice();
      colsumRef(M, N, X, want, accumulate);
      const out = tensor(gpu, [N], "out", out0);
      const d = bindColsum(gpu, k, M, N, tensor(gpu, [M, N], "X", X), out, accumulate);
      assert.equal(d.kernel.name, N % 4 === 0 ? "colsum vec4" : "colsum");
      run(gpu, [d]);
      assertClose(await read(gpu, out), want, {
        atol: 1e-2,
        rtol: 1e-4,
        label: `colsum ${M}×${N} acc=${accumulate}`,
      });
    }
  }
});

gpuTest("a matmul mask must not be its output", async (gpu) => {
  const k = await matmulKernel(gpu);
  const C = tensor(gpu, [4, 4], "C"), A = tensor(gpu, [16], "A");
  assert.throws(
    () => bindMatmul(gpu, k, shapeOf("nn", 4, 4, 4), A, A, C, { mask: C }),
    /matmul: mask C must hold 4×4 values in another buffer than C/,
  );
});

Deno.test("matmul layouts are recognised from strides only when they match exactly", () => {
  assert.equal(layoutOf(shapeOf("nt", 4, 8, 12)), "nt");
  assert.equal(layoutOf(shapeOf("nn", 4, 8, 12)), "nn");
  assert.equal(layoutOf(shapeOf("tn", 4, 8, 12)), "tn");
  assert.equal(layoutOf({ M: 4, N: 8, K: 12, aRow: 13, aCol: 1, bRow: 1, bCol: 12 }), null);
});

Deno.test("blocked products take the largest block that two threads can share", () => {
  const nt = (M: number, N: number, K: number) => shapeOf("nt", M, N, K);
  assert.deepEqual(blockedChoice(nt(128, 256, 256)), { layout: "nt", block: 0 });
  assert.deepEqual(blockedChoice(nt(40, 256, 256)), { layout: "nt", block: 1 });
  assert.deepEqual(blockedChoice(nt(16, 16, 4)), { layout: "nt", block: 1 });
  assert.equal(blockedChoice(nt(15, 256, 256)), null);
  assert.equal(blockedChoice(nt(128, 10, 256)), null);
  assert.equal(blockedChoice(nt(128, 128, 2)), null);
  assert.deepEqual(blockedChoice(shapeOf("tn", 256, 256, 768)), { layout: "tn", block: 0 });
  assert.equal(blockedChoice(shapeOf("tn", 10, 256, 128)), null);
});

Deno.test("blocked entry points are fully unrolled for the requested block", () => {
  const src = blockedEntry("nt", 8, 2);
  assert.match(src, /acc7_1/);
  assert.doesNotMatch(src, /acc8_0/);
  assert.equal((src.match(/put\(/g) ?? []).length, 16);
  assert.throws(() => blockedEntry("tn", 6, 1), /tn block rows 6/);
});
