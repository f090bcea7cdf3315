/**
 * Resident memory of a real training run: starts `cli.ts train` (webgpu by default, MNIST,
 * default config, a validation slice so every epoch also runs evaluation rollouts) in a child
 * process and samples its resident set (/proc/PID/status VmRSS) every 50 ms. Reports the peak
 * (VmHWM), the resident set when each epoch's metrics line lands (for the last epoch, the last
 * sample before the process exits), and the growth from the end
 * of epoch 2 to the last one (epoch 1 holds the one-off allocations: pipelines, per-batch-size
 * programs, staging buffers), and fails if that growth exceeds --max-growth MiB.
 *
 *   deno run -A bench/memory_bench.ts [--epochs 5] [--backend webgpu|cpu] [--max-growth 16]
 *
 * Linux only (reads /proc).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    epochs: { type: "string", default: "5" },
    backend: { type: "string", default: "webgpu" },
    "max-growth": { type: "string", default: "16" },
  },
});
const epochs = Number(flags.epochs), maxGrowth = Number(flags["max-growth"]);
if (!Number.isInteger(epochs) || epochs < 3) {
  throw new Error(`bench/memory_bench.ts: --epochs ${flags.epochs}: needs at least 3`);
}
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const out = await Deno.makeTempDir({ prefix: "glimpse-memory-" });
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--no-prompt",
    cli,
    "train",
    "--backend",
    flags.backend,
    "--epochs",
    String(epochs),
    "--validation",
    "0.1",
    "--out",
    out,
  ],
  stdout: "null",
  stderr: "piped",
}).spawn();

function status(): Record<string, number> {
  const text = Deno.readTextFileSync(`/proc/${child.pid}/status`);
  const kib = (key: string) => Number(text.match(new RegExp(`${key}:\\s+(\\d+) kB`))?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}
function epochsDone(): number {
  try {
    return Deno.readTextFileSync(join(out, "metrics.jsonl")).split("\n").filter((l) => l).length;
  } catch {
    return 0;
  }
}

const atEpoch: number[] = [];
let peak = 0, last = NaN, running = true;
const done = child.status.then((s) => {
  running = false;
  return s;
});
const stderr = new Response(child.stderr).text();
while (running) {
  try {
    const s = status();
    if (Number.isFinite(s.rss)) {
      peak = Math.max(peak, s.hwm);
      last = s.rss;
      while (atEpoch.length < epochsDone()) atEpoch.push(s.rss);
    }
  } catch {
    // the process is exiting
  }
  await new Promise((r) => setTimeout(r, 50));
}
const code = await done;
// The last epoch's line can land just before the process exits: take the last sample then.
while (atEpoch.length < epochsDone()) atEpoch.push(last);
await Deno.remove(out, { recursive: true });
if (!code.success) {
  throw new Error(`bench/memory_bench.ts: training failed: ${(await stderr).slice(-500)}`);
}
console.log(`${flags.backend} training, ${epochs} epochs of MNIST (validation 10%):`);
atEpoch.forEach((r, i) => console.log(`  after epoch ${i + 1}: RSS ${r.toFixed(1)} MiB`));
const growth = atEpoch[atEpoch.length - 1] - atEpoch[1];
console.log(
  `  peak RSS (VmHWM) ${peak.toFixed(1)} MiB; growth from epoch 2 to ${atEpoch.length}: ` +
    `${growth.toFixed(1)} MiB (${(growth / (atEpoch.length - 2)).toFixed(2)} MiB per epoch)`,
);
if (atEpoch.length !== epochs || growth > maxGrowth) {
  console.error(
    `bench/memory_bench.ts: ${
      atEpoch.length !== epochs ? `saw ${atEpoch.length} of ${epochs} epochs` : "memory grows"
    } (limit ${maxGrowth} MiB from epoch 2 on)`,
  );
  Deno.exit(1);
}
