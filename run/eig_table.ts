/**
 * The EIG table of shared DESIGN.md "Information gain": per glimpse t = 1..T of a split, the
 * accuracy of argmax p_t, the mean entropy H_t, the mean information gain IG_t = H_{t−1} − H_t
 * with its standard error, the mean cumulative gain H_0 − H_t, the mean KL(p_t ‖ p_{t−1}),
 * ln C − NLL_t (a lower bound on the information p_t holds about the class, I(Y; p_t) ≥
 * H(Y) − E[−ln p_t(y)], with H(Y) = ln C for balanced classes) with its standard error, the mean
 * confidence max_c p_t(c) and the expected calibration error (ECE: 15 equal-width confidence
 * bins, Σ_bins (n_bin/n)·|accuracy_bin − confidence_bin|), and, when a VAE probe is given, the
 * mean reconstruction MSE. p_0 is the uniform prior, so H_0 = ln C; everything is in nats.
 *
 * Whose p_t: a table reads one set of beliefs. run/evaluate_eig.ts fills one for the RAM's head
 * (`rows`) and, when the run has a class probe, one for the probe (`classProbe`).
 *
 * {@link EigAccumulator} takes a rollout's per-glimpse log-probabilities batch by batch (so a
 * test set never has to be held at once); report/eig.ts renders the result
 * and writes eig.md, eig.csv and eig.json.
 *
 * Sums run in float64; the information gain's mean and variance use Welford's update, so the
 * standard error does not lose digits to cancellation over tens of thousands of samples.
 *
 * @module
 */
import { rowEntropy } from "../kernels/softmax_ref.ts";

/** One glimpse's row of the table (means over the samples). */
export interface EigRow {
  /** Glimpse t, 1-based. */
  glimpse: number;
  /** Fraction of samples whose argmax p_t (first index of the largest) is the label. */
  accuracy: number;
  /** Mean H_t = −Σ_c p_t(c) ln p_t(c). */
  entropy: number;
  /** Mean IG_t = H_{t−1} − H_t (H_0 = ln C). */
  infoGain: number;
  /** Standard error of {@link EigRow.infoGain}: sample standard deviation / √n; null if n < 2. */
  infoGainSe: number | null;
  /** Mean H_0 − H_t. */
  cumulativeGain: number;
  /** Mean KL(p_t ‖ p_{t−1}) = Σ_c p_t(c)·(ln p_t(c) − ln p_{t−1}(c)), p_0 uniform. */
  klPrev: number;
  /** Mean per-sample reconstruction MSE of the VAE probe from h_t; null without a probe. */
  reconMse: number | null;
  /** ln C − mean NLL_t, NLL_t = −ln p_t(y): a lower bound on the information about y. */
  infoBound: number;
  /** Standard error of {@link EigRow.infoBound}; null if n < 2. */
  infoBoundSe: number | null;
  /** Mean max_c p_t(c). */
  confidence: number;
  /** Expected calibration error over {@link ECE_BINS} equal-width confidence bins. */
  ece: number;
}

/** Confidence bins of the expected calibration error. */
export const ECE_BINS = 15;

/** A whole table. */
export interface EigTable {
  /** Samples the means are over. */
  samples: number;
  /** Classes C. */
  classes: number;
  /** H_0 = ln C. */
  priorEntropy: number;
  /** One row per glimpse, t = 1..T: the RAM head's beliefs. */
  rows: EigRow[];
  /**
   * The same rows for the class probe's beliefs (probe/cls.ts) on the same rollouts; null or
   * absent when the run has no class probe.
   */
  classProbe?: EigRow[] | null;
}

