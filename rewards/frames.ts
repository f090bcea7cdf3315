/**
 * The wire format between the host and a plugin's process (rewards/runner.ts), over the
 * process's stdin and stdout: frames of `"GLMP"`, u32 LE JSON length, u32 LE binary length,
 * the JSON header, then the raw bytes of the typed arrays it describes. Binary rather than JSON
 * numbers so a batch costs a copy, not a float-to-text round trip, and so a reward of 1e300
 * arrives as the float64 it was (the host checks it before any Float32 conversion).
 *
 * The magic catches a plugin that writes to stdout itself: the host stops it with a clear error
 * instead of reading its text as a frame.
 *
 * @module
 */

/** One message: a JSON header and an optional binary payload. */
export interface Frame {
  header: Record<string, unknown>;
  body: Uint8Array;
}

const MAGIC = [0x47, 0x4c, 0x4d, 0x50]; // "GLMP"
const HEAD = 12;
/** A frame larger than this is refused: no batch comes near it. */
export const MAX_FRAME_BYTES = 256 * 2 ** 20;

/** The bytes of one frame. */
export function encodeFrame(header: Record<string, unknown>, body?: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = body?.byteLength ?? 0;
  const out = new Uint8Array(HEAD + json.length + n);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, json.length, true);
  view.setUint32(8, n, true);
  out.set(json, HEAD);
  if (body) out.set(body, HEAD + json.length);
  return out;
}

/** Concatenates typed arrays' bytes (the payload of a frame). */
export function concatBytes(parts: readonly ArrayBufferView[]): Uint8Array {
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Splits a byte stream into frames. `push` chunks as they arrive, then `next()` until it
 * returns null. Throws on bytes that are not a frame (a plugin writing to stdout).
 */
export class FrameReader {
  #buf = new Uint8Array(0);
  #len = 0;

  push(chunk: Uint8Array): void {
    if (this.#len + chunk.length > this.#buf.length) {
      const grown = new Uint8Array(Math.max(2 * this.#buf.length, this.#len + chunk.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
  }

  next(): Frame | null {
    const n = Math.min(this.#len, 4);
    for (let i = 0; i < n; i++) {
      if (this.#buf[i] !== MAGIC[i]) {
        // The stray bytes end where the next frame starts (they may arrive in one chunk with
        // it) or at the first line break; at most 60 of them are shown.
        let end = Math.min(this.#len, 60);
        for (let j = 1; j < end; j++) {
          if (this.#buf[j] === 0x0a || startsFrame(this.#buf, j, this.#len)) {
            end = j;
            break;
          }
        }
        const text = new TextDecoder().decode(this.#buf.subarray(0, end)).trim();
        throw new Error(`wrote to standard output outside the sandbox protocol: ${text}`);
      }
    }
    if (this.#len < HEAD) return null;
    const view = new DataView(this.#buf.buffer, 0, HEAD);
    const jsonLen = view.getUint32(4, true), bodyLen = view.getUint32(8, true);
    if (jsonLen + bodyLen > MAX_FRAME_BYTES) {
      throw new Error(`sent a frame of ${jsonLen + bodyLen} bytes (at most ${MAX_FRAME_BYTES})`);
    }
    const end = HEAD + jsonLen + bodyLen;
    if (this.#len < end) return null;
    const header = JSON.parse(new TextDecoder().decode(this.#buf.subarray(HEAD, HEAD + jsonLen)));
    const body = this.#buf.slice(HEAD + jsonLen, end);
    this.#buf.copyWithin(0, end, this.#len);
    this.#len -= end;
    if (typeof header !== "object" || header === null || Array.isArray(header)) {
      throw new Error("sent a frame whose header is not an object");
    }
    return { header, body };
  }
}

/** Whether the bytes at `at` (of `len` filled) begin with the frame marker. */
function startsFrame(buf: Uint8Array, at: number, len: number): boolean {
  if (at + MAGIC.length > len) return false;
  for (let i = 0; i < MAGIC.length; i++) if (buf[at + i] !== MAGIC[i]) return false;
  return true;
}
