/**
 * Atomic file writes: the bytes go to a temporary file in the destination's folder, are flushed
 * to disk, and the temporary file is renamed over the destination. A reader (or a run resumed
 * after a crash or Ctrl-C) sees either the old file or the new one, never half of one; the rename
 * is atomic because both names are in the same folder, hence on the same file system.
 *
 * @module
 */

function tempNameFor(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const tag = `${Deno.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  return `${dir}.${base}.${tag}.tmp`;
}

/**
 * Writes `bytes` to `path` atomically (temporary file in the same folder, flush, rename).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./write_atomic.ts";
 * await writeFileAtomic("/tmp/x.bin", new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = tempNameFor(path);
  try {
    const file = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      // Without the flush a power cut after the rename could leave an empty file behind.
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write "${path}": ${(e as Error).message}`);
  }
}

/** Writes UTF-8 `text` to `path` atomically; see {@link writeFileAtomic}. */
export function writeTextFileAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}
