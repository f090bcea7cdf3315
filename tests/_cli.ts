/**
 * Running the command line as a user does, for the end-to-end tests: `deno run -A cli.ts …` in
 * a child process from the project root, with its exit code and output.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

/** The project root (where cli.ts and deno.json are). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** What a CLI run returned. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cli.ts` with `args` and extra environment variables (NO_COLOR is always set). */
export async function glimpseWith(env: Record<string, string>, ...args: string[]): Promise<Output> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `cli.ts` with `args`. */
export function glimpse(...args: string[]): Promise<Output> {
  return glimpseWith({}, ...args);
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Exit code 1, nothing on stdout, and one `glimpse: …` line on stderr matching `pattern`. */
export function assertUsageError(r: Output, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^glimpse: /);
  assert.match(lines[0], pattern);
}
