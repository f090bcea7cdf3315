/**
 * A checkpoint is one atomic unit. Its files (model.safetensors, optimizer.safetensors,
 * config.json, metrics.jsonl) are renamed one by one, and a kill between two renames would
 * leave a model from one step beside an optimizer from another. So a checkpoint is committed
 * like a redo journal:
 *
 * 1. every file is written (flushed) into the staging folder `DIR/.checkpoint-next/`;
 * 2. `.checkpoint-next/COMMIT` is written atomically, naming the files: this rename is the
 *    commit point, before it the old checkpoint is the current one, after it the new one;
 * 3. each staged file is renamed over its name in DIR, then COMMIT and the folder are removed.
 *
 * A kill anywhere leaves either an uncommitted staging folder (discarded at the next open:
 * the old files were never touched) or a committed one (rolled forward at the next open:
 * every rename is redone, each at most once). Readers in between resolve every file through
 * {@link currentCheckpointFile}, which sees the committed generation whole without changing
 * the folder. Writers hold the run folder's lock (run_lock.ts), so there is one at a time.
 *
 * @module
 */
import { writeFileAtomic } from "../util/write_atomic.ts";
import { pathExists, readRegularTextFile } from "../util/read_regular.ts";

/** The staging folder inside a run folder. */
export const STAGING_DIR = ".checkpoint-next";
/** The commit marker inside the staging folder: JSON `{"files": [names]}`. */
export const COMMIT_FILE = "COMMIT";

/**
 * Called at each point of a commit, for tests that simulate a crash there (a throw stops the
 * commit as a kill would): `staged NAME` after each file is written, `committed` after the
 * COMMIT marker, `moved NAME` after each rename into the folder.
 */
export type CommitHook = (event: string) => void | Promise<void>;

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** The file names a committed staging folder lists, or null when it holds no commit. */
async function committedFiles(dir: string): Promise<string[] | null> {
  const marker = join(join(dir, STAGING_DIR), COMMIT_FILE);
  if (!(await pathExists(marker))) return null;
  const text = await readRegularTextFile(marker);
  let files: unknown;
  try {
    files = (JSON.parse(text) as { files?: unknown }).files;
  } catch {
    files = undefined;
  }
  if (!Array.isArray(files) || !files.every((f) => typeof f === "string" && !f.includes("/"))) {
    throw new Error(`Cannot read "${marker}": not a checkpoint commit marker`);
  }
  return files as string[];
}

/**
 * Writes `files` (name → bytes) into `dir` as one checkpoint: all of them or, after a crash,
 * none (see the module doc). The caller holds the folder's lock.
 *
 * @example
 * ```ts
 * import { commitCheckpoint } from "./checkpoint_commit.ts";
 * const dir = await Deno.makeTempDir();
 * await commitCheckpoint(dir, new Map([["a.txt", new TextEncoder().encode("new")]]));
 * await Deno.readTextFile(`${dir}/a.txt`); // "new"
 * ```
 */
export async function commitCheckpoint(
  dir: string,
  files: ReadonlyMap<string, Uint8Array>,
  hook?: CommitHook,
): Promise<void> {
  const staging = join(dir, STAGING_DIR);
  // A staging folder left here is an uncommitted attempt (recovery rolls committed ones forward).
  await recoverCheckpoint(dir);
  await Deno.mkdir(staging, { recursive: true });
  for (const [name, bytes] of files) {
    await writeFileAtomic(join(staging, name), bytes);
    await hook?.(`staged ${name}`);
  }
  await writeFileAtomic(
    join(staging, COMMIT_FILE),
    new TextEncoder().encode(JSON.stringify({ files: [...files.keys()] }) + "\n"),
  );
  await hook?.("committed");
  await rollForward(dir, [...files.keys()], hook);
}

/** Moves the committed files into `dir` (each at most once), then removes the staging folder. */
async function rollForward(dir: string, names: string[], hook?: CommitHook): Promise<void> {
  const staging = join(dir, STAGING_DIR);
  for (const name of names) {
    const from = join(staging, name);
    if (await pathExists(from)) {
      await Deno.rename(from, join(dir, name));
      await hook?.(`moved ${name}`);
    }
  }
  await Deno.remove(join(staging, COMMIT_FILE)).catch(() => {});
  await Deno.remove(staging, { recursive: true }).catch(() => {});
}

/**
 * Finishes or discards an interrupted commit in `dir`: a committed staging folder is rolled
 * forward, an uncommitted one removed. Returns what it did ("rolled forward", "discarded") or
 * null when there was nothing to do. Call it holding the folder's lock.
 */
export async function recoverCheckpoint(
  dir: string,
): Promise<"rolled forward" | "discarded" | null> {
  const staging = join(dir, STAGING_DIR);
  if (!(await pathExists(staging))) return null;
  const files = await committedFiles(dir);
  if (files) {
    await rollForward(dir, files);
    return "rolled forward";
  }
  await Deno.remove(staging, { recursive: true });
  return "discarded";
}

/**
 * The path to read checkpoint file `name` of run folder `dir` from: the staged copy while a
 * committed generation is being moved in, else `dir/name`. Read-only, so a reader (eval while
 * a training writes) never changes the folder.
 */
export async function currentCheckpointFile(dir: string, name: string): Promise<string> {
  const files = await committedFiles(dir).catch(() => null);
  if (files?.includes(name)) {
    const staged = join(join(dir, STAGING_DIR), name);
    if (await pathExists(staged)) return staged;
  }
  return join(dir, name);
}