/**
 * Accumulates the EIG table over batches of rollouts.
 *
 * @example
 * ```ts
 * import { EigAccumulator } from "./eig_table.ts";
 * import { eigMarkdown } from "../report/eig.ts";
 * const acc = new EigAccumulator(2, 2); // T = 2 glimpses, C = 2 classes
 * // one sample: uniform after glimpse 1, certain of class 1 after glimpse 2; (T, B, C)
 * const logp = Float32Array.from([Math.log(0.5), Math.log(0.5), -1e4, 0]);
 * acc.add(logp, Int32Array.from([1]));
 * const table = acc.table();
 * // table.rows[1].infoGain ≈ ln 2, table.rows[1].accuracy === 1
 * console.log(eigMarkdown(table));
 * ```
 */
export class EigAccumulator {
  #n = 0;
  #withMse: boolean | null = null;
  readonly #correct: Float64Array; // (T)
  readonly #entropy: Float64Array; // (T) Σ H_t
  readonly #igMean: Float64Array; // (T) Welford mean of IG_t
  readonly #igM2: Float64Array; // (T) Welford Σ (IG − mean)²
  readonly #kl: Float64Array; // (T) Σ KL(p_t ‖ p_{t−1})
  readonly #mse: Float64Array; // (T) Σ MSE_t
  readonly #nllMean: Float64Array; // (T) Welford mean of −ln p_t(y)
  readonly #nllM2: Float64Array; // (T)
  readonly #conf: Float64Array; // (T) Σ max p_t
  readonly #binN: Float64Array; // (T, ECE_BINS) samples per confidence bin
  readonly #binConf: Float64Array; // (T, ECE_BINS) Σ confidence per bin
  readonly #binCorrect: Float64Array; // (T, ECE_BINS) correct per bin
  readonly #prior: number;

  constructor(readonly glimpses: number, readonly classes: number) {
    if (!Number.isInteger(glimpses) || glimpses < 1) {
      throw new Error(`EIG table: glimpses ${glimpses} must be a positive integer`);
    }
    if (!Number.isInteger(classes) || classes < 2) {
      throw new Error(`EIG table: classes ${classes} must be an integer ≥ 2`);
    }
    const T = glimpses;
    this.#correct = new Float64Array(T);
    this.#entropy = new Float64Array(T);
    this.#igMean = new Float64Array(T);
    this.#igM2 = new Float64Array(T);
    this.#kl = new Float64Array(T);
    this.#mse = new Float64Array(T);
    this.#nllMean = new Float64Array(T);
    this.#nllM2 = new Float64Array(T);
    this.#conf = new Float64Array(T);
    this.#binN = new Float64Array(T * ECE_BINS);
    this.#binConf = new Float64Array(T * ECE_BINS);
    this.#binCorrect = new Float64Array(T * ECE_BINS);
    this.#prior = Math.log(classes);
  }

  /** Samples added so far. */
  get samples(): number {
    return this.#n;
  }

