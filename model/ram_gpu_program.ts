/**
 * The RAM's forward and backward through time as WebGPU dispatches for one batch size: every
 * buffer and bind group is made once here, and a training step only uploads its inputs and
 * encodes the prepared dispatch lists. It mirrors model/ram_cpu_pass.ts (the reference) op for
 * op; read that file for the maths and the gradient routes.
 *
 * A step is two submissions: the forward (all T glimpses, policy and baseline) with one
 * readback of what the reward needs, then the backward, the bias-correction tick and one Adam
 * update over the flat parameter buffer (which also zeroes the gradients for the next step).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { Readback, type Tensor, tensor, view } from "../gpu/tensor.ts";
import type { RamConfig } from "./config.ts";
import type { FlatLayout } from "./params.ts";
import { bindLinearBackward, bindLinearForward, type LinearKernels } from "../kernels/linear.ts";
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

/** A parameter and its gradient, both views into the flat buffers. */
interface DenseViews {
  W: Tensor; // (out, in)
  b: Tensor; // (out)
  dW: Tensor; // (out, in)
  db: Tensor; // (out)
  inF: number;
  outF: number;
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
  logpi: Float32Array; // (T−1, B)
  base: Float32Array[]; // (T−1) × (B)
  hidden: Float32Array[] | null; // T × (B, H) when asked for
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
  readonly backward: Dispatch[] = [];
  readonly #glimpses: GlimpseBuffers[] = [];
  readonly #actions: ActionBuffers[] = [];
  /** l_{t+1} = clamp(a_t), written by the sampling dispatch of action t. */
  readonly #actionLoc: Tensor[] = [];
  readonly #readback: Readback;
  readonly #owned: Tensor[] = [];

