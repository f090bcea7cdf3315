/**
 * The Worker side of probe/pipeline.ts: copies of the cpu probes and a {@link ProbeStep} over
 * them, stepping on the states the host posts. Messages are handled one after another, in the
 * order they came, each answered by one reply (the protocol's types are in probe/pipeline.ts).
 *
 * A step's own errors (a probe's loss became non-finite) are replied with their message, for
 * the host to raise as the sequential step would; anything else replies "failed".
 *
 * Loaded as a Worker's main module only; imported anywhere else it does nothing.
 *
 * @module
 */
import type { Batch, StepNoise } from "../ram/backend.ts";
import { blasLinear, type LinearOps, REF_LINEAR } from "../kernels/linear_blas.ts";
import { loadBlas } from "../util/blas.ts";
import { CpuVae } from "./vae_cpu.ts";
import { CpuClassProbe } from "./cls_cpu.ts";
import { type ProbeRam, ProbeStep } from "./step.ts";
import type { FromWorker, LinearKind, ToWorker } from "./pipeline.ts";

/** What this module uses of a dedicated worker's global scope. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer: Transferable[]): void;
}

function opsFor(kind: LinearKind): LinearOps {
  if (kind === "reference") return REF_LINEAR;
  const blas = loadBlas();
  if (!blas) throw new Error("probe worker: the host's probes run on BLAS, none opens here");
  return blasLinear(blas.sgemm);
}

let step: ProbeStep | null = null;
const NO_NOISE: StepNoise = { start: new Float32Array(0), policy: new Float32Array(0) };
const NO_IMAGES = new Float32Array(0);

async function handle(m: ToWorker): Promise<[FromWorker, Transferable[]]> {
  if (m.type === "open") {
    const vae = m.vae ? new CpuVae(m.vae.config, m.seed, opsFor(m.vae.linear)) : null;
    const cls = m.cls ? new CpuClassProbe(m.cls.config, m.seed, opsFor(m.cls.linear)) : null;
    if (vae) vae.setState(m.vae!.state);
    if (cls) cls.setState(m.cls!.state);
    const ram: ProbeRam = {
      config: m.ram,
      rollout: () => Promise.reject(new Error("probe worker: it has no RAM; post the states")),
    };
    step = new ProbeStep(
      ram,
      vae,
      m.seed,
      m.maxBatch,
      m.stream,
      cls,
      m.vaeRowsPerImage,
      m.vaeImageFraction,
    );
    return [{ type: "opened" }, []];
  }
  if (!step) throw new Error(`probe worker: "${m.type}" before "open"`);
  if (m.type === "getState") {
    return [{
      type: "state",
      vae: step.vae ? await step.vae.getState() : null,
      cls: step.cls ? await step.cls.getState() : null,
    }, []];
  }
  const { n, hidden, clean, labels } = m;
  const { glimpses: T, hidden: H } = step.ram.config;
  const batch: Batch = { size: n, images: NO_IMAGES, labels: new Int32Array(labels, 0, n) };
  const back = [hidden, clean, labels];
  try {
    const result = await step.step(batch, NO_NOISE, m.epoch, m.k, {
      hidden: new Float32Array(hidden, 0, T * n * H),
      clean: new Float32Array(clean, 0, n * (step.vae?.config.pixels ?? 0)),
      vae: m.vae,
      cls: m.cls,
    });
    return [{ type: "step", result, error: null, hidden, clean, labels }, back];
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return [{ type: "step", result: null, error, hidden, clean, labels }, back];
  }
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function") {
  const scope = globalThis as unknown as WorkerScope;
  let queue = Promise.resolve();
  scope.onmessage = (e) => {
    queue = queue.then(() =>
      handle(e.data).then(
        ([reply, transfer]) => scope.postMessage(reply, transfer),
        (err) => {
          const message = err instanceof Error ? err.message : String(err);
          scope.postMessage({ type: "failed", message }, []);
        },
      )
    );
  };
}
