/**
 * Test doubles for the trainer: a tiny deterministic {@link RamBackend} (softmax regression on
 * the pixels, the same classifier at every glimpse, Adam from kernels/adam_ref.ts) and a
 * two-class split of 4×4 images stored class by class like MNIST's.
 *
 * The fake also folds every noise value it is given into a parameter ("noise.trace"), so a
 * test comparing parameters checks that the first locations and policy noise match too.
 *
 * @module
 */
import type {
  Batch,
  ParamMap,
  RamBackend,
  Rollout,
  RolloutOptions,
  StepNoise,
  StepResult,
  TrainState,
} from "../ram/backend.ts";
import { type RamConfig, resolveRamConfig, type TrainConfig } from "../ram/config.ts";
import type { Episodes, RewardFn } from "../rewards/types.ts";
import type { Split } from "../datasets/types.ts";
import { adamRef } from "../kernels/adam_ref.ts";
import { Rng } from "../util/rng.ts";

/** The model config of the fake: 4×4 images, 2 classes, 3 glimpses. */
export const FAKE_CONFIG: RamConfig = resolveRamConfig({
  height: 4,
  width: 4,
  patch: 2,
  glimpses: 3,
  glimpseHidden: 4,
  locationHidden: 4,
  glimpseOut: 4,
  hidden: 4,
  policyHidden: 4,
  classes: 2,
});

/** Classification reward: 1 at the last glimpse when its argmax is the label. */
export const classificationReward: RewardFn = (e: Episodes) => {
  const r = new Float32Array(e.T * e.B);
  for (let b = 0; b < e.B; b++) {
    if (e.predictions[(e.T - 1) * e.B + b] === e.labels[b]) r[(e.T - 1) * e.B + b] = 1;
  }
  return r;
};

function clone(p: ParamMap): ParamMap {
  return new Map([...p].map(([n, t]) => [n, { shape: [...t.shape], data: t.data.slice() }]));
}

/** A deterministic stand-in for a RAM backend. */
export class FakeRam implements RamBackend {
  readonly name = "cpu" as const;
  readonly config: RamConfig;
  #p: ParamMap;
  #m: ParamMap;
  #v: ParamMap;
  #step = 0;
  /** Batch sizes seen by trainStep, in order. */
  readonly sizes: number[] = [];

  constructor(config: RamConfig = FAKE_CONFIG, seed = 1) {
    this.config = { ...config };
    const D = config.height * config.width, C = config.classes;
    const rng = Rng.derive(seed, 7);
    const make = (shape: number[], init: boolean) => {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (init) rng.fillUniform(data, -0.1, 0.1);
      return { shape, data };
    };
    const specs: [string, number[]][] = [["cls.weight", [C, D]], ["cls.bias", [C]], [
      "noise.trace",
      [2],
    ]];
    this.#p = new Map(specs.map(([n, s]) => [n, make(s, n !== "noise.trace")]));
    this.#m = new Map(specs.map(([n, s]) => [n, make(s, false)]));
    this.#v = new Map(specs.map(([n, s]) => [n, make(s, false)]));
  }

