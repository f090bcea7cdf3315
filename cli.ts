/**
 * The glimpse command line. This is the only module that reads Deno.args or calls Deno.exit;
 * each subcommand lazily imports its implementation.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import denoJson from "./deno.json" with { type: "json" };

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

program.addCommand((await import("./commands/data.ts")).dataCommand());

program.command("rewards")
  .description("list the built-in rewards and their options (rewards check PLUGIN: try a plugin)")
  .action(async () => console.log(await (await import("./commands/rewards.ts")).rewardsList()))
  .command("check")
  .description("load a reward plugin in the sandbox, run it on a synthetic batch, print its output")
  .argument("<plugin>", "classification, entropy, a module path or a URL")
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

/** Runs the CLI. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
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
