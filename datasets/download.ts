/**
 * Fetching the four official MNIST idx files from a mirror, where the network allows, each
 * checked against the official file's size and SHA-256 before it is written (atomically).
 * Offline, the error says where to put the files by hand.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/write_atomic.ts";

/** One file to fetch: name, size in bytes and SHA-256 (lower-case hex). */
export interface ExpectedFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * The official MNIST files. Sizes are those LeCun's page lists; the SHA-256 sums are the ones
 * published with the TensorFlow authors' Haskell MNIST data package and torchvision's Ruby port
 * (torch.rb), which agree.
 */
export const MNIST_IDX_FILES: readonly ExpectedFile[] = [
  {
    name: "train-images-idx3-ubyte.gz",
    bytes: 9912422,
    sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
  },
  {
    name: "train-labels-idx1-ubyte.gz",
    bytes: 28881,
    sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
  },
  {
    name: "t10k-images-idx3-ubyte.gz",
    bytes: 1648877,
    sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
  },
  {
    name: "t10k-labels-idx1-ubyte.gz",
    bytes: 4542,
    sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
  },
];

/** PyTorch's public mirror of the MNIST files (LeCun's own page often refuses downloads). */
export const DEFAULT_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/";

/** SHA-256 of `bytes` as lower-case hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Throws unless `bytes` have the expected size and SHA-256. */
export async function verifyFile(bytes: Uint8Array, want: ExpectedFile, what: string) {
  if (bytes.length !== want.bytes) {
    throw new Error(`${what}: ${bytes.length} bytes, the official file has ${want.bytes}`);
  }
  const got = await sha256Hex(bytes);
  if (got !== want.sha256) {
    throw new Error(`${what}: SHA-256 ${got} is not the official ${want.sha256}`);
  }
}

/** The download could not reach the mirror; the message says how to place the files by hand. */
export class OfflineError extends Error {
  override name = "OfflineError";
}

/** What {@link downloadMnist} did. */
export interface DownloadReport {
  /** Files fetched and written. */
  readonly downloaded: string[];
  /** Files already in the folder with the right hash. */
  readonly present: string[];
}

/**
 * Puts the four MNIST idx .gz files into `dir`: files already there are verified and kept,
 * the others are fetched from `mirror`, verified, and written atomically. A file with the wrong
 * size or hash is an error (nothing is written for it). When the mirror cannot be reached the
 * {@link OfflineError} lists the files, their hashes and where to put them.
 *
 * @example
 * ```ts
 * import { downloadMnist } from "./download.ts";
 * const r = await downloadMnist("data/mnist");
 * // then: glimpse train --dataset idx:data/mnist
 * ```
 */
export async function downloadMnist(
  dir: string,
  options: {
    mirror?: string;
    files?: readonly ExpectedFile[];
    timeoutMs?: number;
    log?: (line: string) => void;
  } = {},
): Promise<DownloadReport> {
  const mirror = options.mirror ?? DEFAULT_MNIST_MIRROR;
  const files = options.files ?? MNIST_IDX_FILES;
  const log = options.log ?? (() => {});
  await Deno.mkdir(dir, { recursive: true });
  const report: DownloadReport = { downloaded: [], present: [] };
  for (const f of files) {
    const path = join(dir, f.name);
    const existing = await Deno.readFile(path).catch(() => undefined);
    if (existing) {
      await verifyFile(existing, f, path);
      report.present.push(f.name);
      log(`${path}: present, SHA-256 verified`);
      continue;
    }
    const url = new URL(f.name, mirror.endsWith("/") ? mirror : mirror + "/").href;
    let bytes: Uint8Array;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status} ${res.statusText}`);
      }
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new OfflineError(offlineMessage(dir, url, (e as Error).message, files));
    }
    await verifyFile(bytes, f, url);
    await writeFileAtomic(path, bytes);
    report.downloaded.push(f.name);
    log(`${path}: downloaded from ${url}, SHA-256 verified`);
  }
  return report;
}

function offlineMessage(
  dir: string,
  url: string,
  reason: string,
  files: readonly ExpectedFile[],
): string {
  return [
    `Cannot download ${url} (${reason}).`,
    `Put the official MNIST files into ${dir} by hand (from any mirror, or --mirror URL), then run`,
    `this command again to verify them:`,
    ...files.map((f) => `  ${f.name}  ${f.bytes} bytes  sha256 ${f.sha256}`),
    `and train with --dataset idx:${dir}`,
  ].join("\n");
}
