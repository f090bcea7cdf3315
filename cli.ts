/**
 * The glimpse command line. This is the only module that reads Deno.args or calls Deno.exit;
 * each subcommand lazily imports its implementation.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import denoJson from "./deno.json" with { type: "json" };
import { withDatasetFlags } from "./commands/dataset_flags.ts";

/** An error whose message is meant for the user as is (no stack trace without --debug). */
export class UsageError extends Error {
  override name = "UsageError";
}

const program = new Command()
  .name("glimpse")
  .description(
    "Train, evaluate and explain Recurrent Attention Models on WebGPU, with reward plugins.",
  )
  .version(denoJson.version)
  .option("--debug", "print stack traces on errors")
  .showHelpAfterError("(run with --help for usage)");

/** Exit status set by a subcommand's action (0 unless it says otherwise). */
let status = 0;

withDatasetFlags(
  program.command("train")
    .description(
      "train a RAM; writes runs/NAME/{config.json,model.safetensors,optimizer.safetensors,metrics.jsonl}",
    ),
)
  .option("--patch <px>", "retina patch side (default: 8 at 28 px, 12 from a 60 px canvas)")
  .option("--scales <k>", "retina scales (default: 1 at 28 px, 3 at 60, 4 at 100)")
  .option("--glimpses <n>", "glimpses per image (default: 6)")
  .option("--epochs <n>", "epochs (default: 20)")
  .option("--batch <n>", "batch size (default: 128)")
  .option("--lr <rate>", "Adam learning rate (default: 3e-4)")
  .option("--policy-lr <rate>", "Adam learning rate of the location policy (default: --lr)")
  .option("--baseline-lr <rate>", "Adam learning rate of the baseline (default: --lr)")
  .option(
    "--test-every <n>",
    "also test after every n-th epoch, for a learning curve in metrics.jsonl (default: last epoch only)",
  )
  .option(
    "--schedule <name>",
    "learning-rate schedule: constant or cosine (lr × ½(1 + cos(π(e−1)/E)) in epoch e of E) (default: constant)",
  )
  .option("--seed <n>", "seed of every random draw (default: 1)")
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .option("--out <dir>", "run folder (default: runs/<dataset>-<reward>-s<seed>)")
  .option("--limit <n>", "train on the first N training images (class by class in turn)")
  .option(
    "--reward <name|path>",
    "classification, entropy, early-information or a plugin module (default: classification)",
  )
  .option(
    "--reward-opt <key=value>",
    "reward option (repeatable)",
    (v: string, all: string[] = []) => [...all, v],
  )
  .option(
    "--reward-timeout <ms>",
    "limit for loading the reward and for each call (default: 10000)",
  )
  .option(
    "--validation <amount>",
    "hold out training images for validation: a fraction < 1 or a count (mnist: 5000, else 0)",
  )
  .option(
    "--plateau <epochs>",
    "halve the learning rate after this many epochs without better validation accuracy",
  )
  .option("--resume", "continue the run in --out from its checkpoint (only --epochs may change)")
  .option("--json", "print one JSON object on stdout when done")
  .option("--no-vae", "do not train the VAE probe alongside the RAM")
  .option("--vae-start <epoch>", "first epoch that trains the VAE probe (default: 1)")
  .option(
    "--vae-rows <k>",
    "glimpses per image the VAE probe steps on, drawn by seed (default: 1; the glimpse count: all)",
  )
  .option(
    "--vae-images <share>",
    "share of each batch's images the VAE probe steps on, in (0, 1] (default: 0.5; 1: all)",
  )
  .option("--no-cls", "do not train the class probe alongside the RAM")
  .option("--cls-start <epoch>", "first epoch that trains the class probe (default: 1)")
  .option(
    "--no-probe-worker",
    "on cpu, step the probes on the main thread after each RAM step, not one step behind it beside its lanes or in a Worker (slower)",
  )
  .option("--verbose", "more progress lines")
  .exitOverride()
  .action(async (opts) => {
    const { trainCommand } = await import("./commands/train.ts");
    status = await trainCommand(opts);
  });

