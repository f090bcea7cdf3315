/**
 * Host-side cost of one training batch (128 samples) of each dataset variant: how much of a
 * training step the data pipeline takes. Bytes written per batch: 128·H·W·4 for the images
 * plus 128·784·4 for the clean targets (60×60: 1.8 MB + 0.4 MB).
 */
import { loadDataset } from "../datasets/load.ts";
import { noisySplit } from "../datasets/noise.ts";
import { benchNeeds } from "./_needs.ts";

if (benchNeeds("bench/datasets_bench.ts", ["read"])) {
  const B = 128;
  const plain = await loadDataset("mnist");
  const translated = await loadDataset("mnist", { variant: "translated" });
  const cluttered60 = await loadDataset("mnist", { variant: "cluttered" });
  const cluttered100 = await loadDataset("mnist", { variant: "cluttered", canvas: 100 });
  const indices = Array.from({ length: B }, (_, j) => (j * 61) % plain.train.size);
  const clean = new Float32Array(B * 784);

  for (
    const [ds, baseline] of [[plain, true], [translated, false], [cluttered60, false], [
      cluttered100,
      false,
    ]] as const
  ) {
    const images = new Float32Array(B * ds.height * ds.width);
    let epoch = 0;
    Deno.bench({
      name: ds.name,
      group: "fill 128 samples + clean targets",
      baseline,
      fn: () => ds.train.fill(indices, epoch++, images, clean),
    });
  }

  const noisy = noisySplit(cluttered60.test, { kind: "gaussian", level: 0.2 }, 1, 3600);
  const images60 = new Float32Array(B * 3600);
  Deno.bench({
    name: "mnist/cluttered-60 + gaussian σ=0.2",
    group: "fill 128 samples + clean targets",
    fn: () => noisy.fill(indices.map((i) => i % noisy.size), 0, images60, clean),
  });
}
