/**
 * The run folder's lock: one writer at a time. A training (or probe training) holds
 * `DIR/lock` (JSON: pid, hostname, started, purpose) while it runs; a second one with the same
 * folder is refused, naming the holder. A lock whose process is gone (kill -9, power cut) is
 * stale: the next writer on the same host takes it over with a note. A lock from another host
 * cannot be checked and is never taken over.
 *
 * Taking the lock also cleans what a killed writer left: an interrupted checkpoint commit is
 * finished or discarded (checkpoint_commit.ts) and temporary files of dead processes removed.
 *
 * @module
 */
import { pathExists, readRegularTextFile } from "../util/read_regular.ts";
import { recoverCheckpoint } from "./checkpoint_commit.ts";

/** The lock file inside a run folder. */
export const LOCK_FILE = "lock";

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What holds it, e.g. "training". */
  purpose: string;
}

/** A held lock. */
export interface RunLock {
  dir: string;
  /** Lines about what was cleaned up or taken over (for the user), possibly none. */
  notes: string[];
  /** Removes the lock (when it is still this process's). */
  release(): Promise<void>;
}

/** A run folder held by another live process. */
export class RunFolderBusyError extends Error {
  constructor(readonly dir: string, readonly holder: LockInfo) {
    super(
      `Cannot use run folder "${dir}": ${holder.purpose} (pid ${holder.pid} on ${holder.hostname}, ` +
        `since ${holder.started}) holds it; wait for it to end, or use another folder ` +
        `(if no such process runs, remove "${dir}/${LOCK_FILE}")`,
    );
    this.name = "RunFolderBusyError";
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Whether process `pid` on this host is alive; undefined when it cannot be told. */
export async function processAlive(pid: number): Promise<boolean | undefined> {
  if (pid === Deno.pid) return true;
  if (Deno.build.os === "linux") return await pathExists(`/proc/${pid}`);
  try {
    const r = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
      .output();
    return r.success;
  } catch {
    return undefined;
  }
}

async function readLock(file: string): Promise<LockInfo | null> {
  let text: string;
  try {
    text = await readRegularTextFile(file);
  } catch (e) {
    if (!(await pathExists(file))) return null; // released meanwhile
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    if (Number.isSafeInteger(v.pid) && typeof v.hostname === "string") return v;
  } catch { /* reported below */ }
  throw new Error(`Cannot read "${file}": not a glimpse lock file (remove it if no run is alive)`);
}

/** Writes `info` as `file` only if `file` does not exist (a hard link fails on an existing name). */
async function createLock(file: string, info: LockInfo): Promise<boolean> {
  const temp = `${file}.${Deno.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(info) + "\n");
  try {
    await Deno.link(temp, file);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw new Error(`Cannot write "${file}": ${(e as Error).message}`);
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** `.NAME.PID.TIME.RAND.tmp` (util/write_atomic.ts) and `NAME.PID.RAND.tmp` (the lock's). */
const TEMP_PID = /^(?:\..+\.(\d+)\.[0-9a-z]+\.[0-9a-z]+|.+\.(\d+)\.[0-9a-z]+)\.tmp$/;

/** Removes temporary files in `dir` whose writing process is gone; returns how many. */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  for await (const entry of Deno.readDir(dir)) {
    const m = entry.isFile ? TEMP_PID.exec(entry.name) : null;
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid !== Deno.pid && (await processAlive(pid)) === false) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
      removed++;
    }
  }
  return removed;
}

/**
 * Takes the lock of run folder `dir` (created when missing) for `purpose`, then finishes or
 * discards an interrupted checkpoint commit and removes stale temporary files. Throws
 * {@link RunFolderBusyError} when a live process holds it.
 *
 * @example
 * ```ts
 * import { lockRunFolder } from "./run_lock.ts";
 * const lock = await lockRunFolder(await Deno.makeTempDir(), "training");
 * try {
 *   // … write checkpoints …
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function lockRunFolder(dir: string, purpose: string): Promise<RunLock> {
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir.replace(/\/+$/, "")}/${LOCK_FILE}`;
  const mine: LockInfo = {
    pid: Deno.pid,
    hostname: hostname(),
    started: new Date().toISOString(),
    purpose,
  };
  const notes: string[] = [];
  for (let attempt = 0; attempt < 3 && !(await createLock(file, mine)); attempt++) {
    const holder = await readLock(file);
    if (!holder) continue;
    const alive = holder.hostname === mine.hostname ? await processAlive(holder.pid) : undefined;
    if (alive !== false) throw new RunFolderBusyError(dir, holder);
    notes.push(
      `${dir}: taking over the lock of ${holder.purpose} pid ${holder.pid} (since ` +
        `${holder.started}), which is no longer running`,
    );
    await Deno.remove(file).catch(() => {});
  }
  // Two processes taking over the same stale lock at once: whoever's lock is there now holds it.
  const now = await readLock(file);
  if (!now || now.pid !== mine.pid || now.started !== mine.started) {
    if (now) throw new RunFolderBusyError(dir, now);
    throw new Error(`Cannot lock run folder "${dir}": the lock file keeps changing`);
  }
  try {
    const recovered = await recoverCheckpoint(dir);
    if (recovered === "rolled forward") {
      notes.push(`${dir}: finished moving in the checkpoint an interrupted save had committed`);
    } else if (recovered === "discarded") {
      notes.push(`${dir}: discarded a checkpoint an interrupted save had not finished`);
    }
    const temps = await removeStaleTemps(dir);
    if (temps > 0) notes.push(`${dir}: removed ${temps} temporary file(s) of a killed run`);
  } catch (e) {
    await Deno.remove(file).catch(() => {});
    throw e;
  }
  return {
    dir,
    notes,
    release: async () => {
      const holder = await readLock(file).catch(() => null);
      if (holder?.pid === mine.pid && holder.started === mine.started) {
        await Deno.remove(file).catch(() => {});
      }
    },
  };
}
