/**
 * Fashion-MNIST (Xiao et al. 2017) from Debian's package dataset-fashion-mnist, which installs
 * the official 60,000/10,000 idx .gz files under /usr/share/datasets/fashion-mnist/.
 *
 * @module
 */
import { join } from "node:path";
import { IDX_FILES, idxDataset } from "./idx.ts";
import type { Dataset } from "./types.ts";

/** Where Debian's dataset-fashion-mnist puts the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** The ten Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/**
 * Loads Fashion-MNIST from `dir` (default {@link FASHION_MNIST_DIR}); when the files are not
 * there the error names the Debian package to install.
 *
 * @example
 * ```ts
 * import { fashionMnist } from "./fashion.ts";
 * const ds = await fashionMnist(); // 60,000 train and 10,000 test images of 28×28
 * ```
 */
export async function fashionMnist(dir: string = FASHION_MNIST_DIR): Promise<Dataset> {
  const probe = join(dir, `${IDX_FILES.trainImages}.gz`);
  try {
    await Deno.stat(probe);
  } catch {
    throw new Error(
      `fashion-mnist: ${probe} is missing; install Debian's package dataset-fashion-mnist ` +
        `(apt-get install dataset-fashion-mnist) or point --dataset idx:DIR at the four idx files`,
    );
  }
  return idxDataset(dir, { name: "fashion-mnist", classNames: FASHION_MNIST_CLASSES });
}
