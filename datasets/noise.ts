/**
 * Noise stress tests (`eval --noise gaussian:0.1,0.2,0.4` or `salt-pepper:0.05,0.1`): additive
 * Gaussian noise of standard deviation σ clipped to [0, 1], or salt-and-pepper noise that sets
 * a fraction p of the pixels to 0 or 1 (half each). The noise of sample j at epoch e is drawn
 * from (seed, e, j), so every evaluation sees the same noisy images; the clean VAE target stays
 * clean.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import type { Dataset, Split } from "./types.ts";

/** The noise kinds. */
export type NoiseKind = "gaussian" | "salt-pepper";

/** The valid noise kinds. */
export const NOISE_KINDS: readonly NoiseKind[] = ["gaussian", "salt-pepper"];

/** One noise level: σ for gaussian, the corrupted fraction p for salt-pepper. */
export interface NoiseLevel {
  readonly kind: NoiseKind;
  readonly level: number;
}

/**
 * Parses `kind:l1,l2,…`, several of them joined by ";" (e.g.
 * "gaussian:0.1,0.2;salt-pepper:0.05"), into one {@link NoiseLevel} per level.
 *
 * @example
 * ```ts
 * import { parseNoise } from "./noise.ts";
 * parseNoise("gaussian:0.1,0.2,0.4");
 * // [{ kind: "gaussian", level: 0.1 }, { kind: "gaussian", level: 0.2 }, { kind: "gaussian", level: 0.4 }]
 * ```
 */
export function parseNoise(spec: string): NoiseLevel[] {
  const out: NoiseLevel[] = [];
  for (const part of spec.split(";").map((s) => s.trim())) {
    const m = /^([a-z-]+):(.+)$/.exec(part);
    if (!m) {
      throw new Error(
        `--noise "${part}": expected KIND:LEVEL[,LEVEL…] with KIND one of ${
          NOISE_KINDS.join(", ")
        }`,
      );
    }
    const kind = m[1] as NoiseKind;
    if (!NOISE_KINDS.includes(kind)) {
      throw new Error(`--noise: unknown kind "${m[1]}": use one of ${NOISE_KINDS.join(", ")}`);
    }
    for (const text of m[2].split(",").map((s) => s.trim())) {
      const level = Number(text);
      const max = kind === "gaussian" ? Infinity : 1;
      if (text === "" || !Number.isFinite(level) || level < 0 || level > max) {
        throw new Error(
          `--noise ${kind}: level "${text}" must be a number ${
            kind === "gaussian" ? "≥ 0 (σ)" : "in [0, 1] (fraction of pixels)"
          }`,
        );
      }
      out.push({ kind, level });
    }
  }
  return out;
}

/** Short label of a level for tables and file names, e.g. "gaussian σ=0.1". */
export function noiseLabel(n: NoiseLevel): string {
  return n.kind === "gaussian" ? `gaussian σ=${n.level}` : `salt-pepper p=${n.level}`;
}

/** Adds noise of `n` to `image` in place with values drawn from `rng`, clipped to [0, 1]. */
export function addNoise(image: Float32Array, n: NoiseLevel, rng: Rng): Float32Array {
  if (n.level === 0) return image;
  if (n.kind === "gaussian") {
    for (let p = 0; p < image.length; p++) {
      image[p] = Math.min(1, Math.max(0, image[p] + n.level * rng.normal()));
    }
  } else {
    for (let p = 0; p < image.length; p++) {
      if (rng.next() < n.level) image[p] = rng.next() < 0.5 ? 0 : 1;
    }
  }
  return image;
}

/**
 * The samples of `split` (images of `pixels` = height·width values) with noise `n` added; the
 * clean target is left untouched.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./load.ts";
 * import { noisySplit, parseNoise } from "./noise.ts";
 * const ds = await loadDataset("mnist-10k");
 * const [level] = parseNoise("gaussian:0.2");
 * const noisy = noisySplit(ds.test, level, 1, ds.height * ds.width);
 * const x = new Float32Array(784);
 * noisy.fill([0], 0, x);
 * ```
 */
export function noisySplit(split: Split, n: NoiseLevel, seed: number, pixels: number): Split {
  const kindTag = NOISE_KINDS.indexOf(n.kind);
  return {
    size: split.size,
    labels: split.labels,
    fill(indices, epoch, images, clean) {
      split.fill(indices, epoch, images, clean);
      if (n.level === 0) return;
      for (let j = 0; j < indices.length; j++) {
        // the level is part of the stream key so that σ=0.1 and σ=0.2 draw independent noise
        const rng = Rng.derive(
          seed,
          0x4015e,
          kindTag,
          Math.round(n.level * 1e6),
          epoch,
          indices[j],
        );
        addNoise(images.subarray(j * pixels, (j + 1) * pixels), n, rng);
      }
    },
  };
}

/**
 * `ds` with noise `n` on both splits (and on `validation` when present), named e.g.
 * "mnist+gaussian-0.2".
 */
export function withNoise<D extends Dataset & { validation?: Split }>(
  ds: D,
  n: NoiseLevel,
  seed: number,
): D {
  const pixels = ds.height * ds.width;
  return {
    ...ds,
    name: `${ds.name}+${n.kind}-${n.level}`,
    train: noisySplit(ds.train, n, seed, pixels),
    test: noisySplit(ds.test, n, seed, pixels),
    validation: ds.validation && noisySplit(ds.validation, n, seed, pixels),
  };
}
