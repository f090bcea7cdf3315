/**
 * What every dataset provides to the trainer, evaluator and explainer.
 *
 * Samples may be generated on the fly (translated and cluttered variants): `fill` writes a
 * batch for given sample indices and epoch, deterministically from (seed, epoch, index).
 *
 * @module
 */

/** One split (train or test) of a dataset. */
export interface Split {
  /** Number of samples. */
  readonly size: number;
  /** Labels of all samples, (size). */
  readonly labels: Int32Array;
  /**
   * Writes samples `indices` of `epoch` into `images` (n, height, width), values in [0, 1],
   * and, when `clean` is given, the clean centred 28×28 digit of each into `clean` (n, 28, 28)
   * (the VAE's target).
   */
  fill(indices: ArrayLike<number>, epoch: number, images: Float32Array, clean?: Float32Array): void;
}

/** A dataset: geometry, classes and its two splits. */
export interface Dataset {
  /** Name as given on the command line, e.g. "mnist" or "mnist/cluttered-60". */
  readonly name: string;
  /** Input height and width in pixels (one channel). */
  readonly height: number;
  /** Input width in pixels. */
  readonly width: number;
  /** Number of classes and their names. */
  readonly classes: number;
  /** A display name per class, e.g. "0".."9" or "T-shirt/top". */
  readonly classNames: readonly string[];
  /** The training split. */
  readonly train: Split;
  /** The test split. */
  readonly test: Split;
}