  #logp(batch: Batch): Float32Array {
    const D = this.config.height * this.config.width, C = this.config.classes;
    const W = this.#p.get("cls.weight")!.data, bias = this.#p.get("cls.bias")!.data;
    const out = new Float32Array(batch.size * C); // (B, C)
    for (let b = 0; b < batch.size; b++) {
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = bias[c];
        for (let d = 0; d < D; d++) s += W[c * D + d] * batch.images[b * D + d];
        out[b * C + c] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(out[b * C + c] - max);
      for (let c = 0; c < C; c++) out[b * C + c] -= max + Math.log(z);
    }
    return out;
  }

  #episodes(batch: Batch, logp: Float32Array, start: Float32Array): Episodes {
    const T = this.config.glimpses, C = this.config.classes, B = batch.size;
    const probs = new Float32Array(T * B * C), predictions = new Int32Array(T * B);
    const locations = new Float32Array(T * B * 2);
    for (let t = 0; t < T; t++) {
      locations.set(start, t * B * 2);
      for (let b = 0; b < B; b++) {
        let best = 0;
        for (let c = 0; c < C; c++) {
          probs[(t * B + b) * C + c] = Math.exp(logp[b * C + c]);
          if (logp[b * C + c] > logp[b * C + best]) best = c;
        }
        predictions[t * B + b] = best;
      }
    }
    return { T, B, C, probs, labels: batch.labels, predictions, locations };
  }

  async trainStep(
    batch: Batch,
    reward: RewardFn,
    noise: StepNoise,
    train: TrainConfig,
  ): Promise<StepResult> {
    const B = batch.size, D = this.config.height * this.config.width, C = this.config.classes;
    const T = this.config.glimpses;
    if (batch.images.length !== B * D || batch.labels.length !== B) throw new Error("bad batch");
    if (noise.start.length !== 2 * B || noise.policy.length !== (T - 1) * B * 2) {
      throw new Error("bad noise");
    }
    this.sizes.push(B);
    const logp = this.#logp(batch);
    const rewards = await reward(this.#episodes(batch, logp, noise.start));
    let nll = 0, correct = 0, total = 0;
    const gW = new Float32Array(C * D), gb = new Float32Array(C);
    for (let b = 0; b < B; b++) {
      const y = batch.labels[b];
      nll -= logp[b * C + y];
      let best = 0;
      for (let c = 0; c < C; c++) {
        if (logp[b * C + c] > logp[b * C + best]) best = c;
        const g = (Math.exp(logp[b * C + c]) - (c === y ? 1 : 0)) / B;
        gb[c] += g;
        for (let d = 0; d < D; d++) gW[c * D + d] += g * batch.images[b * D + d];
      }
      if (best === y) correct++;
      for (let t = 0; t < T; t++) total += rewards[t * B + b];
    }
    let ns = 0, np = 0;
    for (const v of noise.start) ns += v;
    for (const v of noise.policy) np += v;
    const gTrace = new Float32Array([-ns, -np]);
    this.#step++;
    for (
      const [name, g] of [["cls.weight", gW], ["cls.bias", gb], ["noise.trace", gTrace]] as const
    ) {
      adamRef(
        this.#p.get(name)!.data,
        g,
        this.#m.get(name)!.data,
        this.#v.get(name)!.data,
        this.#step,
        {
          lr: train.lr,
        },
      );
    }
    nll /= B;
    return {
      nll,
      baseline: 0,
      reinforce: 0,
      loss: nll,
      accuracy: correct / B,
      reward: total / B,
    };
  }

  rollout(batch: Batch, options: RolloutOptions): Promise<Rollout> {
    const B = batch.size;
    const start = options.start ?? new Float32Array(2 * B);
    const logp1 = this.#logp(batch);
    const T = this.config.glimpses, C = this.config.classes;
    const logp = new Float32Array(T * B * C);
    for (let t = 0; t < T; t++) logp.set(logp1, t * B * C);
    return Promise.resolve({
      ...this.#episodes(batch, logp1, start),
      logp,
      hidden: new Float32Array(T * B * this.config.hidden),
    });
  }

  getState(): Promise<TrainState> {
    return Promise.resolve({
      params: clone(this.#p),
      adamM: clone(this.#m),
      adamV: clone(this.#v),
      step: this.#step,
    });
  }

  setState(state: TrainState): void {
    for (
      const [dst, src] of [[this.#p, state.params], [this.#m, state.adamM], [this.#v, state.adamV]]
    ) {
      for (const [name, t] of dst) {
        const s = src.get(name);
        if (!s || s.data.length !== t.data.length) throw new Error(`setState: bad tensor ${name}`);
        t.data.set(s.data);
      }
    }
    this.#step = state.step;
  }

  dispose(): void {}
}

/** A split that records every index it was asked to fill. */
export interface RecordingSplit extends Split {
  readonly filled: number[];
}

/**
 * `n` 4×4 images of two classes, stored class by class (the first half is class 0): class 0
 * is bright in the top half, class 1 in the bottom half, both with seeded noise.
 */
export function fakeSplit(n: number, seed = 3): RecordingSplit {
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i < n / 2 ? 0 : 1;
  const pixels = new Float32Array(n * 16);
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 16; p++) {
      const top = p < 8;
      const bright = (labels[i] === 0) === top;
      pixels[i * 16 + p] = Math.min(
        1,
        Math.max(0, (bright ? 0.6 : 0.3) + 0.4 * (rng.next() - 0.5)),
      );
    }
  }
  const filled: number[] = [];
  return {
    size: n,
    labels,
    filled,
    fill(indices, _epoch, images) {
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        if (!(i >= 0 && i < n)) throw new Error(`fake split: index ${i}`);
        filled.push(i);
        images.set(pixels.subarray(i * 16, (i + 1) * 16), j * 16);
      }
    },
  };
}
