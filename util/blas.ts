/**
 * The machine's BLAS through Deno's FFI: `cblas_sgemm` on Float32Array views, for the fast CPU
 * backend. On a CPU the products are where the time goes, and an optimised BLAS (OpenBLAS, MKL)
 * runs them tens of times faster than a TypeScript loop (DESIGN.md: 213 GFLOP/s at
 * 128×256×256 against about 1).
 *
 * {@link loadBlas} tries a list of library names and returns null when none opens (or FFI is not
 * allowed), so callers fall back to the TypeScript references and say so. It names the file that
 * was loaded and whether it is the netlib reference BLAS, which is no faster than TypeScript.
 *
 * @module
 */

/** Libraries tried in order: OpenBLAS by its own name first, then the alternatives' BLAS. */
export const BLAS_CANDIDATES: readonly string[] = [
  "libopenblas.so.0",
  "libopenblas.so",
  "libblas.so.3",
  "libcblas.so.3",
  "libmkl_rt.so",
  "libopenblas.dylib",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
];

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
} as const;

const OPTIONAL = {
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
} as const;

/** One row-major product C = α·op(A)·op(B) + β·C on Float32Array views. */
export interface Sgemm {
  /**
   * @param transA use Aᵀ: A is stored (K, M) with row stride lda, else (M, K)
   * @param transB use Bᵀ: B is stored (N, K) with row stride ldb, else (K, N)
   * @param C (M, N) with row stride ldc; read when beta ≠ 0
   */
  (
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    lda: number,
    B: Float32Array,
    ldb: number,
    beta: number,
    C: Float32Array,
    ldc: number,
  ): void;
}

/** An opened BLAS. */
export interface Blas {
  /** Row-major single-precision product. Views start where their byteOffset says. */
  sgemm: Sgemm;
  /** The name that opened, e.g. "libopenblas.so.0". */
  name: string;
  /** The file the dynamic loader mapped (from /proc/self/maps), or the name if unknown. */
  path: string;
  /** "openblas", "mkl", "reference" (netlib: slow) or "unknown", from the path. */
  kind: "openblas" | "mkl" | "reference" | "unknown";
  /** OpenBLAS's thread count, where it says. */
  threads: number | null;
  /** Sets OpenBLAS's thread count (a no-op elsewhere). */
  setThreads(n: number): void;
  /** One line for --verbose and --json, e.g. "OpenBLAS /usr/lib/…/libopenblas.so.0, 2 threads". */
  description: string;
  close(): void;
}

let cached: Blas | null | undefined;

/**
 * Opens the machine's BLAS once per process (later calls return the same one), or null when
 * no candidate opens. `candidates` overrides the list (tests); passing it skips the cache.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "./blas.ts";
 * const blas = loadBlas();
 * const A = new Float32Array([1, 2, 3, 4]), C = new Float32Array(4);
 * blas?.sgemm(false, false, 2, 2, 2, 1, A, 2, A, 2, 0, C, 2); // C = A·A = [7, 10, 15, 22]
 * ```
 */
export function loadBlas(candidates?: readonly string[]): Blas | null {
  if (!candidates && cached !== undefined) return cached;
  const blas = open(candidates ?? BLAS_CANDIDATES);
  if (!candidates) cached = blas;
  return blas;
}

function open(candidates: readonly string[]): Blas | null {
  // globalThis: in a browser (the explorer's CPU fallback) `Deno` is not even declared
  if (typeof globalThis.Deno?.dlopen !== "function") return null;
  for (const name of candidates) {
    let lib;
    try {
      lib = Deno.dlopen(name, { ...SYMBOLS, ...OPTIONAL });
    } catch {
      continue; // not here, no cblas_sgemm in it, or no --allow-ffi
    }
    const s = lib.symbols;
    const sgemm: Sgemm = (tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) => {
      checkGemmBounds(tA, tB, M, N, K, A, lda, B, ldb, C, ldc);
      s.cblas_sgemm(
        ROW_MAJOR,
        tA ? TRANS : NO_TRANS,
        tB ? TRANS : NO_TRANS,
        M,
        N,
        K,
        alpha,
        A,
        lda,
        B,
        ldb,
        beta,
        C,
        ldc,
      );
    };
    const path = mappedPath(name);
    const kind = blasKind(path);
    const getThreads = s.openblas_get_num_threads;
    const setThreads = s.openblas_set_num_threads;
    const blas: Blas = {
      sgemm,
      name,
      path,
      kind,
      get threads() {
        return getThreads ? getThreads() : null;
      },
      setThreads(n: number) {
        setThreads?.(n);
      },
      get description() {
        const t = this.threads;
        const label = {
          openblas: "OpenBLAS",
          mkl: "MKL",
          reference: "reference BLAS",
          unknown: "BLAS",
        };
        return `${label[kind]} ${path}${t ? `, ${t} thread${t === 1 ? "" : "s"}` : ""}`;
      },
      close: () => lib.close(),
    };
    return blas;
  }
  return null;
}

/**
 * What kind of BLAS a library path is. Debian puts the netlib reference under .../blas/ and
 * OpenBLAS under .../openblas-*\/; a libblas.so.3 symlink is resolved first.
 */
export function blasKind(path: string): Blas["kind"] {
  let real = path;
  try {
    real = Deno.realPathSync(path);
  } catch {
    // not a path we can resolve (a bare soname): judge the name
  }
  const p = real.toLowerCase();
  if (p.includes("openblas")) return "openblas";
  if (p.includes("mkl")) return "mkl";
  if (/\/blas\/|netlib|refblas/.test(p)) return "reference";
  return "unknown";
}

/** The file behind a library the process has mapped, found by its name in /proc/self/maps. */
function mappedPath(name: string): string {
  const base = name.split("/").at(-1)!.replace(/\.so.*$/, "");
  try {
    const maps = Deno.readTextFileSync("/proc/self/maps");
    for (const line of maps.split("\n")) {
      const file = line.slice(line.indexOf("/"));
      if (line.includes("/") && file.split("/").at(-1)!.startsWith(base)) return file;
    }
  } catch {
    // no /proc (macOS) or no read permission
  }
  return name;
}

/**
 * Throws unless every operand of a row-major sgemm lies inside its array. BLAS reads and writes
 * raw memory: a product sized past its Float32Array would corrupt the process's heap silently
 * (seen once as a glibc abort at exit), so the wrapper refuses it with the sizes instead.
 */
function checkGemmBounds(
  tA: boolean,
  tB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  C: Float32Array,
  ldc: number,
): void {
  if (M <= 0 || N <= 0) return;
  const need = (rows: number, cols: number, ld: number, arr: Float32Array, name: string) => {
    if (rows <= 0 || cols <= 0) return;
    if (ld < cols || (rows - 1) * ld + cols > arr.length) {
      throw new Error(
        `sgemm: ${name} (${rows}×${cols}, leading dimension ${ld}) does not fit its ` +
          `${arr.length} values (M=${M}, N=${N}, K=${K})`,
      );
    }
  };
  if (K > 0) {
    need(tA ? K : M, tA ? M : K, lda, A, "A");
    need(tB ? N : K, tB ? K : N, ldb, B, "B");
  }
  need(M, N, ldc, C, "C");
}
