/**
 * The VAE probe on a WebGPU device, from the WGSL kernels (linear, activation, vae, reduce,
 * adam). It mirrors probe/vae_cpu.ts op for op and is held to it number for number in
 * tests/vae_gpu_test.ts; read that file for the maths.
 *
 * All parameters live in one flat buffer (probe/vae_params.ts vaeFlatLayout), their gradients
 * in another, so one Adam dispatch updates the whole probe and clears the gradients for the
 * next step. Per (rows, targets) a {@link VaeProgram} makes every buffer and bind group once; a
 * training step uploads h, the clean digits and ε, then records forward, backward, the Adam
 * tick and update into one pass and reads the per-row BCE and KL back in the same submission.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, encodePass } from "../gpu/kernel.ts";
import { Readback, type Tensor, tensor, upload } from "../gpu/tensor.ts";
import type { TrainState } from "../ram/backend.ts";
import { type DenseViews, FlatState } from "../ram/flat_state.ts";
import type { Vae, VaeStepResult } from "./vae_api.ts";
import { vaeRows } from "./vae_api.ts";
import { checkVaeParams, initVaeParams, type VaeConfig, vaeFlatLayout } from "./vae_params.ts";
import {
  bindLinearBackward,
  bindLinearForward,
  type LinearKernels,
  linearKernels,
} from "../kernels/linear.ts";
import {
  type ActivationKernels,
  activationKernels,
  bindActivationBackward,
} from "../kernels/activation.ts";
import {
  bindBce,
  bindLatentBackward,
  bindLatentForward,
  bindSigmoid,
  type VaeKernels,
  vaeKernels,
} from "../kernels/vae.ts";
import { bindRowSqErr, type ReduceKernels, reduceKernels } from "../kernels/reduce.ts";
import { type AdamKernels, adamKernels } from "../kernels/adam.ts";
import type { Activation } from "../kernels/matmul_ref.ts";
import type { MatmulStrategy } from "../kernels/matmul.ts";

/** Every compiled kernel the probe uses. */
interface Kernels {
  linear: LinearKernels;
  activation: ActivationKernels;
  vae: VaeKernels;
  reduce: ReduceKernels;
  adam: AdamKernels;
}

type Dense = DenseViews;

type Layers = Record<"enc" | "stats" | "dec1" | "dec2", Dense>;

/** The prepared dispatches and buffers of one (rows, targets) size. */
class VaeProgram {
  readonly hidden: Tensor; // (R, input) uploaded
  readonly clean: Tensor; // (B, pixels) uploaded
  readonly eps: Tensor; // (R, L) uploaded for training
  readonly bce: Tensor; // (R) per-row BCE, nats
  readonly kl: Tensor; // (R) per-row KL, nats
  readonly recon: Tensor; // (R, pixels) σ(decoder(μ))
  readonly mse: Tensor; // (R) per-row reconstruction MSE
  /** Forward with ε, BCE and its gradient, backward (Adam is added by the owner). */
  readonly train: Dispatch[] = [];
  /** Forward with ε = 0 and the sigmoid: reconstructions. */
  readonly reconstruct: Dispatch[] = [];
  /** {@link VaeProgram.reconstruct} plus the per-row MSE against the clean digits. */
  readonly error: Dispatch[] = [];
  readonly readback: Readback;
  readonly #owned: Tensor[] = [];