withDatasetFlags(
  program.command("eval")
    .description(
      "test error and per-glimpse accuracy of a trained RAM (its own data unless the dataset flags say otherwise)",
    )
    .requiredOption("--model <dir>", "run folder (or its model.safetensors)"),
)
  .option("--noise <spec>", "also test with noise: gaussian:0.1,0.2,0.4 or salt-pepper:0.05,0.1")
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .option("--stochastic", "sample the policy (from a random first location) instead of its mean")
  .option("--mc <m>", "average the class probabilities of M stochastic rollouts")
  .option(
    "--start <where>",
    "first location: center | uniform (seeded U(-1,1)²); default center, uniform if stochastic",
  )
  .option(
    "--control <name>",
    "also an EIG table with glimpses placed by a control: fixed, random or untrained (repeatable)",
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option("--controls", "all three controls")
  .option("--out <dir>", "folder for eig.md, eig.csv and eig.json (default: the run folder)")
  .option("--json", "print one JSON object on stdout")
  .exitOverride()
  .action(async (opts) => {
    const { evalCommand } = await import("./commands/eval.ts");
    status = await evalCommand(opts);
  });

program.command("probe")
  .description(
    "train the VAE probe and the class probe on a trained RAM's recurrent states (RAM frozen)",
  )
  .requiredOption("--model <dir>", "run folder; its checkpoint is written back with the probe")
  .option("--epochs <n>", "probe epochs over the training split (default: 5)")
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .option("--no-vae", "leave the VAE probe as it is (train only the class probe)")
  .option("--no-cls", "leave the class probe as it is (train only the VAE probe)")
  .option("--json", "print one JSON object on stdout when done")
  .exitOverride()
  .action(async (opts) => {
    const { probeCommand } = await import("./commands/probe.ts");
    status = await probeCommand(opts);
  });

program.addCommand((await import("./commands/data.ts")).dataCommand());

program.command("explain")
  .description("what a trained RAM looked at and knew after each glimpse of one image")
  .argument("<image>", "PNG or JPEG file")
  .option("--model <dir>", "run folder (default: the shipped checkpoints/mnist-entropy)")
  .option("--out <dir>", "folder for NAME.glimpses.png and NAME.recon.png (default: runs/explain)")
  .option("--json", "print one JSON object on stdout")
  .option("--no-fit", "take the image as it is (resampled) instead of fitting it MNIST-style")
  .option("--eig-map", "also write NAME.eigmap.png: expected information gain of each next glimpse")
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .exitOverride()
  .action(async (image, opts) => {
    const { explainCommand } = await import("./commands/explain.ts");
    status = await explainCommand(image, opts);
  });

withDatasetFlags(
  program.command("compare")
    .description(
      "EIG table of each run on the same test split, and a chart of cumulative information gain",
    )
    .argument("<runs...>", "run folders (checkpoints/NAME or runs/NAME)"),
)
  .option("--out <dir>", "folder for eig-compare.{md,csv,svg,png} (default: runs/compare)")
  .option(
    "--limit <n>",
    "evaluate N test images only: a seeded sample with every class in its share",
  )
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .option("--json", "print one JSON object on stdout")
  .exitOverride()
  .action(async (runs, opts) => {
    const { compareCommand } = await import("./commands/compare.ts");
    status = await compareCommand(runs, opts);
  });

program.command("serve")
  .description("the explorer in the browser: serves the page and the models on 127.0.0.1")
  .option(
    "--model <dir>",
    "a run folder to offer (repeatable; default: the shipped models)",
    (v: string, all: string[] = []) => [...all, v],
  )
  .option("--port <n>", "port (default: 8000; 0 picks a free one)")
  .exitOverride()
  .action(async (opts) => {
    status = await (await import("./commands/serve.ts")).serveCommand(opts);
  });

program.command("site")
  .description("writes the explorer page and the models as static files for any web host")
  .requiredOption("--out <dir>", "folder to write (replaced atomically)")
  .option(
    "--model <dir>",
    "a run folder to offer (repeatable; default: the shipped models)",
    (v: string, all: string[] = []) => [...all, v],
  )
  .exitOverride()
  .action(async (opts) => {
    status = await (await import("./commands/serve.ts")).siteCommand(opts);
  });

program.command("reproduce")
  .description(
    "the seed's experiments end to end (datasets × rewards × 3 seeds) and one report with verdicts",
  )
  .option("--quick", "mnist-10k, 2 epochs on 2,000 digits, no cluttered MNIST: minutes, not hours")
  .option("--out <dir>", "folder of the runs and the report (default: runs/reproduce[-quick])")
  .option(
    "--backend <name>",
    "auto, webgpu or cpu (default: auto: webgpu on a hardware GPU, else cpu on the BLAS)",
  )
  .option("--epochs <n>", "epochs of each RAM (default: 20; 2 with --quick)")
  .option(
    "--jobs <n>",
    "runs trained at the same time, each in its own process (default: 1; one per core at most)",
  )
  .option("--plan", "print the runs it would make and stop")
  .exitOverride()
  .action(async (opts) => {
    const { reproduce } = await import("./report/reproduce.ts");
    const { resolveBackendOption } = await import("./commands/backend.ts");
    const { writeStderr } = await import("./commands/progress.ts");
    status = await reproduce(opts, {
      backend: async () => (await resolveBackendOption(opts.backend)).name,
      say: writeStderr,
    });
  });

program.command("examples")
  .description("write the example images explain is shown on, from the MNIST test split")
  .option("--out <dir>", "folder to write them to (default: examples)")
  .exitOverride()
  .action(async (opts) => {
    const { writeExamples } = await import("./commands/examples.ts");
    for (const line of await writeExamples(opts.out)) console.log(line);
  });

program.command("rewards")
  .description("list the built-in rewards and their options (rewards check PLUGIN: try a plugin)")
  .action(async () => console.log(await (await import("./commands/rewards.ts")).rewardsList()))
  .command("check")
  .description("load a reward plugin in the sandbox, run it on a synthetic batch, print its output")
  .argument("<plugin>", "classification, entropy, early-information, a module path or a URL")
  .option("--reward-opt <key=value>", "reward option (repeatable)", (v, all: string[] = []) => [
    ...all,
    v,
  ])
  .option("--reward-timeout <ms>", "limit for loading the reward and for the call (default: 10000)")
  .option("--glimpses <n>", "T of the synthetic batch (default: 6)")
  .option("--batch <n>", "B of the synthetic batch (default: 128)")
  .option("--classes <n>", "C of the synthetic batch (default: 10)")
  .option("--seed <n>", "seed of the synthetic batch (default: 1)")
  .action(async (plugin, flags) =>
    console.log(await (await import("./commands/rewards.ts")).rewardsCheck(plugin, flags))
  );

/** Example lines shown at the end of each command's --help, keyed by its path. */
const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  train: [
    "deno task train --reward entropy --epochs 20 --out runs/ent",
    "deno task train --dataset mnist-10k --limit 2000 --epochs 2 --backend cpu --out runs/quick",
    "deno task train --reward ./my_reward.ts --reward-opt early=0.05 --variant cluttered",
    "deno task train --resume --out runs/ent --epochs 30",
  ],
  eval: [
    "deno task eval --model runs/ent",
    "deno task eval --model checkpoints/mnist-entropy --mc 10 --json",
    "deno task eval --model runs/ent --noise gaussian:0.1,0.2",
  ],
  probe: ["deno task probe --model runs/ent --epochs 5"],
  explain: [
    "deno task explain examples/seven.png",
    "deno task explain photo.jpg --model runs/ent --out out/ --eig-map",
    "deno task explain examples/cluttered-four.png --no-fit --model runs/cluttered --json",
  ],
  compare: [
    "deno task compare checkpoints/mnist-classification checkpoints/mnist-entropy --out out/",
    "deno task compare runs/a runs/b --limit 500 --json",
  ],
  examples: ["deno task examples", "deno task examples --out /tmp/examples"],
  rewards: ["deno task rewards", "deno task rewards check examples/saccade_reward.ts"],
  "rewards check": [
    "deno task rewards check entropy --reward-opt beta=1",
    "deno task rewards check ./my_reward.ts --glimpses 4 --batch 8",
  ],
  data: [
    "deno task data preview --variant cluttered --out grid.png",
    "deno task data mnist --to data/mnist",
  ],
  "data preview": ["deno task data preview --dataset fashion-mnist --count 16 --out grid.png"],
  "data mnist": ["deno task data mnist --to data/mnist"],
};

function addExamples(cmd: Command<unknown[], Record<string, unknown>>, path: string[]): void {
  for (const sub of cmd.commands) {
    const key = [...path, sub.name()].join(" ");
    const lines = EXAMPLES[key];
    if (lines) sub.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`);
    addExamples(sub as Command<unknown[], Record<string, unknown>>, [...path, sub.name()]);
  }
}
addExamples(program as unknown as Command<unknown[], Record<string, unknown>>, []);

/** Runs the CLI. */
export async function main(argv: string[]): Promise<number> {
  status = 0;
  try {
    await program.parseAsync(argv, { from: "user" });
    return status;
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      return err.exitCode ?? 1;
    }
    if (program.opts().debug) console.error(err);
    else console.error(`glimpse: ${err.message}`);
    return 1;
  }
}

if (import.meta.main) {
  program.exitOverride();
  Deno.exit(await main(Deno.args));
}
