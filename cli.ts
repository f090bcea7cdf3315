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