  /**
   * Adds one batch: `logp` (T, B, C) log-probabilities of every glimpse (a rollout's `logp`),
   * `labels` (B), and optionally the probe's per-row reconstruction MSE (T, B) (what
   * probe/vae.ts reconstructionError returns for the rollout's hidden states). Either every
   * batch has reconstruction errors or none does.
   */
  add(logp: Float32Array, labels: Int32Array, mse?: Float32Array): void {
    const T = this.glimpses, C = this.classes, B = labels.length;
    if (logp.length !== T * B * C) {
      throw new Error(
        `EIG table: ${logp.length} log-probabilities for ${B} labels, expected ` +
          `T·B·C = ${T}·${B}·${C} = ${T * B * C}`,
      );
    }
    if (mse && mse.length !== T * B) {
      throw new Error(
        `EIG table: ${mse.length} reconstruction errors, expected T·B = ${T}·${B} = ${T * B}`,
      );
    }
    const withMse = mse !== undefined;
    if (this.#withMse !== null && this.#withMse !== withMse && B > 0) {
      throw new Error(
        "EIG table: reconstruction errors were given for some batches and not for others",
      );
    }
    if (B > 0) this.#withMse = withMse;
    for (let b = 0; b < B; b++) {
      const label = labels[b];
      if (!Number.isInteger(label) || label < 0 || label >= C) {
        throw new Error(`EIG table: label ${label} of sample ${b} is outside 0..${C - 1}`);
      }
      this.#n++;
      const n = this.#n;
      let prevH = this.#prior;
      for (let t = 0; t < T; t++) {
        const row = (t * B + b) * C, prevRow = ((t - 1) * B + b) * C;
        let kl = 0, best = 0;
        for (let c = 0; c < C; c++) {
          const lp = logp[row + c];
          if (Number.isNaN(lp) || lp > 1e-3) {
            throw new Error(
              `EIG table: log-probability ${lp} (glimpse ${t + 1}, sample ${b}, class ${c}) ` +
                "is not a log-probability",
            );
          }
          if (lp > logp[row + best]) best = c;
          const p = Math.exp(lp);
          if (p === 0) continue; // 0·ln 0 = 0, also when ln p_{t−1}(c) is −∞
          const lpPrev = t === 0 ? -this.#prior : logp[prevRow + c];
          kl += p * (lp - lpPrev);
        }
        const h = rowEntropy(logp, row, C);
        const right = best === label ? 1 : 0;
        this.#correct[t] += right;
        const conf = Math.exp(logp[row + best]);
        this.#conf[t] += conf;
        const bin = t * ECE_BINS + Math.min(ECE_BINS - 1, Math.floor(conf * ECE_BINS));
        this.#binN[bin]++;
        this.#binConf[bin] += conf;
        this.#binCorrect[bin] += right;
        const nll = -logp[row + label];
        const dn = nll - this.#nllMean[t];
        this.#nllMean[t] += dn / n;
        this.#nllM2[t] += dn * (nll - this.#nllMean[t]);
        this.#entropy[t] += h;
        this.#kl[t] += kl;
        const ig = prevH - h;
        const delta = ig - this.#igMean[t];
        this.#igMean[t] += delta / n;
        this.#igM2[t] += delta * (ig - this.#igMean[t]);
        if (mse) this.#mse[t] += mse[t * B + b];
        prevH = h;
      }
    }
  }

  /** The table of everything added; throws when nothing was. */
  table(): EigTable {
    const n = this.#n;
    if (n === 0) throw new Error("EIG table: no samples were added");
    const rows: EigRow[] = [];
    for (let t = 0; t < this.glimpses; t++) {
      const entropy = this.#entropy[t] / n;
      let ece = 0;
      for (let k = t * ECE_BINS; k < (t + 1) * ECE_BINS; k++) {
        if (this.#binN[k] > 0) ece += Math.abs(this.#binCorrect[k] - this.#binConf[k]) / n;
      }
      rows.push({
        glimpse: t + 1,
        accuracy: this.#correct[t] / n,
        entropy,
        infoGain: this.#igMean[t],
        infoGainSe: n >= 2 ? Math.sqrt(this.#igM2[t] / (n - 1) / n) : null,
        cumulativeGain: this.#prior - entropy,
        klPrev: this.#kl[t] / n,
        reconMse: this.#withMse ? this.#mse[t] / n : null,
        infoBound: this.#prior - this.#nllMean[t],
        infoBoundSe: n >= 2 ? Math.sqrt(this.#nllM2[t] / (n - 1) / n) : null,
        confidence: this.#conf[t] / n,
        ece,
      });
    }
    return { samples: n, classes: this.classes, priorEntropy: this.#prior, rows };
  }
}

/**
 * The table from one set of log-probabilities (T, N, C) and labels (N): a shorthand for an
 * {@link EigAccumulator} fed once.
 */
export function eigTable(
  glimpses: number,
  classes: number,
  logp: Float32Array,
  labels: Int32Array,
  mse?: Float32Array,
): EigTable {
  const acc = new EigAccumulator(glimpses, classes);
  acc.add(logp, labels, mse);
  return acc.table();
}
