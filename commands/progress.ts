/**
 * Progress on stderr, one style for train, probe, eval and compare: a bar redrawn in place when
 * stderr is a terminal (`label ████░░░░ done/total  rate  ETA m:ss`), plain lines otherwise (logs,
 * CI, pipes), so that a log file holds one readable line per epoch. The rate is recent (the last
 * few seconds), so the ETA follows a machine whose load changes.
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

/** Seconds as m:ss, or h:mm:ss from an hour on. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/**
 * The recent rate of a count (images, batches) and the time left at that rate: the rate is
 * measured over the samples of the last `window` seconds, so a slow start or a load change on
 * the machine fades out of the estimate.
 */
export class Meter {
  #samples: { t: number; done: number }[] = [];
  constructor(
    readonly total: number,
    readonly window = 5,
    readonly now: () => number = () => performance.now() / 1000,
  ) {}

  /** Records `done` units so far; returns the recent rate (units/s) and seconds left, or null. */
  update(done: number): { rate: number | null; eta: number | null } {
    const t = this.now();
    this.#samples.push({ t, done });
    while (this.#samples.length > 2 && t - this.#samples[1].t >= this.window) this.#samples.shift();
    const first = this.#samples[0];
    const dt = t - first.t, dn = done - first.done;
    if (!(dt > 0) || dn <= 0) return { rate: null, eta: null };
    const rate = dn / dt;
    return { rate, eta: Math.max(0, this.total - done) / rate };
  }
}

/** `label ████░░ done/total  extra  rate unit/s  ETA m:ss`: the one progress line. */
export function progressLine(
  label: string,
  done: number,
  total: number,
  rate: number | null,
  eta: number | null,
  unit: string,
  extra = "",
): string {
  const width = 24, filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : 0;
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const parts = [`${label} ${bar} ${done}/${total}`];
  if (extra) parts.push(extra);
  parts.push(rate === null ? `– ${unit}/s` : `${Math.round(rate)} ${unit}/s`);
  parts.push(`ETA ${eta === null ? "–" : clock(eta)}`);
  return parts.join("  ");
}

/**
 * A bar for a loop of known size (eval, compare, probe): redrawn at most 10 times a second on a
 * terminal, silent otherwise; `done()` clears it.
 */
export class ProgressBar {
  #meter: Meter;
  #last = -Infinity;
  #shown = false;
  constructor(
    readonly label: string,
    readonly total: number,
    readonly unit: string,
    readonly terminal: boolean = Deno.stderr.isTerminal(),
    readonly write: (text: string) => void = writeStderr,
  ) {
    this.#meter = new Meter(total);
  }

  /** `done` of `total` so far. */
  update(done: number, label = this.label): void {
    const { rate, eta } = this.#meter.update(done);
    if (!this.terminal) return;
    const now = performance.now();
    if (now - this.#last < 100 && done < this.total) return;
    this.#last = now;
    this.write(`\r\x1b[2K${progressLine(label, done, this.total, rate, eta, this.unit)}`);
    this.#shown = true;
  }

  /** Clears the bar (before printing results). */
  done(): void {
    if (this.#shown) this.write("\r\x1b[2K");
    this.#shown = false;
  }
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
  #meter: Meter | null = null;
  /** Images per batch, to show the recent rate in images/s; set once the config is resolved. */
  batchSize: number | null = null;
  constructor(
    readonly terminal: boolean,
    readonly verbose: boolean,
    readonly write: (text: string) => void = writeStderr,
  ) {}

  /** After every step: redraws the bar (at most 10 times a second) or, verbose, a plain line. */
  step(p: StepProgress): void {
    // batches of the whole run so far and in all: the ETA is to the end of training
    const total = p.epochs * p.batches, done = (p.epoch - 1) * p.batches + p.batch;
    if (this.#meter?.total !== total) this.#meter = new Meter(total);
    const { rate, eta } = this.#meter.update(done);
    const B = this.batchSize;
    const status = `loss ${p.loss.toFixed(4)}  acc ${pct(p.accuracy)}  ` +
      `${Math.round(p.imagesPerSecond)} img/s`;
    if (this.terminal) {
      const now = performance.now();
      if (now - this.#last < 100 && p.batch !== p.batches) return;
      this.#last = now;
      const line = progressLine(
        `epoch ${p.epoch}/${p.epochs}`,
        p.batch,
        p.batches,
        rate === null ? null : B ? rate * B : rate,
        eta,
        B ? "img" : "batch",
        `loss ${p.loss.toFixed(4)}  acc ${pct(p.accuracy)}`,
      );
      this.write(`\r\x1b[2K${line}`);
      this.#bar = true;
    } else if (this.verbose && (p.batch % Math.max(1, Math.ceil(p.batches / 10)) === 0)) {
      this.line(
        `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} step ${p.step}  ${status}` +
          `  ETA ${eta === null ? "–" : clock(eta)}`,
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
