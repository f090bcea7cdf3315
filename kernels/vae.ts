/**
 * GPU wrapper for kernels/vae.wgsl: the VAE probe's reparameterisation + KL, their backward,
 * the stable BCE-with-logits loss and gradient, and the sigmoid that turns decoder logits
 * into reconstructions. CPU reference, layout and loss normalisation: kernels/vae_ref.ts.
 *
 * One training step of the probe on R rows (encoder and decoder are linear layers from
 * kernels/linear.ts; `stats` is the encoder head's (R, 2L) output, μ | log σ²):
 * ```
 * latent forward   stats, ε        → z (R, L), kl (R)
 * decoder          z               → logits (R, P)
 * bce              logits, target  → bce (R), dlogits = (σ − t)/R
 * decoder backward dlogits         → dz
 * latent backward  stats, ε, dz    → dstats (R, 2L)   (KL gradient added with klScale = 1/R)
 * encoder backward dstats
 * ```
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { compileKernel, Dispatch, type Kernel, packUniforms } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { defaultRowStrategy, elementGrid, rowGrid, type RowStrategy } from "./_grid.ts";
import { dummy } from "./matmul.ts";
import { type BceShape, type LatentShape, vaeScale } from "./vae_ref.ts";
import vaeWgsl from "./vae.wgsl" with { type: "text" };

export type { BceShape, LatentShape } from "./vae_ref.ts";
export type { RowStrategy } from "./_grid.ts";

const WG = 64;

/** The compiled entry points of kernels/vae.wgsl. */
export interface VaeKernels {
  /** How the BCE spreads rows over the device. */
  strategy: RowStrategy;
  latentForward: Kernel;
  latentBackward: Kernel;
  bce: Kernel;
  sigmoid: Kernel;
}

/**
 * Compiles the VAE probe kernels (once per device; bind them many times). The BCE's row
 * strategy defaults to the one measured faster on this kind of adapter; tests pass both.
 */
export async function vaeKernels(
  gpu: Gpu,
  strategy: RowStrategy = defaultRowStrategy(gpu),
): Promise<VaeKernels> {
  const compile = (name: string, entryPoint: string, storage: ("read" | "read_write")[]) =>
    compileKernel(gpu, { name, code: vaeWgsl, entryPoint, storage, constants: { WG } });
  return {
    strategy,
    latentForward: await compile("vae latent forward", "latent_forward", [
      "read",
      "read",
      "read_write",
      "read_write",
    ]),
    latentBackward: await compile("vae latent backward", "latent_backward", [
      "read",
      "read",
      "read",
      "read_write",
    ]),
    bce: await compile(
      `vae bce (${strategy})`,
      strategy === "workgroup" ? "bce_wg" : "bce_thread",
      ["read", "read", "read_write", "read_write"],
    ),
    sigmoid: await compile("vae sigmoid", "sigmoid_out", ["read", "read_write"]),
  };
}

function need(what: string, t: Tensor, size: number): void {
  if (t.size < size) {
    throw new Error(`kernels/vae.ts: ${what} ${t.label} [${t.shape}] holds fewer than ${size}`);
  }
}

function params(
  rows: number,
  cols: number,
  targetRows: number,
  out1: boolean,
  out2: boolean,
  scale: number,
): ArrayBuffer {
  return packUniforms({
    rows,
    cols,
    target_rows: targetRows,
    has_out1: out1 ? 1 : 0,
    has_out2: out2 ? 1 : 0,
    scale,
  }, ["scale"]);
}

/**
 * Binds z = μ + exp(½ log σ²)·ε and, unless `kl` is null, the per-sample KL
 * kl[r] = −½ Σ_j (1 + log σ² − μ² − σ²) (unscaled, nats). Upload ε each step into the same
 * tensor; upload zeros to decode μ. One invocation per row (L is small).
 *
 * @example
 * ```ts
 * import { sharedGpu } from "../gpu/device.ts";
 * import { run } from "../gpu/kernel.ts";
 * import { tensor } from "../gpu/tensor.ts";
 * import { bindLatentForward, vaeKernels } from "./vae.ts";
 * const gpu = await sharedGpu();
 * const s = { batch: 128, latent: 16 };
 * const stats = tensor(gpu, [128, 32], "stats"), eps = tensor(gpu, [128, 16], "eps");
 * const z = tensor(gpu, [128, 16], "z"), kl = tensor(gpu, [128], "kl");
 * run(gpu, [bindLatentForward(gpu, await vaeKernels(gpu), s, stats, eps, z, kl)]);
 * ```
 */