  constructor(gpu: Gpu, cfg: VaeConfig, k: Kernels, net: Layers, R: number, B: number) {
    const { input, hidden: Hd, latent: L, pixels: P } = cfg;
    const t = (shape: number[], label: string) => {
      const x = tensor(gpu, shape, `vae ${label} R=${R}`);
      this.#owned.push(x);
      return x;
    };
    this.hidden = t([R, input], "h");
    this.clean = t([B, P], "clean");
    this.eps = t([R, L], "eps");
    const zeroEps = t([R, L], "zero eps"); // stays zero: decodes μ
    const e = t([R, Hd], "e"), stats = t([R, 2 * L], "stats"), z = t([R, L], "z");
    const d = t([R, Hd], "d"), logits = t([R, P], "logits");
    this.kl = t([R], "kl");
    this.bce = t([R], "bce");
    this.recon = t([R, P], "recon");
    this.mse = t([R], "mse");
    const dlogits = t([R, P], "dlogits"), dd = t([R, Hd], "dd"), dz = t([R, L], "dz");
    const dstats = t([R, 2 * L], "dstats"), de = t([R, Hd], "de");
    this.readback = new Readback(gpu, `vae readback R=${R}`);

    const fwd = (l: Dense, x: Tensor, y: Tensor, act: Activation = "none") =>
      bindLinearForward(gpu, k.linear, { batch: R, inF: l.inF, outF: l.outF }, x, l.W, l.b, y, act);
    const encode = () => [fwd(net.enc, this.hidden, e, "relu"), fwd(net.stats, e, stats)];
    const decode = () => [fwd(net.dec1, z, d, "relu"), fwd(net.dec2, d, logits)];
    const latent = { batch: R, latent: L };

    this.train.push(
      ...encode(),
      bindLatentForward(gpu, k.vae, latent, stats, this.eps, z, this.kl),
      ...decode(),
      bindBce(
        gpu,
        k.vae,
        { rows: R, pixels: P, targetRows: B },
        logits,
        this.clean,
        this.bce,
        dlogits,
        1 / R,
      ),
    );
    const bwd = (l: Dense, x: Tensor, dy: Tensor, dx: Tensor | null) =>
      this.train.push(
        ...bindLinearBackward(gpu, k.linear, { batch: R, inF: l.inF, outF: l.outF }, x, l.W, dy, {
          dx,
          dW: l.dW,
          db: l.db,
        }),
      );
    const relu = (y: Tensor, dy: Tensor) =>
      this.train.push(bindActivationBackward(gpu, k.activation, "relu", y.size, y, dy, dy));
    bwd(net.dec2, d, dlogits, dd);
    relu(d, dd);
    bwd(net.dec1, z, dd, dz);
    this.train.push(bindLatentBackward(gpu, k.vae, latent, stats, this.eps, dz, dstats, 1 / R));
    bwd(net.stats, e, dstats, de);
    relu(e, de);
    bwd(net.enc, this.hidden, de, null); // h is detached

    this.reconstruct.push(
      ...encode(),
      bindLatentForward(gpu, k.vae, latent, stats, zeroEps, z, null),
      ...decode(),
      bindSigmoid(gpu, k.vae, R * P, logits, this.recon),
    );
    this.error.push(
      ...this.reconstruct,
      bindRowSqErr(gpu, k.reduce, R, P, this.recon, this.clean, this.mse, {
        scale: 1 / P,
        targetRows: B,
      }),
    );
  }

  destroy(): void {
    for (const x of this.#owned) x.buffer.destroy();
    for (const d of new Set([...this.train, ...this.error])) d.destroy();
    this.readback.destroy();
  }
}

/**
 * The VAE probe on WebGPU implementing {@link Vae}.
 *
 * @example
 * ```ts ignore
 * import { requestGpu } from "../gpu/device.ts";
 * import { GpuVae } from "./vae_gpu.ts";
 * import { DEFAULT_VAE } from "./vae_params.ts";
 * const vae = await GpuVae.create(await requestGpu(), DEFAULT_VAE, 1);
 * const r = await vae.trainStep(hidden, clean, eps); // (T·B, 256), (B, 784), (T·B, 16)
 * ```
 */
export class GpuVae implements Vae {
  readonly name = "webgpu" as const;
  readonly config: VaeConfig;
  readonly #state: FlatState;
  readonly #net: Layers;
  readonly #programs = new Map<string, VaeProgram>();

  private constructor(
    readonly gpu: Gpu,
    config: VaeConfig,
    readonly kernels: Kernels,
    seed: number,
  ) {
    this.config = { ...config };
    this.#state = new FlatState(gpu, vaeFlatLayout(config), initVaeParams(config, seed), "vae");
    const dense = (m: string) => this.#state.dense(`${m}.weight`, `${m}.bias`);
    this.#net = {
      enc: dense("vae.enc"),
      stats: dense("vae.stats"),
      dec1: dense("vae.dec1"),
      dec2: dense("vae.dec2"),
    };
  }

