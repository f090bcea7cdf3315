import { bindLstmCell, bindLstmCellBackward, lstmKernels } from "../kernels/lstm.ts";
import { lstmCellBackwardRef, lstmCellRef, type LstmShape } from "../kernels/lstm_ref.ts";
import { run } from "../gpu/kernel.ts";
import { Readback, tensor } from "../gpu/tensor.ts";
import { assertClose, dot, finiteDiff, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const shapes: LstmShape[] = [
  { batch: 1, hidden: 1 },
  { batch: 1, hidden: 7 },
  { batch: 5, hidden: 3 },
  { batch: 130, hidden: 37 },
  { batch: 128, hidden: 256 },
];

/** Forward outputs of the CPU reference. */
function cellRef(s: LstmShape, z: Float32Array, c: Float32Array) {
  const n = s.batch * s.hidden;
  const gates = new Float32Array(4 * n), cNext = new Float32Array(n), hNext = new Float32Array(n);
  lstmCellRef(s, z, c, gates, cNext, hNext);
  return { gates, cNext, hNext };
}

function finite(label: string, xs: Float32Array): void {
  const i = xs.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new Error(`${label}: non-finite value ${xs[i]} at [${i}]`);
}

/** Runs the GPU cell forward and backward on the given inputs and compares with the CPU. */
async function compare(
  gpu: Parameters<Parameters<typeof gpuTest>[1]>[0],
  s: LstmShape,
  z: Float32Array,
  c: Float32Array,
  dh: Float32Array,
  dcNext: Float32Array,
  hasDcNext: boolean,
  tol: { atol: number; rtol: number },
): Promise<void> {
  const k = await lstmKernels(gpu);
  const B = s.batch, H = s.hidden, n = B * H;
  const want = cellRef(s, z, c);
  const wantDz = new Float32Array(4 * n), wantDc = new Float32Array(n);
  lstmCellBackwardRef(s, want.gates, c, want.cNext, dh, hasDcNext ? dcNext : null, wantDz, wantDc);

  const gz = tensor(gpu, [B, 4 * H], "z", z), gc = tensor(gpu, [B, H], "c", c);
  const gGates = tensor(gpu, [B, 4 * H], "gates"), gcn = tensor(gpu, [B, H], "cNext");
  const ghn = tensor(gpu, [B, H], "hNext"), gdh = tensor(gpu, [B, H], "dh", dh);
  // When hasDcNext is false, garbage in dc must be ignored.
  const gdc = tensor(gpu, [B, H], "dc", hasDcNext ? dcNext : randomArray(n, 99, -1e3, 1e3));
  const gdz = tensor(gpu, [B, 4 * H], "dz", randomArray(4 * n, 98));
  run(gpu, [
    bindLstmCell(gpu, k, s, gz, gc, gGates, gcn, ghn),
    bindLstmCellBackward(gpu, k, s, gGates, gc, gcn, gdh, gdc, gdz, hasDcNext),
  ]);
  const rb = new Readback(gpu);
  const [gates, cNext, hNext, dz, dc] = await rb.read([gGates, gcn, ghn, gdz, gdc]);
  rb.destroy();
  const tag = `${JSON.stringify(s)} hasDcNext=${hasDcNext}`;
  for (
    const [l, v] of [["gates", gates], ["cNext", cNext], ["hNext", hNext], ["dz", dz]] as const
  ) {
    finite(`${l} ${tag}`, v);
  }
  assertClose(gates, want.gates, { ...tol, label: `gates ${tag}` });
  assertClose(cNext, want.cNext, { ...tol, label: `cNext ${tag}` });
  assertClose(hNext, want.hNext, { ...tol, label: `hNext ${tag}` });
  assertClose(dz, wantDz, { ...tol, label: `dz ${tag}` });
  assertClose(dc, wantDc, { ...tol, label: `dc ${tag}` });
}

gpuTest("lstm cell forward and backward match the CPU reference", async (gpu) => {
  let seed = 1;
  for (const s of shapes) {
    const n = s.batch * s.hidden;
    for (const hasDcNext of [true, false]) {
      await compare(
        gpu,
        s,
        randomArray(4 * n, seed++, -3, 3),
        randomArray(n, seed++, -2, 2),
        randomArray(n, seed++),
        randomArray(n, seed++),
        hasDcNext,
        { atol: 1e-5, rtol: 1e-4 },
      );
    }
  }
});

gpuTest("lstm cell stays finite and exact with saturated gates", async (gpu) => {
  const s = { batch: 5, hidden: 13 };
  const n = s.batch * s.hidden;
  // Pre-activations of ±80 and ±1e4 saturate every gate; c of ±1e3 saturates tanh(c').
  const z = randomArray(4 * n, 7, -1, 1).map((v, i) => Math.sign(v) * (i % 3 === 0 ? 1e4 : 80));
  const c = randomArray(n, 8, -1e3, 1e3);
  await compare(gpu, s, z, c, randomArray(n, 9), randomArray(n, 10), true, {
    atol: 1e-6,
    rtol: 1e-5,
  });
  const want = cellRef(s, z, c);
  // The inputs really saturate: every gate is within 1e-30 of 0 or ±1 (σ(−80) ≈ 1.8e-35).
  for (const g of want.gates) {
    if (Math.min(Math.abs(g), 1 - Math.abs(g)) > 1e-30) throw new Error(`gate ${g} not saturated`);
  }
});

Deno.test("lstm cell backward matches finite differences", () => {
  const s = { batch: 3, hidden: 4 };
  const n = 12;
  const z = randomArray(4 * n, 21, -2, 2), c = randomArray(n, 22, -1.5, 1.5);
  const ph = randomArray(n, 23), pc = randomArray(n, 24);
  // L = Σ ph·h' + Σ pc·c', so dL/dh' = ph and dL/dc' = pc.
  const loss = () => {
    const { cNext, hNext } = cellRef(s, z, c);
    return dot(hNext, ph) + dot(cNext, pc);
  };
  const { gates, cNext } = cellRef(s, z, c);
  const dz = new Float32Array(4 * n), dc = new Float32Array(n);
  lstmCellBackwardRef(s, gates, c, cNext, ph, pc, dz, dc);
  const tol = { atol: 1e-4, rtol: 1e-2 };
  assertClose(dz, finiteDiff(z, loss, 1e-2), { ...tol, label: "dz" });
  assertClose(dc, finiteDiff(c, loss, 1e-2), { ...tol, label: "dc" });

  // Without dc' only the h' path contributes.
  const lossH = () => dot(cellRef(s, z, c).hNext, ph);
  lstmCellBackwardRef(s, gates, c, cNext, ph, null, dz, dc);
  assertClose(dz, finiteDiff(z, lossH, 1e-2), { ...tol, label: "dz (no dc')" });
  assertClose(dc, finiteDiff(c, lossH, 1e-2), { ...tol, label: "dc (no dc')" });
});

Deno.test("lstm backward through two steps carries dc in place (finite differences)", () => {
  const s = { batch: 2, hidden: 3 };
  const n = 6;
  const z1 = randomArray(4 * n, 31, -2, 2), z2 = randomArray(4 * n, 32, -2, 2);
  const c0 = randomArray(n, 33);
  const p1 = randomArray(n, 34), p2 = randomArray(n, 35);
  // Loss reads h after both steps; c flows from step 1 into step 2.
  const loss = () => {
    const a = cellRef(s, z1, c0);
    const b = cellRef(s, z2, a.cNext);
    return dot(a.hNext, p1) + dot(b.hNext, p2);
  };
  const a = cellRef(s, z1, c0), b = cellRef(s, z2, a.cNext);
  const dz1 = new Float32Array(4 * n), dz2 = new Float32Array(4 * n), dc = new Float32Array(n);
  lstmCellBackwardRef(s, b.gates, a.cNext, b.cNext, p2, null, dz2, dc);
  lstmCellBackwardRef(s, a.gates, c0, a.cNext, p1, dc, dz1, dc); // dc updated in place
  const tol = { atol: 1e-4, rtol: 1e-2 };
  assertClose(dz2, finiteDiff(z2, loss, 1e-2), { ...tol, label: "dz step 2" });
  assertClose(dz1, finiteDiff(z1, loss, 1e-2), { ...tol, label: "dz step 1" });
  assertClose(dc, finiteDiff(c0, loss, 1e-2), { ...tol, label: "dc0" });
});

gpuTest("lstm backward through two steps on the GPU matches the CPU chain", async (gpu) => {
  const k = await lstmKernels(gpu);
  const s = { batch: 130, hidden: 19 };
  const B = s.batch, H = s.hidden, n = B * H;
  const z1 = randomArray(4 * n, 41, -3, 3), z2 = randomArray(4 * n, 42, -3, 3);
  const c0 = randomArray(n, 43), p1 = randomArray(n, 44), p2 = randomArray(n, 45);
  const a = cellRef(s, z1, c0), b = cellRef(s, z2, a.cNext);
  const dz1 = new Float32Array(4 * n), dz2 = new Float32Array(4 * n), dc = new Float32Array(n);
  lstmCellBackwardRef(s, b.gates, a.cNext, b.cNext, p2, null, dz2, dc);
  lstmCellBackwardRef(s, a.gates, c0, a.cNext, p1, dc, dz1, dc);

  const t = (shape: number[], label: string, data?: Float32Array) =>
    tensor(gpu, shape, label, data);
  const gz1 = t([B, 4 * H], "z1", z1), gz2 = t([B, 4 * H], "z2", z2), gc0 = t([B, H], "c0", c0);
  const g1 = t([B, 4 * H], "gates1"), g2 = t([B, 4 * H], "gates2");
  const gc1 = t([B, H], "c1"), gc2 = t([B, H], "c2"), gh1 = t([B, H], "h1"), gh2 = t([B, H], "h2");
  const gp1 = t([B, H], "dh1", p1), gp2 = t([B, H], "dh2", p2), gdc = t([B, H], "dc");
  const gdz1 = t([B, 4 * H], "dz1"), gdz2 = t([B, 4 * H], "dz2");
  run(gpu, [
    bindLstmCell(gpu, k, s, gz1, gc0, g1, gc1, gh1),
    bindLstmCell(gpu, k, s, gz2, gc1, g2, gc2, gh2),
    bindLstmCellBackward(gpu, k, s, g2, gc1, gc2, gp2, gdc, gdz2, false),
    bindLstmCellBackward(gpu, k, s, g1, gc0, gc1, gp1, gdc, gdz1, true),
  ]);
  const rb = new Readback(gpu);
  const [h2, gotDz2, gotDz1, gotDc] = await rb.read([gh2, gdz2, gdz1, gdc]);
  rb.destroy();
  const tol = { atol: 1e-5, rtol: 1e-4 };
  assertClose(h2, b.hNext, { ...tol, label: "h2" });
  assertClose(gotDz2, dz2, { ...tol, label: "dz2" });
  assertClose(gotDz1, dz1, { ...tol, label: "dz1" });
  assertClose(gotDc, dc, { ...tol, label: "dc0" });
});