export function bindLatentForward(
  gpu: Gpu,
  k: VaeKernels,
  s: LatentShape,
  stats: Tensor, // (R, 2L): μ | log σ²
  eps: Tensor, // (R, L)
  z: Tensor, // (R, L) out
  kl: Tensor | null, // (R) out
): Dispatch {
  const { batch: R, latent: L } = s;
  need("stats", stats, 2 * R * L);
  need("eps", eps, R * L);
  need("z", z, R * L);
  if (kl) need("kl", kl, R);
  return new Dispatch(
    gpu,
    k.latentForward,
    [stats, eps, z, kl ?? dummy(gpu)],
    params(R, L, 1, false, kl !== null, 0),
    elementGrid(R, WG),
  );
}

/**
 * Binds dstats = (dz + klScale·μ | dz·½·σ·ε + klScale·½·(σ² − 1)): the reparameterisation's
 * backward plus the KL gradient of the mean-over-rows loss (klScale = 1/R by default; pass
 * β/R to weight the KL, 0 to leave it out). Overwrites dstats.
 */
export function bindLatentBackward(
  gpu: Gpu,
  k: VaeKernels,
  s: LatentShape,
  stats: Tensor, // (R, 2L)
  eps: Tensor, // (R, L)
  dz: Tensor, // (R, L)
  dstats: Tensor, // (R, 2L) out
  klScale: number = vaeScale(s.batch),
): Dispatch {
  const { batch: R, latent: L } = s;
  need("stats", stats, 2 * R * L);
  need("eps", eps, R * L);
  need("dz", dz, R * L);
  need("dstats", dstats, 2 * R * L);
  return new Dispatch(
    gpu,
    k.latentBackward,
    [stats, eps, dz, dstats],
    params(R, L, 1, false, false, klScale),
    elementGrid(R * L, WG),
  );
}

/**
 * Binds the BCE of σ(logits) against targets in [0, 1], from the logits (stable for any
 * logit): loss[r] = Σ_p bce (unscaled, nats per image) unless `loss` is null, and
 * dlogits = (σ(x) − t)·scale (scale = 1/R by default) unless `dlogits` is null. Logits row r
 * is compared with target row r % targetRows. One workgroup or one invocation per row, by
 * `k.strategy`.
 */
export function bindBce(
  gpu: Gpu,
  k: VaeKernels,
  s: BceShape,
  logits: Tensor, // (R, P)
  target: Tensor, // (targetRows, P)
  loss: Tensor | null, // (R) out
  dlogits: Tensor | null, // (R, P) out
  scale: number = vaeScale(s.rows),
): Dispatch {
  const { rows: R, pixels: P } = s;
  const targetRows = s.targetRows ?? R;
  if (!Number.isInteger(targetRows) || targetRows < 1) {
    throw new Error(`kernels/vae.ts: targetRows must be a positive integer, got ${targetRows}`);
  }
  if (!loss && !dlogits) throw new Error("kernels/vae.ts: bce needs loss or dlogits");
  need("logits", logits, R * P);
  need("target", target, targetRows * P);
  if (loss) need("loss", loss, R);
  if (dlogits) need("dlogits", dlogits, R * P);
  return new Dispatch(
    gpu,
    k.bce,
    [logits, target, loss ?? dummy(gpu), dlogits ?? dummy(gpu)],
    params(R, P, targetRows, loss !== null, dlogits !== null, scale),
    rowGrid(R, WG, k.strategy),
  );
}

/** Binds out = σ(logits) over `n` elements (reconstructions from decoder logits). */
export function bindSigmoid(
  gpu: Gpu,
  k: VaeKernels,
  n: number,
  logits: Tensor,
  out: Tensor,
): Dispatch {
  need("logits", logits, n);
  need("out", out, n);
  return new Dispatch(
    gpu,
    k.sigmoid,
    [logits, out],
    params(n, 1, 1, false, false, 0),
    elementGrid(n, WG),
  );
}
