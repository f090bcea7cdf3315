/**
 * The RAM's forward and backward through time as WebGPU dispatches for one batch size: every
 * buffer and bind group is made once here, and a training step only uploads its inputs and
 * encodes the prepared dispatch lists. It mirrors ram/cpu_pass.ts (the reference) op for
 * op; read that file for the maths and the gradient routes.
 *
 * A step is three submissions: the forward (all T glimpses, policy and baseline) with one
 * readback of what the reward needs; the backward of the classification loss, which needs no
 * reward and is submitted while the readback is pending; and, once the rewards are in, the
 * REINFORCE/baseline backward, the bias-correction tick and one Adam update over the flat
 * parameter buffer (which also zeroes the gradients for the next step).
 *
 * Time-batched backward: when B is a multiple of {@link TIME_BATCH_ALIGN}, every per-glimpse
 * activation lives in one (T, B, F) buffer (each glimpse a view), so only the recurrence runs
 * glimpse by glimpse (dz_t and dh_{t−1} = dz_t·W_hh); every weight gradient is then one
 * product over all T·B rows (dW = dyᵀ·x with K = T·B), every bias gradient one column sum, and
 * the glimpse net's input gradients one product each. With the ReLU backwards fused into
 * those products (matmul masks) the backward is 37 dispatches at the default config, against
 * 173 glimpse by glimpse. Other batch sizes (a short last batch) keep one dispatch per glimpse
 * and layer, since views must start at 256-byte boundaries.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { Readback, type Tensor, tensor, upload, view } from "../gpu/tensor.ts";
import type { RamConfig } from "./config.ts";
import type { FlatLayout } from "./params.ts";
import { type DenseViews, denseViews } from "./flat_state.ts";
import { bindLinearBackward, bindLinearForward, type LinearKernels } from "../kernels/linear.ts";
import { bindColsum } from "../kernels/matmul.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import { type ActivationKernels, bindActivationBackward } from "../kernels/activation.ts";
import { bindRetina } from "../kernels/retina.ts";
import { retinaSize } from "../kernels/retina_ref.ts";
import { bindLogSoftmax, bindNllBackward, type SoftmaxKernels } from "../kernels/softmax.ts";
import {
  bindBaselineGrad,
  bindGaussianLogProb,
  bindPolicyGrad,
  bindPolicySample,
  type PolicyKernels,
} from "../kernels/policy.ts";
import { bindLstmCell, bindLstmCellBackward, type LstmKernels } from "../kernels/lstm.ts";
import type { Kernel } from "../gpu/kernel.ts";

/** Every compiled kernel the RAM uses. */
export interface RamKernels {
  linear: LinearKernels;
  activation: ActivationKernels;
  retina: Kernel;
  softmax: SoftmaxKernels;
  policy: PolicyKernels;
  lstm: LstmKernels;
}

/** Parameters, gradients and the flat layout they share. */
export interface FlatParams {
  layout: FlatLayout;
  params: Tensor; // (total)
  grads: Tensor; // (total)
}

/** Per-glimpse activations kept for the backward. */
interface GlimpseBuffers {
  loc: Tensor; // (B, 2) l_t
  rho: Tensor; // (B, k·g²)
  hg: Tensor; // (B, glimpseHidden)
  hl: Tensor; // (B, locationHidden)
  g: Tensor; // (B, glimpseOut)
  h: Tensor; // (B, H)
  z?: Tensor; // (B, 4H) lstm pre-activations
  gates?: Tensor; // (B, 4H) lstm activated gates
  c?: Tensor; // (B, H) lstm cell state
  logits: Tensor; // (B, C)
  logp: Tensor; // (B, C)
}

/** Per-action buffers (t < T). */
interface ActionBuffers {
  p1: Tensor; // (B, policyHidden)
  mu: Tensor; // (B, 2)
  a: Tensor; // (B, 2)
  base: Tensor; // (B)
}

/** What the forward readback returns, per glimpse / action. */
export interface ForwardOutputs {
  logp: Float32Array[]; // T × (B, C)
  loc: Float32Array[]; // T × (B, 2)
  logpi: Float32Array | null; // (T−1, B) training only
  base: Float32Array[] | null; // (T−1) × (B) training only
  hidden: Float32Array[] | null; // T × (B, H) rollouts, and training steps that ask
}

