/**
 * Reading a file that must be a regular file. Opening a FIFO (named pipe) for reading blocks
 * until some other process opens it for writing, so a run folder whose model.safetensors is a
 * FIFO would hang a command forever; a device or a folder is no better. The path is stat'ed
 * (following symbolic links) first and anything but a regular file is refused, naming it.
 *
 * @module
 */

/**
 * Why `path` cannot be read as a file, or null when it is a regular file. A missing path gives
 * "no such file".
 */
async function notRegular(path: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "no such file";
    return (e as Error).message;
  }
  if (info.isFile) return null;
  if (info.isDirectory) return "is a folder, not a file";
  if (info.isFifo) return "is a FIFO (named pipe), not a regular file";
  return "is not a regular file";
}

/**
 * Reads the bytes of `path`, refusing anything but a regular file; errors are one line
 * `Cannot read "PATH": why`.
 *
 * @example
 * ```ts
 * import { readRegularFile } from "./read_regular.ts";
 * await Deno.writeTextFile("/tmp/read_regular_example.txt", "hi");
 * (await readRegularFile("/tmp/read_regular_example.txt")).length; // 2
 * ```
 */
export async function readRegularFile(path: string): Promise<Uint8Array> {
  const why = await notRegular(path);
  if (why) throw new Error(`Cannot read "${path}": ${why}`);
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
}

/** Reads `path` as UTF-8 text; see {@link readRegularFile}. */
export async function readRegularTextFile(path: string): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path));
}

/** True when `path` exists (as anything: a FIFO counts, so that it is refused, not ignored). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
