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

/**
 * Environment variable naming another folder for the four files (a machine without the Debian
 * package, or a test that needs them absent).
 */
export const FASHION_MNIST_DIR_ENV = "GLIMPSE_FASHION_MNIST_DIR";

/** The folder `--dataset fashion-mnist` reads: $GLIMPSE_FASHION_MNIST_DIR, else Debian's. */
export function fashionMnistDir(): string {
  try {
    return Deno.env.get(FASHION_MNIST_DIR_ENV) || FASHION_MNIST_DIR;
  } catch {
    return FASHION_MNIST_DIR; // no env permission: the package's place
  }
}

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
 * Loads Fashion-MNIST from `dir` (default {@link fashionMnistDir}: $GLIMPSE_FASHION_MNIST_DIR or
 * {@link FASHION_MNIST_DIR}); when the files are not there the error names the Debian package to
 * install.
 *
 * @example
 * ```ts
 * import { fashionMnist } from "./fashion.ts";
 * const ds = await fashionMnist(); // 60,000 train and 10,000 test images of 28×28
 * ```
 */
export async function fashionMnist(dir: string = fashionMnistDir()): Promise<Dataset> {
  const probe = join(dir, `${IDX_FILES.trainImages}.gz`);
  try {
    await Deno.stat(probe);
  } catch {
    throw new Error(
      `fashion-mnist: ${probe} is missing; install Debian's package dataset-fashion-mnist ` +
        `(apt-get install dataset-fashion-mnist), set ${FASHION_MNIST_DIR_ENV} to a folder with ` +
        `the four idx files, or use --dataset idx:DIR`,
    );
  }
  return idxDataset(dir, { name: "fashion-mnist", classNames: FASHION_MNIST_CLASSES });
}