/**
 * Batch sizes that are multiples of this keep every per-glimpse slab (B·F floats) on a view
 * boundary (gpu/tensor.ts VIEW_ALIGN) for every F, which the time-batched backward needs.
 */
export const TIME_BATCH_ALIGN = 64;

/** n per-glimpse tensors (B, F) and, when time-batched, the (n, B, F) buffer they view. */
interface Slabs {
  all: Tensor | null; // (n, B, F)
  at: Tensor[]; // n × (B, F)
  /** Rows from..to−1 of all glimpses as one (rows·B, F) view (time-batched only). */
  range(from: number, to: number): Tensor;
}

/** What the constructor allocates and the builders share. */
interface Build {
  T: number;
  H: number;
  C: number;
  lstm: boolean;
  batched: boolean;
  /** A new tensor owned (and destroyed) by the program. */
  t: (shape: number[], label: string) => Tensor;
  slabs: (n: number, F: number, label: string) => Slabs;
  net: ReturnType<typeof ramLayers>;
  /** h_0 = c_0 = 0 (B, H). */
  zeros: Tensor;
  /** Per-glimpse activations (T, B, F). */
  loc: Slabs;
  rho: Slabs;
  hg: Slabs;
  hl: Slabs;
  g: Slabs;
  h: Slabs;
  /** The buffers the core writes h_t into (h.at, or per-glimpse ones for the time-batched rnn). */
  hOwn: Tensor[];
  /** Per-action activations (T−1, B, F). */
  p1: Slabs;
  base: Slabs;
}

/**
 * Checks, before anything is allocated, that the largest buffers a program for batch `B` needs
 * (and a probe beside it, given its pixels per image)
 * fit the device's limits (maxBufferSize, maxStorageBufferBindingSize); throws one line naming
 * the buffer, its size, the limit and the options to lower. Without it a model too large for
 * the adapter fails late with WebGPU's raw binding-size error.
 *
 * @example
 * ```ts ignore
 * checkRamFitsDevice(gpu, config.model, config.train.batch); // throws for glimpses 1000 on llvmpipe
 * ```
 */
export function checkRamFitsDevice(
  gpu: Gpu,
  cfg: RamConfig,
  B: number,
  /** Pixels per reconstruction of a probe reading all T·B states (probe/vae_gpu.ts), if any. */
  probePixels?: number,
): void {
  const T = cfg.glimpses;
  const limits = gpu.device.limits;
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const which = limits.maxBufferSize < limits.maxStorageBufferBindingSize
    ? "maxBufferSize"
    : "maxStorageBufferBindingSize";
  const batched = B % TIME_BATCH_ALIGN === 0;
  // Per-glimpse activations live in one (T, B, F) buffer when time-batched, else (B, F) each.
  const widths: [string, number][] = [
    ["rho", retinaSize(cfg)],
    ["hg", cfg.glimpseHidden],
    ["hl", cfg.locationHidden],
    ["g", cfg.glimpseOut],
    ["h", cfg.hidden],
  ];
  const buffers: [string, number, string][] = [
    ["images", B * cfg.height * cfg.width, "batch"],
    ...widths.map(([label, F]): [string, number, string] =>
      batched ? [label, T * B * F, "glimpses or batch"] : [label, B * F, "batch"]
    ),
    ...(probePixels
      ? [["probe reconstructions", T * B * probePixels, "glimpses or batch"] as [
        string,
        number,
        string,
      ]]
      : []),
    ...(cfg.core === "lstm"
      ? [["gates", B * 4 * cfg.hidden, "batch"] as [string, number, string]]
      : []),
  ];
  for (const [label, floats, lower] of buffers) {
    if (4 * floats > limit) {
      const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
      throw new Error(
        `webgpu: the "${label}" buffer needs ${mb(4 * floats)} (glimpses ${T}, batch ${B}), ` +
          `over this adapter's ${which} of ${mb(limit)}; lower option ${lower}, or use the ` +
          "cpu backend",
      );
    }
  }
}

