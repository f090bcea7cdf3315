import { patchOrigin, retinaRef, type RetinaShape, retinaSize } from "../kernels/retina_ref.ts";
import { bindRetina, retinaKernel } from "../kernels/retina.ts";
import { run } from "../gpu/kernel.ts";
import { read, tensor } from "../gpu/tensor.ts";
import { assertClose, randomArray } from "./_assert.ts";
import { gpuTest } from "./_gpu.ts";

const GEOMETRIES: RetinaShape[] = [
  { height: 28, width: 28, patch: 8, scales: 1, scale: 2 }, // the default
  { height: 60, width: 60, patch: 12, scales: 3, scale: 2 }, // translated MNIST
  { height: 20, width: 33, patch: 5, scales: 2, scale: 3 }, // odd sides, not square
];

/** Corners, centre, edges, out of the image, then random locations inside it. */
function locationsFor(B: number, seed: number): Float32Array {
  const fixed = [
    [-1, -1],
    [1, 1],
    [-1, 1],
    [1, -1],
    [0, 0],
    [3, -3], // entirely outside: zeros
    [-2.5, 0.2],
    [0.5, -0.5],
    [1, 0],
  ];
  const loc = randomArray(2 * B, seed, -1, 1);
  for (let b = 0; b < Math.min(B, fixed.length); b++) loc.set(fixed[b], 2 * b);
  return loc;
}

for (const r of GEOMETRIES) {
  const name = `${r.height}×${r.width} g=${r.patch} k=${r.scales} s=${r.scale}`;
  gpuTest(
    `retina ${name} matches the CPU reference at corners, centre and outside`,
    async (gpu) => {
      const kernel = await retinaKernel(gpu);
      for (const B of [1, 5, 130]) {
        const images = randomArray(B * r.height * r.width, B + r.width, 0, 1);
        const loc = locationsFor(B, 2 * B + r.height);
        const per = retinaSize(r);
        const want = new Float32Array(B * per);
        retinaRef(r, B, images, loc, want);
        const out = tensor(gpu, [B, per], "glimpse", randomArray(B * per, 3)); // stale values
        run(gpu, [
          bindRetina(
            gpu,
            kernel,
            r,
            B,
            tensor(gpu, [B, r.height, r.width], "images", images),
            tensor(gpu, [B, 2], "loc", loc),
            out,
          ),
        ]);
        const got = await read(gpu, out);
        assertClose(got, want, { atol: 1e-6, rtol: 1e-5, label: `retina ${name} B=${B}` });
        if (B > 5 && got.subarray(5 * per, 6 * per).some((v) => v !== 0)) {
          throw new Error(`retina ${name}: a glimpse outside the image is not all zeros`);
        }
      }
    },
  );
}

Deno.test("retinaRef reads columns with lx and rows with ly, zero outside", () => {
  // Pixel value = 100·row + column on a 6×6 image; g = 2, two scales at the top edge.
  const r = { height: 6, width: 6, patch: 2, scales: 2, scale: 2 };
  const img = Float32Array.from({ length: 36 }, (_, i) => 100 * Math.floor(i / 6) + (i % 6));
  const out = new Float32Array(retinaSize(r));
  // lx = −0.25 → centre column floor(0.375·6) = 2; ly = −1 → centre row 0.
  const loc = Float32Array.from([-0.25, -1]);
  assertClose(patchOrigin(r, loc[0], loc[1], 0), [1, -1], { atol: 0, label: "origin" });
  retinaRef(r, 1, img, loc, out);
  // Scale 0: rows −1 (zeros) and 0, columns 1 and 2.
  assertClose(out.subarray(0, 4), [0, 0, 1, 2], { atol: 1e-6, label: "scale 0" });
  // Scale 1: side 4 from column 0 and row −2; each output pixel averages a 2×2 block.
  const block = (y: number, x: number) =>
    [0, 1].flatMap((dy) => [0, 1].map((dx) => [y + dy, x + dx]))
      .map(([yy, xx]) => (yy >= 0 && yy < 6 && xx >= 0 && xx < 6 ? 100 * yy + xx : 0))
      .reduce((a, b) => a + b) / 4;
  assertClose(out.subarray(4, 8), [block(-2, 0), block(-2, 2), block(0, 0), block(0, 2)], {
    atol: 1e-6,
    label: "scale 1",
  });
});

gpuTest("retina rejects short tensors and bad geometry", async (gpu) => {
  const kernel = await retinaKernel(gpu);
  const r = GEOMETRIES[0];
  const images = tensor(gpu, [2, 28, 28], "images"), loc = tensor(gpu, [2, 2], "loc");
  const cases: [string, () => unknown][] = [
    ["short output", () => bindRetina(gpu, kernel, r, 2, images, loc, tensor(gpu, [64], "o"))],
    ["short images", () => bindRetina(gpu, kernel, r, 3, images, loc, tensor(gpu, [192], "o"))],
    [
      "zero patch",
      () => bindRetina(gpu, kernel, { ...r, patch: 0 }, 2, images, loc, tensor(gpu, [8], "o")),
    ],
  ];
  for (const [what, f] of cases) {
    let threw = false;
    try {
      f();
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`expected an error for ${what}`);
  }
});
