/**
 * Writes the official MNIST split that `glimpse train --dataset mnist` uses as JSON on stdout:
 * the validation indices into the 60,000 training images (seeded, stratified, default 5,000),
 * so that bench/peer_idx.py trains the PyTorch peer on exactly the same 55,000 images.
 *
 * Usage: deno run -A bench/mnist_split.ts [--seed 1] [--validation 5000] > runs/mnist-split.json
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadOfficialMnist, MNIST_VALIDATION_DEFAULT } from "../datasets/mnist_official.ts";
import { holdOutIndices } from "../datasets/split.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: "1" },
    validation: { type: "string", default: String(MNIST_VALIDATION_DEFAULT) },
  },
});
const seed = Number(values.seed), amount = Number(values.validation);
if (!Number.isInteger(seed)) throw new Error(`bench/mnist_split.ts: --seed ${values.seed}`);
const { train } = await loadOfficialMnist();
const split = holdOutIndices(train.labels, amount, seed);
console.log(JSON.stringify({
  dataset: "mnist",
  seed,
  validation_amount: amount,
  train_images: split.train.length,
  validation: [...split.validation],
}));