/** The prepared forward and backward of one batch size. */
export class RamProgram {
  /** Inputs uploaded every step. */
  readonly images: Tensor; // (B, H, W)
  readonly labels: Tensor; // (B) f32 class indices
  readonly start: Tensor; // (B, 2) l_1
  readonly eps: Tensor; // (T−1, B, 2) policy noise (zeros follow the mean)
  readonly returns: Tensor; // (T−1, B) G_{t+1}
  readonly adv: Tensor; // (T−1, B) G_{t+1} − b_t
  readonly logpi: Tensor; // (T−1, B)
  readonly forward: Dispatch[] = [];
  /** The forward without what only training reads (log π of the actions, the baselines). */
  readonly rolloutForward: Dispatch[] = [];
  /**
   * {@link RamProgram.rolloutForward} without the policy's sampling: l_2..l_T are whatever
   * {@link RamProgram.uploadLocations} put in the location buffers (eval controls).
   */
  readonly givenForward: Dispatch[] = [];
  /**
   * The backward of the classification loss (NLL through cls, the core over time and the
   * glimpse net): it needs no reward, so it can run while the forward's readback is pending.
   */
  readonly backwardLoss: Dispatch[] = [];
  /** The REINFORCE and baseline backward (loc1, loc2, base), which reads returns/advantages. */
  readonly backwardReward: Dispatch[] = [];
  /** Whether the backward sums weight gradients over all glimpses in one product each. */
  readonly timeBatched: boolean;
  readonly #glimpses: GlimpseBuffers[] = [];
  readonly #actions: ActionBuffers[] = [];
  readonly #readback: Readback;
  readonly #owned: Tensor[] = [];
  /** Per dispatch list, copies [from, to] recorded before the dispatch of the key's index. */
  readonly #copies = new Map<readonly Dispatch[], Map<number, (readonly [Tensor, Tensor])[]>>();

  constructor(
    readonly gpu: Gpu,
    readonly cfg: RamConfig,
    readonly k: RamKernels,
    flat: FlatParams,
    readonly B: number,
    readonly lambda: number,
  ) {
    checkRamFitsDevice(gpu, cfg, B);
    const T = cfg.glimpses, H = cfg.hidden, C = cfg.classes, lstm = cfg.core === "lstm";
    const steps = Math.max(1, T - 1);
    const batched = this.timeBatched = B % TIME_BATCH_ALIGN === 0;
    const t = (shape: number[], label: string) => {
      const x = tensor(gpu, shape, label);
      this.#owned.push(x);
      return x;
    };
    /** n tensors (B, F): views of one (n, B, F) buffer when time-batched, else separate. */
    const slabs = (n: number, F: number, label: string): Slabs => {
      if (!batched) {
        const at = Array.from({ length: n }, (_, i) => t([B, F], `${label}_${i + 1}`));
        return {
          all: null,
          at,
          range: () => {
            throw new Error(`ram_gpu: ${label} is not time-batched`);
          },
        };
      }
      const all = t([n, B, F], label);
      const range = (from: number, to: number) =>
        view(all, from * B * F, [(to - from) * B, F], `${label}_${from + 1}..${to}`);
      return { all, at: Array.from({ length: n }, (_, i) => range(i, i + 1)), range };
    };
    this.labels = t([B], "labels");
    this.images = t([B, cfg.height, cfg.width], "images");
    this.eps = t([steps, B, 2], "policy noise");
    this.returns = t([steps, B], "returns");
    this.adv = t([steps, B], "advantages");
    this.logpi = t([steps, B], "log pi");
    this.#readback = new Readback(gpu, `ram readback B=${B}`);

    // l_1 is uploaded into glimpse 0's location; l_{t+1} is sampled by action a_t.
    const loc = slabs(T, 2, "l");
    this.start = loc.at[0];
    const rho = slabs(T, retinaSize(cfg), "rho");
    const hg = slabs(T, cfg.glimpseHidden, "hg");
    const hl = slabs(T, cfg.locationHidden, "hl");
    const g = slabs(T, cfg.glimpseOut, "g");
    const h = slabs(T, H, "h");
    // An rnn dispatch reads h_{t−1} and writes h_t, and a buffer cannot be bound both ways in
    // one dispatch: there the glimpses keep their own h buffers, gathered into the (T, B, H) one
    // before the backward (T copies of B·H floats).
    const hOwn = batched && !lstm ? h.at.map((_, i) => t([B, H], `h_${i + 1}`)) : h.at;
    const p1 = slabs(steps, cfg.policyHidden, "p1");
    const base = slabs(steps, 1, "b");

    const net = ramLayers(cfg, flat);
    const zeros = t([B, H], "h_0");
    const ctx: Build = {
      T,
      H,
      C,
      lstm,
      batched,
      t,
      slabs,
      net,
      zeros,
      loc,
      rho,
      hg,
      hl,
      g,
      h,
      hOwn,
      p1,
      base,
    };
    this.#buildForward(ctx);
    this.#buildLossBackward(ctx);
    this.#buildRewardBackward(ctx);
  }

