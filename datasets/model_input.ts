/**
 * A decoded image made into a model's input, for `explain`: the model sees (height, width)
 * values in [0, 1], white ink on black.
 *
 * - Fitted (the default): MNIST-style (datasets/fit.ts: a light background is inverted, the
 *   ink scaled into a 20×20 box and centred by mass in 28×28). A model on a larger canvas
 *   (translated or cluttered MNIST) was trained on 28×28 digits placed on a black canvas, so the
 *   fitted 28×28 digit is placed at the canvas centre; it is also the clean digit the VAE probe
 *   reconstructs.
 * - Not fitted: the grey image as it is, resampled (area average) to the input size when its
 *   size differs: for images that already look like the model's data (an MNIST test digit, a
 *   cluttered canvas written by `deno task data examples`).
 *
 * @module
 */
import { fitDigit, type FittedDigit } from "./fit.ts";
import { resampleArea } from "./split.ts";
import type { GreyImage } from "./image.ts";

/** Side of the digit box of MNIST-style fitting, and of the probe's clean target. */
export const DIGIT_SIDE = 28;

/** What {@link toModelInput} made. */
export interface ModelInput {
  /** (height, width) in [0, 1]. */
  input: Float32Array;
  /** The fitted digit (28, 28) when the input is a larger canvas with it at the centre. */
  clean?: Float32Array;
  /** How the image was turned into the input, for messages. */
  how: string;
}

/**
 * Turns `image` into a (height, width) input.
 *
 * @example
 * ```ts
 * import { toModelInput } from "./model_input.ts";
 * const paper = { width: 50, height: 40, data: new Float32Array(2000).fill(1) };
 * for (let y = 5; y < 35; y++) paper.data[y * 50 + 25] = 0; // a dark stroke on white
 * const { input } = toModelInput(paper, 28, 28, true); // a white "1" on black, centred
 * ```
 */
export function toModelInput(
  image: GreyImage,
  height: number,
  width: number,
  fit: boolean,
): ModelInput {
  const { width: w, height: h, data } = image;
  if (!fit) {
    if (w === width && h === height) {
      return { input: Float32Array.from(data), how: `as is (${w}×${h})` };
    }
    return {
      input: resampleArea(data, w, h, new Float32Array(width * height), width, height),
      how: `resampled from ${w}×${h} to ${width}×${height}, not fitted`,
    };
  }
  if (height < DIGIT_SIDE || width < DIGIT_SIDE) {
    const fitted = fitDigit(data, w, h, width, height);
    return {
      input: fitted.image,
      how: `fitted MNIST-style from ${w}×${h} to ${width}×${height}${thickened(fitted)}`,
    };
  }
  const fitted = fitDigit(data, w, h, DIGIT_SIDE, DIGIT_SIDE);
  const digit = fitted.image;
  if (height === DIGIT_SIDE && width === DIGIT_SIDE) {
    return { input: digit, how: `fitted MNIST-style from ${w}×${h} to 28×28${thickened(fitted)}` };
  }
  const input = new Float32Array(width * height);
  const x0 = Math.floor((width - DIGIT_SIDE) / 2), y0 = Math.floor((height - DIGIT_SIDE) / 2);
  for (let y = 0; y < DIGIT_SIDE; y++) {
    input.set(digit.subarray(y * DIGIT_SIDE, (y + 1) * DIGIT_SIDE), (y0 + y) * width + x0);
  }
  return {
    input,
    clean: digit,
    how: `fitted MNIST-style from ${w}×${h} to 28×28${thickened(fitted)}, placed at the ` +
      `centre of the ${width}×${height} canvas`,
  };
}

/** Says how thin strokes were thickened, when they were. */
function thickened(f: FittedDigit): string {
  return f.thickenedPx > 0
    ? ` (strokes ${f.strokePx.toFixed(1)} px wide, thickened by ${f.thickenedPx.toFixed(1)} px)`
    : "";
}