  constructor(
    readonly gpu: Gpu,
    readonly cfg: RamConfig,
    readonly k: RamKernels,
    flat: FlatParams,
    readonly B: number,
    readonly lambda: number,
  ) {
    const T = cfg.glimpses, H = cfg.hidden, C = cfg.classes, lstm = cfg.core === "lstm";
    const steps = Math.max(1, T - 1);
    const t = (shape: number[], label: string) => {
      const x = tensor(gpu, shape, label);
      this.#owned.push(x);
      return x;
    };
    this.images = t([B, cfg.height, cfg.width], "images");
    this.labels = t([B], "labels");
    this.start = t([B, 2], "l_1");
    this.eps = t([steps, B, 2], "policy noise");
    this.returns = t([steps, B], "returns");
    this.adv = t([steps, B], "advantages");
    this.logpi = t([steps, B], "log pi");
    this.#readback = new Readback(gpu, `ram readback B=${B}`);

    const net = denseViews(cfg, flat);
    const fwd = (L: DenseViews, x: Tensor, y: Tensor, act: Activation = "none", acc = false) =>
      bindLinearForward(gpu, k.linear, shape(L, B), x, L.W, L.b, y, act, acc);
    const zeros = t([B, H], "h_0");

    // Forward.
    let hPrev = zeros, cPrev = zeros;
    for (let i = 0; i < T; i++) {
      const s: GlimpseBuffers = {
        // l_1 is uploaded; l_{t+1} is sampled by action a_t below.
        loc: i === 0 ? this.start : this.#actionLoc[i - 1],
        rho: t([B, retinaSize(cfg)], `rho_${i + 1}`),
        hg: t([B, cfg.glimpseHidden], `hg_${i + 1}`),
        hl: t([B, cfg.locationHidden], `hl_${i + 1}`),
        g: t([B, cfg.glimpseOut], `g_${i + 1}`),
        h: t([B, H], `h_${i + 1}`),
        logits: t([B, C], `logits_${i + 1}`),
        logp: t([B, C], `logp_${i + 1}`),
      };
      const f = this.forward;
      f.push(bindRetina(gpu, k.retina, cfg, B, this.images, s.loc, s.rho));
      f.push(fwd(net.fc1, s.rho, s.hg, "relu"));
      f.push(fwd(net.fc2, s.loc, s.hl, "relu"));
      f.push(fwd(net.fc3, s.hg, s.g));
      f.push(fwd(net.fc4, s.hl, s.g, "relu", true));
      if (lstm) {
        s.z = t([B, 4 * H], `z_${i + 1}`);
        s.gates = t([B, 4 * H], `gates_${i + 1}`);
        s.c = t([B, H], `c_${i + 1}`);
        f.push(fwd(net.ih, s.g, s.z));
        f.push(fwd(net.hh, hPrev, s.z, "none", true));
        f.push(bindLstmCell(gpu, k.lstm, { batch: B, hidden: H }, s.z, cPrev, s.gates, s.c, s.h));
        cPrev = s.c;
      } else {
        f.push(fwd(net.ih, s.g, s.h));
        f.push(fwd(net.hh, hPrev, s.h, "relu", true)); // the h2h bias enters even when h_0 = 0
      }
      f.push(fwd(net.cls, s.h, s.logits));
      f.push(bindLogSoftmax(gpu, k.softmax, B, C, s.logits, s.logp));
      this.#glimpses.push(s);
      if (i < T - 1) {
        const a: ActionBuffers = {
          p1: t([B, cfg.policyHidden], `p1_${i + 1}`),
          mu: t([B, 2], `mu_${i + 1}`),
          a: t([B, 2], `a_${i + 1}`),
          base: t([B], `b_${i + 1}`),
        };
        const next = t([B, 2], `l_${i + 2}`);
        this.#actionLoc.push(next);
        f.push(fwd(net.loc1, s.h, a.p1, "relu"));
        f.push(fwd(net.loc2, a.p1, a.mu, "tanh"));
        f.push(bindPolicySample(gpu, k.policy, B, cfg.sigma, a.mu, this.eps, a.a, next, {
          epsOffset: 2 * B * i,
        }));
        f.push(bindGaussianLogProb(gpu, k.policy, B, cfg.sigma, a.mu, a.a, this.logpi, {
          logpiOffset: B * i,
        }));
        f.push(fwd(net.base, s.h, a.base));
        this.#actions.push(a);
      }
      hPrev = s.h;
    }

    // Backward through time (mirrors backwardPass in model/ram_cpu_pass.ts).
    const bw = this.backward;
    const bwd = (L: DenseViews, x: Tensor, dy: Tensor, dx: Tensor | null) =>
      bw.push(...bindLinearBackward(gpu, k.linear, shape(L, B), x, L.W, dy, {
        dx,
        dW: L.dW,
        db: L.db,
      }));
    const relu = (y: Tensor, d: Tensor) =>
      bw.push(bindActivationBackward(gpu, k.activation, "relu", y.size, y, d, d));
    const dlogits = t([B, C], "dlogits");
    let dh = t([B, H], "dh");
    let dhPrev = t([B, H], "dh_prev");
    const dz = t([B, lstm ? 4 * H : H], "dz");
    const dc = lstm ? t([B, H], "dc") : null;
    const dg = t([B, cfg.glimpseOut], "dg");
    const dhg = t([B, cfg.glimpseHidden], "dhg");
    const dhl = t([B, cfg.locationHidden], "dhl");
    const last = this.#glimpses[T - 1];
    bw.push(bindNllBackward(gpu, k.softmax, B, C, last.logp, this.labels, dlogits));
    bwd(net.cls, last.h, dlogits, dh);
    for (let i = T - 1; i >= 0; i--) {
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
          dz,
          i < T - 1,
        ));
      } else {
        bw.push(bindActivationBackward(gpu, k.activation, "relu", B * H, s.h, dh, dz));
      }
      bwd(net.ih, s.g, dz, dg);
      // dh_{t−1}: not needed before the first glimpse (h_0 is a constant).
      bwd(net.hh, prev?.h ?? zeros, dz, prev ? dhPrev : null);
      relu(s.g, dg);
      bwd(net.fc3, s.hg, dg, dhg);
      bwd(net.fc4, s.hl, dg, dhl);
      relu(s.hg, dhg);
      relu(s.hl, dhl);
      bwd(net.fc1, s.rho, dhg, null);
      bwd(net.fc2, s.loc, dhl, null);
      [dh, dhPrev] = [dhPrev, dh];
    }
    // REINFORCE into loc1/loc2 and the baseline MSE into base, per action step.
    const dmu = t([B, 2], "dmu");
    const dp1 = t([B, cfg.policyHidden], "dp1");
    const dbase = t([B], "dbase");
    this.#actions.forEach((a, i) => {
      const h = this.#glimpses[i].h;
      bw.push(bindPolicyGrad(gpu, k.policy, B, cfg.sigma, lambda, a.mu, a.a, this.adv, dmu, {
        advOffset: B * i,
        throughTanh: true,
      }));
      bwd(net.loc2, a.p1, dmu, dp1);
      relu(a.p1, dp1);
      bwd(net.loc1, h, dp1, null);
      bw.push(bindBaselineGrad(gpu, k.policy, B, T - 1, a.base, this.returns, dbase, {
        retOffset: B * i,
      }));
      bwd(net.base, h, dbase, null);
    });
  }

  /** Reads back what the reward and the loss need (and the hidden states when asked). */
  async readForward(encoder: GPUCommandEncoder, withHidden: boolean): Promise<ForwardOutputs> {
    const T = this.cfg.glimpses;
    const g = this.#glimpses, a = this.#actions;
    const list = [
      ...g.map((s) => s.logp),
      ...g.map((s) => s.loc),
      this.logpi,
      ...a.map((s) => s.base),
      ...(withHidden ? g.map((s) => s.h) : []),
    ];
    const out = await this.#readback.read(list, encoder);
    return {
      logp: out.slice(0, T),
      loc: out.slice(T, 2 * T),
      logpi: out[2 * T],
      base: out.slice(2 * T + 1, 2 * T + 1 + a.length),
      hidden: withHidden ? out.slice(2 * T + 1 + a.length) : null,
    };
  }

  /** Frees every buffer this program made. */
  destroy(): void {
    for (const t of this.#owned) t.buffer.destroy();
    for (const d of [...this.forward, ...this.backward]) d.destroy();
    this.#readback.destroy();
  }
}

function shape(L: DenseViews, batch: number) {
  return { batch, inF: L.inF, outF: L.outF };
}

/** Views of every layer's weights and gradients in the flat buffers, by role. */
function denseViews(cfg: RamConfig, flat: FlatParams): Record<
  "fc1" | "fc2" | "fc3" | "fc4" | "ih" | "hh" | "loc1" | "loc2" | "base" | "cls",
  DenseViews
> {
  const entry = (name: string) => {
    const e = flat.layout.byName.get(name);
    if (!e) throw new Error(`ram_gpu: parameter "${name}" is missing from the layout`);
    return e;
  };
  const dense = (w: string, b: string): DenseViews => {
    const ew = entry(w), eb = entry(b);
    return {
      W: view(flat.params, ew.offset, ew.shape, w),
      b: view(flat.params, eb.offset, eb.shape, b),
      dW: view(flat.grads, ew.offset, ew.shape, `grad ${w}`),
      db: view(flat.grads, eb.offset, eb.shape, `grad ${b}`),
      inF: ew.shape[1],
      outF: ew.shape[0],
    };
  };
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