  /** The bound product y = x·Wᵀ + b of layer L over this program's B rows. */
  #linear(L: DenseViews, x: Tensor, y: Tensor, act: Activation = "none", acc = false): Dispatch {
    return bindLinearForward(this.gpu, this.k.linear, shape(L, this.B), x, L.W, L.b, y, act, acc);
  }

  /** A backward helper pushing the products of layer L's backward onto `list`. */
  #backwardInto(list: Dispatch[]) {
    return (
      L: DenseViews,
      rows: number,
      x: Tensor,
      dy: Tensor,
      dx: Tensor | null,
      dxMask: Tensor | null = null,
    ): void => {
      list.push(...bindLinearBackward(this.gpu, this.k.linear, shape(L, rows), x, L.W, dy, {
        dx,
        dW: L.dW,
        db: L.db,
        dxMask,
      }));
    };
  }
  /**
   * The forward: for every glimpse the retina, glimpse net, core and the action; then the
   * heads that nothing inside the loop reads (classifier, log-softmax, baseline, log π), over
   * all T·B (or (T−1)·B) rows at once when time-batched, else per glimpse.
   */
  #buildForward(ctx: Build): void {
    const { gpu, k, B, cfg } = this;
    const { T, H, C, lstm, batched, t, slabs, net, zeros, loc, rho, hg, hl, g, h, hOwn, p1, base } =
      ctx;
    const fwd = this.#linear.bind(this);
    // The recurrent term of the first glimpse: h_0 = 0, so only its bias enters (a product
    // over K = 0 adds the bias to what the input term wrote).
    const fwdFirst = (L: DenseViews, y: Tensor, act: Activation) =>
      bindLinearForward(
        gpu,
        k.linear,
        { batch: B, inF: 0, outF: L.outF },
        zeros,
        L.W,
        L.b,
        y,
        act,
        true,
      );
    const logits = slabs(T, C, "logits");
    const logp = slabs(T, C, "logp");
    const A = Math.max(1, T - 1);
    const mu = slabs(A, 2, "mu");
    const act = slabs(A, 2, "a");
    const r = this.rolloutForward, given = this.givenForward;
    /** Into every forward (train, rollout, given). */
    const all = (d: Dispatch) => (this.forward.push(d), r.push(d), given.push(d));
    /** The classifier and log-softmax of glimpse i (per-glimpse programs). */
    const heads = (i: number) => {
      all(fwd(net.cls, h.at[i], logits.at[i]));
      all(bindLogSoftmax(gpu, k.softmax, B, C, logits.at[i], logp.at[i]));
    };

    let hPrev = zeros, cPrev = zeros;
    for (let i = 0; i < T; i++) {
      const s: GlimpseBuffers = {
        loc: loc.at[i],
        rho: rho.at[i],
        hg: hg.at[i],
        hl: hl.at[i],
        g: g.at[i],
        h: hOwn[i],
        logits: logits.at[i],
        logp: logp.at[i],
      };
      all(bindRetina(gpu, k.retina, cfg, B, this.images, s.loc, s.rho));
      all(fwd(net.fc1, s.rho, s.hg, "relu"));
      all(fwd(net.fc2, s.loc, s.hl, "relu"));
      all(fwd(net.fc3, s.hg, s.g));
      all(fwd(net.fc4, s.hl, s.g, "relu", true));
      if (lstm) {
        s.z = t([B, 4 * H], `z_${i + 1}`);
        s.gates = t([B, 4 * H], `gates_${i + 1}`);
        s.c = t([B, H], `c_${i + 1}`);
        all(fwd(net.ih, s.g, s.z));
        all(i === 0 ? fwdFirst(net.hh, s.z, "none") : fwd(net.hh, hPrev, s.z, "none", true));
        all(bindLstmCell(gpu, k.lstm, { batch: B, hidden: H }, s.z, cPrev, s.gates, s.c, s.h));
        cPrev = s.c;
      } else {
        all(fwd(net.ih, s.g, s.h));
        all(i === 0 ? fwdFirst(net.hh, s.h, "relu") : fwd(net.hh, hPrev, s.h, "relu", true));
      }
      if (!batched) heads(i);
      this.#glimpses.push(s);
      if (i < T - 1) {
        const a: ActionBuffers = { p1: p1.at[i], mu: mu.at[i], a: act.at[i], base: base.at[i] };
        this.forward.push(fwd(net.loc1, s.h, a.p1, "relu"));
        r.push(this.forward.at(-1)!);
        this.forward.push(fwd(net.loc2, a.p1, a.mu, "tanh"));
        r.push(this.forward.at(-1)!);
        // The "given" forward reads l_{t+1} from the location buffers instead.
        const sample = bindPolicySample(
          gpu,
          k.policy,
          B,
          cfg.sigma,
          a.mu,
          this.eps,
          a.a,
          loc.at[i + 1],
          {
            epsOffset: 2 * B * i,
          },
        );
        this.forward.push(sample);
        r.push(sample);
        if (!batched) {
          this.forward.push(
            bindGaussianLogProb(gpu, k.policy, B, cfg.sigma, a.mu, a.a, this.logpi, {
              logpiOffset: B * i,
            }),
          );
          this.forward.push(fwd(net.base, s.h, a.base));
        }
        this.#actions.push(a);
      }
      hPrev = s.h;
    }
    if (!batched) return;
    // The rnn core wrote h_t into per-glimpse buffers: gather them before the heads read them.
    if (!lstm) {
      const copies = hOwn.map((src, i) => [src, h.at[i]] as const);
      for (const list of [this.forward, r, given]) this.#copyBefore(list, list.length, copies);
    }
    const TB = T * B;
    all(
      bindLinearForward(
        gpu,
        k.linear,
        shape(net.cls, TB),
        h.all!,
        net.cls.W,
        net.cls.b,
        logits.all!,
      ),
    );
    all(bindLogSoftmax(gpu, k.softmax, TB, C, logits.all!, logp.all!));
    if (T > 1) {
      const AB = (T - 1) * B;
      this.forward.push(
        bindGaussianLogProb(gpu, k.policy, AB, cfg.sigma, mu.all!, act.all!, this.logpi),
      );
      this.forward.push(
        bindLinearForward(
          gpu,
          k.linear,
          shape(net.base, AB),
          h.range(0, T - 1),
          net.base.W,
          net.base.b,
          base.all!,
        ),
      );
    }
  }

  /**
   * The backward of the classification loss through time (mirrors backwardPass in
   * ram/cpu_pass.ts): the recurrence glimpse by glimpse, then everything off it, over all T·B
   * rows at once when time-batched.
   */
  #buildLossBackward(ctx: Build): void {
    const { gpu, k, B, cfg } = this;
    const { T, H, C, lstm, batched, t, slabs, net, zeros, loc, rho, hg, hl, g, h, hOwn } = ctx;
    // Every ReLU's backward rides on the product that makes its input gradient (dxMask):
    // dx ⊙ (y > 0) with y the ReLU's output.
    const bw = this.backwardLoss;
    const bwd = this.#backwardInto(bw);
    const dlogits = t([B, C], "dlogits");
    let dh = t([B, H], "dh");
    let dhPrev = t([B, H], "dh_prev");
    const dc = lstm ? t([B, H], "dc") : null;
    const last = this.#glimpses[T - 1];
    // dz_t = ∂L/∂(core pre-activation) of every glimpse: kept per glimpse when time-batched.
    const dz = slabs(batched ? T : 1, lstm ? 4 * H : H, "dz");
    // Time-batched rnn: the products of the recurrence write dz_t straight through the ReLU,
    // into per-glimpse buffers (one dispatch cannot read dz_t and write dz_{t−1} in one
    // buffer), gathered into dz's (T, B, H) buffer after the recurrence.
    const dzOwn = batched && !lstm ? dz.at.map((_, i) => t([B, H], `dz_${i + 1}`)) : null;
    bw.push(bindNllBackward(gpu, k.softmax, B, C, last.logp, this.labels, dlogits));
    if (dzOwn) bwd(net.cls, B, last.h, dlogits, dzOwn[T - 1], last.h);
    else bwd(net.cls, B, last.h, dlogits, dh);
    const dg = slabs(batched ? T : 1, cfg.glimpseOut, "dg");
    const dhg = slabs(batched ? T : 1, cfg.glimpseHidden, "dhg");
    const dhl = slabs(batched ? T : 1, cfg.locationHidden, "dhl");
    const coreBackward = (i: number, dzi: Tensor) => {
      const s = this.#glimpses[i];
      const prev = i > 0 ? this.#glimpses[i - 1] : null;
      if (lstm) {
        bw.push(bindLstmCellBackward(
          gpu,
          k.lstm,
          { batch: B, hidden: H },
          s.gates!,
          prev?.c ?? zeros,
          s.c!,
          dh,
          dc!,
          dzi,
          i < T - 1,
        ));
      } else {
        bw.push(bindActivationBackward(gpu, k.activation, "relu", B * H, s.h, dh, dzi));
      }
    };
    if (dzOwn) {
      // The recurrence, glimpse by glimpse: dz_{t−1} = (dz_t·W_hh) ⊙ (h_{t−1} > 0).
      for (let i = T - 1; i > 0; i--) {
        bw.push(
          ...bindLinearBackward(gpu, k.linear, shape(net.hh, B), hOwn[i - 1], net.hh.W, dzOwn[i], {
            dx: dzOwn[i - 1],
            dW: null,
            db: null,
            dxMask: hOwn[i - 1],
          }),
        );
      }
      this.#copyBefore(bw, bw.length, dzOwn.map((from, i) => [from, dz.at[i]] as const));
    } else if (batched) {
      // The recurrence, glimpse by glimpse: dz_t, then dh_{t−1} = dz_t·W_hh.
      for (let i = T - 1; i >= 0; i--) {
        coreBackward(i, dz.at[i]);
        if (i > 0) {
          bw.push(
            ...bindLinearBackward(
              gpu,
              k.linear,
              shape(net.hh, B),
              h.at[i - 1],
              net.hh.W,
              dz.at[i],
              { dx: dhPrev, dW: null, db: null },
            ),
          );
        }
        [dh, dhPrev] = [dhPrev, dh];
      }
    }
    if (batched) {
      // Everything off the recurrence, over all T·B rows at once.
      const TB = T * B;
      bwd(net.ih, TB, g.all!, dz.all!, dg.all!, g.all!);
      if (T > 1) {
        // dW_hh = Σ_{t≥2} dz_tᵀ·h_{t−1} (h_0 = 0 adds nothing); its bias sees every glimpse.
        bw.push(
          ...bindLinearBackward(
            gpu,
            k.linear,
            shape(net.hh, (T - 1) * B),
            h.range(0, T - 1),
            net.hh.W,
            dz.range(1, T),
            { dx: null, dW: net.hh.dW, db: null },
          ),
        );
      }
      bw.push(bindColsum(gpu, k.linear.colsum, TB, net.hh.outF, dz.all!, net.hh.db, true));
      bwd(net.fc3, TB, hg.all!, dg.all!, dhg.all!, hg.all!);
      bwd(net.fc4, TB, hl.all!, dg.all!, dhl.all!, hl.all!);
      bwd(net.fc1, TB, rho.all!, dhg.all!, null);
      bwd(net.fc2, TB, loc.all!, dhl.all!, null);
    } else {
      for (let i = T - 1; i >= 0; i--) {
        const s = this.#glimpses[i];
        const prev = i > 0 ? this.#glimpses[i - 1] : null;
        coreBackward(i, dz.at[0]);
        bwd(net.ih, B, s.g, dz.at[0], dg.at[0], s.g);
        // dh_{t−1}: not needed before the first glimpse (h_0 is a constant).
        if (prev) bwd(net.hh, B, prev.h, dz.at[0], dhPrev);
        else bw.push(bindColsum(gpu, k.linear.colsum, B, net.hh.outF, dz.at[0], net.hh.db, true));
        bwd(net.fc3, B, s.hg, dg.at[0], dhg.at[0], s.hg);
        bwd(net.fc4, B, s.hl, dg.at[0], dhl.at[0], s.hl);
        bwd(net.fc1, B, s.rho, dhg.at[0], null);
        bwd(net.fc2, B, s.loc, dhl.at[0], null);
        [dh, dhPrev] = [dhPrev, dh];
      }
    }
  }

  /**
   * REINFORCE into loc1/loc2 and the baseline MSE into base, per action step. These parameters
   * get no gradient from the loss part, so the two parts commute.
   */
  #buildRewardBackward(ctx: Build): void {
    const { gpu, k, B, cfg, lambda } = this;
    const { T, batched, slabs, net, h, p1, base } = ctx;
    const bw = this.backwardReward;
    const bwd = this.#backwardInto(bw);
    if (T > 1) {
      const A = T - 1;
      const dmu = slabs(batched ? A : 1, 2, "dmu");
      const dp1 = slabs(batched ? A : 1, cfg.policyHidden, "dp1");
      const dbase = slabs(batched ? A : 1, 1, "dbase");
      this.#actions.forEach((a, i) => {
        bw.push(
          bindPolicyGrad(
            gpu,
            k.policy,
            B,
            cfg.sigma,
            lambda,
            a.mu,
            a.a,
            this.adv,
            dmu.at[batched ? i : 0],
            { advOffset: B * i, throughTanh: true },
          ),
        );
        if (batched) return;
        const hi = this.#glimpses[i].h;
        bwd(net.loc2, B, a.p1, dmu.at[0], dp1.at[0], a.p1);
        bwd(net.loc1, B, hi, dp1.at[0], null);
        bw.push(bindBaselineGrad(gpu, k.policy, B, A, a.base, this.returns, dbase.at[0], {
          retOffset: B * i,
        }));
        bwd(net.base, B, hi, dbase.at[0], null);
      });
      if (batched) {
        // (1/(B·A))·Σ(b − G)² over all action steps is one baseline term over A·B rows.
        bw.push(bindBaselineGrad(gpu, k.policy, A * B, 1, base.all!, this.returns, dbase.all!));
        bwd(net.loc2, A * B, p1.all!, dmu.all!, dp1.all!, p1.all!);
        bwd(net.loc1, A * B, h.range(0, A), dp1.all!, null);
        bwd(net.base, A * B, h.range(0, A), dbase.all!, null);
      }
    }
  }

  /**
   * Records the forward (all glimpses, actions and, for training, log π and the baselines):
   * compute passes, ended where copies gather per-glimpse buffers into (T, B, F) ones.
   */
  encodeForward(
    encoder: GPUCommandEncoder,
    mode: "train" | "rollout" | "given" = "train",
  ): void {
    const list = mode === "train"
      ? this.forward
      : mode === "rollout"
      ? this.rolloutForward
      : this.givenForward;
    this.#encode(encoder, list, `ram forward (${mode})`);
  }

  /** Uploads l_2..l_T (T−1, B, 2) into the location buffers, for the "given" forward. */
  uploadLocations(locations: Float32Array): void {
    const B = this.B;
    this.#glimpses.slice(1).forEach((s, i) =>
      upload(this.gpu, s.loc, locations.subarray(i * 2 * B, (i + 1) * 2 * B))
    );
  }

  #copyBefore(
    list: readonly Dispatch[],
    index: number,
    copies: readonly (readonly [Tensor, Tensor])[],
  ): void {
    let at = this.#copies.get(list);
    if (!at) this.#copies.set(list, at = new Map());
    at.set(index, [...(at.get(index) ?? []), ...copies]);
  }

  /** Encodes `list` as compute passes, ended where copies are recorded before a dispatch. */
  #encode(encoder: GPUCommandEncoder, list: readonly Dispatch[], label: string): void {
    const at = this.#copies.get(list);
    let pass: GPUComputePassEncoder | null = null;
    list.forEach((d, i) => {
      const copies = at?.get(i);
      if (copies) {
        pass?.end();
        pass = null;
        for (const [from, to] of copies) {
          encoder.copyBufferToBuffer(from.buffer, from.offset, to.buffer, to.offset, from.bytes);
        }
      }
      pass ??= encoder.beginComputePass({ label });
      d.encode(pass);
    });
    (pass as GPUComputePassEncoder | null)?.end();
  }

  /**
   * Records the loss part of the backward: compute passes, ended where copies gather
   * per-glimpse buffers into (T, B, F) ones.
   */
  encodeBackwardLoss(encoder: GPUCommandEncoder): void {
    this.#encode(encoder, this.backwardLoss, "ram backward (loss)");
  }

  /** Records the reward part of the backward and `then` (the optimizer) as one pass. */
  encodeBackwardReward(encoder: GPUCommandEncoder, then: readonly Dispatch[] = []): void {
    const pass = encoder.beginComputePass({ label: "ram backward (reward)" });
    for (const d of this.backwardReward) d.encode(pass);
    for (const d of then) d.encode(pass);
    pass.end();
  }

  /**
   * Reads back what the reward and the loss need (and the hidden states when asked). The
   * encoder (with the copies) is submitted and the map started before this returns its
   * promise, so work submitted before awaiting it overlaps the wait for the map (Deno polls a
   * pending map about every 10 ms).
   */
  async readForward(
    encoder: GPUCommandEncoder,
    mode: "train" | "rollout",
    withHidden = mode === "rollout",
  ): Promise<ForwardOutputs> {
    const T = this.cfg.glimpses;
    const g = this.#glimpses, a = this.#actions;
    const train = mode === "train";
    const trainList = train ? [this.logpi, ...a.map((s) => s.base)] : [];
    const list = [
      ...g.map((s) => s.logp),
      ...g.map((s) => s.loc),
      ...trainList,
      ...(withHidden ? g.map((s) => s.h) : []),
    ];
    const out = await this.#readback.read(list, encoder);
    const h0 = 2 * T + trainList.length;
    return {
      logp: out.slice(0, T),
      loc: out.slice(T, 2 * T),
      logpi: train ? out[2 * T] : null,
      base: train ? out.slice(2 * T + 1, h0) : null,
      hidden: withHidden ? out.slice(h0, h0 + T) : null,
    };
  }

  /** Frees every buffer this program made. */
  destroy(): void {
    for (const t of this.#owned) t.buffer.destroy();
    for (const d of [...this.forward, ...this.backwardLoss, ...this.backwardReward]) d.destroy();
    this.#readback.destroy();
  }
}

function shape(L: DenseViews, batch: number) {
  return { batch, inF: L.inF, outF: L.outF };
}

/** Views of every layer's weights and gradients in the flat buffers, by role. */
function ramLayers(cfg: RamConfig, flat: FlatParams): Record<
  "fc1" | "fc2" | "fc3" | "fc4" | "ih" | "hh" | "loc1" | "loc2" | "base" | "cls",
  DenseViews
> {
  const dense = (w: string, b: string) => denseViews(flat.layout, flat.params, flat.grads, w, b);
  const lin = (m: string) => dense(`${m}.weight`, `${m}.bias`);
  const lstm = cfg.core === "lstm";
  return {
    fc1: lin("fc1"),
    fc2: lin("fc2"),
    fc3: lin("fc3"),
    fc4: lin("fc4"),
    ih: lstm ? dense("lstm.weight_ih", "lstm.bias_ih") : lin("i2h"),
    hh: lstm ? dense("lstm.weight_hh", "lstm.bias_hh") : lin("h2h"),
    loc1: lin("loc1"),
    loc2: lin("loc2"),
    base: lin("base"),
    cls: lin("cls"),
  };
}
