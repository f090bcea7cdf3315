/**
 * Training progress on stderr: a bar redrawn in place when stderr is a terminal, plain lines
 * otherwise (logs, CI, pipes), so that a log file holds one readable line per epoch.
 *
 * @module
 */
import type { EpochMetrics, StepProgress } from "../run/trainer.ts";

const encoder = new TextEncoder();

/** Writes text to stderr (synchronously, so lines and the bar never interleave). */
export function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let done = 0;
  while (done < bytes.length) done += Deno.stderr.writeSync(bytes.subarray(done));
}

function pct(x: number | null): string {
  return x === null ? "–" : `${(100 * x).toFixed(2)}%`;
}

/** One line summing up an epoch. */
export function epochLine(m: EpochMetrics, epochs: number): string {
  const parts = [
    `epoch ${m.epoch}/${epochs}`,
    `loss ${m.loss.toFixed(4)} (nll ${m.nll.toFixed(4)}, baseline ${m.baseline.toFixed(4)}, ` +
    `reinforce ${m.reinforce.toFixed(4)})`,
    `train acc ${pct(m.train_accuracy)}`,
  ];
  if (m.validation_accuracy !== null) parts.push(`val acc ${pct(m.validation_accuracy)}`);
  if (m.test_error !== null) parts.push(`test error ${pct(m.test_error)}`);
  if (m.vae_loss !== null) parts.push(`vae ${m.vae_loss.toFixed(1)} (kl ${m.vae_kl!.toFixed(1)})`);
  parts.push(`${Math.round(m.images_per_second)} img/s`, `${m.seconds.toFixed(1)} s`);
  return parts.join("  ");
}

/** Renders trainer events. */
export class ProgressView {
  #bar = false;
  #last = 0;
  constructor(
    readonly terminal: boolean,
    readonly verbose: boolean,
    readonly write: (text: string) => void = writeStderr,
  ) {}

  /** After every step: redraws the bar (at most 10 times a second) or, verbose, a plain line. */
  step(p: StepProgress): void {
    const status = `loss ${p.loss.toFixed(4)}  acc ${pct(p.accuracy)}  ` +
      `${Math.round(p.imagesPerSecond)} img/s`;
    if (this.terminal) {
      const now = performance.now();
      if (now - this.#last < 100 && p.batch !== p.batches) return;
      this.#last = now;
      const width = 24, filled = Math.round((width * p.batch) / p.batches);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      this.write(`\r\x1b[2Kepoch ${p.epoch}/${p.epochs} ${bar} ${p.batch}/${p.batches}  ${status}`);
      this.#bar = true;
    } else if (this.verbose && (p.batch % Math.max(1, Math.ceil(p.batches / 10)) === 0)) {
      this.line(
        `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} step ${p.step}  ${status}`,
      );
    }
  }

  /** A passing status ("evaluating …"): in place of the bar on a terminal, a line if verbose. */
  status(text: string): void {
    if (this.terminal) {
      this.write(`\r\x1b[2K${text}`);
      this.#bar = true;
    } else if (this.verbose) this.line(text);
  }

  /** Prints a line, first clearing the bar. */
  line(text: string): void {
    if (this.#bar) this.write("\r\x1b[2K");
    this.#bar = false;
    this.write(text + "\n");
  }

  /** After every epoch. */
  epoch(m: EpochMetrics, epochs: number): void {
    this.line(epochLine(m, epochs));
  }
}