  /**
   * Compiles the kernels and initialises the parameters from `seed` as the cpu probe does;
   * `matmul` picks the matrix-product strategy (default: the fastest on this adapter).
   */
  static async create(
    gpu: Gpu,
    config: VaeConfig,
    seed: number,
    matmul?: MatmulStrategy,
  ): Promise<GpuVae> {
    const kernels: Kernels = {
      linear: await linearKernels(gpu, matmul),
      activation: await activationKernels(gpu),
      vae: await vaeKernels(gpu),
      reduce: await reduceKernels(gpu),
      adam: await adamKernels(gpu),
    };
    const vae = new GpuVae(gpu, config, kernels, seed);
    gpu.check();
    return vae;
  }

  #program(R: number, B: number): VaeProgram {
    const key = `${R}|${B}`;
    let p = this.#programs.get(key);
    if (!p) {
      p = new VaeProgram(this.gpu, this.config, this.kernels, this.#net, R, B);
      this.#programs.set(key, p);
    }
    return p;
  }

  /** One Adam step; see {@link Vae.trainStep}. */
  async trainStep(
    hidden: Float32Array,
    clean: Float32Array,
    eps: Float32Array,
  ): Promise<VaeStepResult> {
    const { rows: R, targets: B } = vaeRows("webgpu vae", this.config, hidden, clean, eps);
    const p = this.#program(R, B);
    upload(this.gpu, p.hidden, hidden);
    upload(this.gpu, p.clean, clean);
    upload(this.gpu, p.eps, eps);
    const adam = this.#state.adam(this.kernels.adam, [{ lr: this.config.lr }]);
    const encoder = encodePass(this.gpu, [...p.train, ...adam], "vae train step");
    const [bce, kl] = await p.readback.read([p.bce, p.kl], encoder);
    this.#state.step++;
    let bceSum = 0, klSum = 0;
    for (let r = 0; r < R; r++) {
      bceSum += bce[r];
      klSum += kl[r];
    }
    return { loss: (bceSum + klSum) / R, bce: bceSum / R, kl: klSum / R };
  }

  /** Reconstructions from μ; see {@link Vae.reconstruct}. */
  async reconstruct(hidden: Float32Array): Promise<Float32Array> {
    const { rows: R } = vaeRows("webgpu vae", this.config, hidden, null, null);
    // The clean-target size does not matter here; share the program of R rows and 1 target.
    const p = this.#program(R, 1);
    upload(this.gpu, p.hidden, hidden);
    const [recon] = await p.readback.read(
      [p.recon],
      encodePass(this.gpu, p.reconstruct, "vae reconstruct"),
    );
    return recon;
  }

  /** Per-row reconstruction MSE; see {@link Vae.reconstructionError}. */
  async reconstructionError(hidden: Float32Array, clean: Float32Array): Promise<Float32Array> {
    const { rows: R, targets: B } = vaeRows("webgpu vae", this.config, hidden, clean, null);
    const p = this.#program(R, B);
    upload(this.gpu, p.hidden, hidden);
    upload(this.gpu, p.clean, clean);
    const [mse] = await p.readback.read([p.mse], encodePass(this.gpu, p.error, "vae error"));
    return mse;
  }

  /** Copies parameters and Adam state to the host. */
  getState(): Promise<TrainState> {
    return this.#state.getState();
  }

  /** Loads parameters and Adam state (names and shapes must match the config). */
  setState(state: TrainState): void {
    this.#state.setState(state, (p, what) => checkVaeParams(this.config, p, what), "VAE ");
  }

  /** Frees every buffer (the device stays open: it may be the RAM's). */
  dispose(): void {
    for (const p of this.#programs.values()) p.destroy();
    this.#programs.clear();
    this.#state.destroy();
  }
}
