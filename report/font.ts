/**
 * The font figure labels are set in. resvg-wasm has no access to system fonts, so the font file
 * is read here and handed to it; DejaVu Sans is the default (Debian/Ubuntu's fonts-dejavu-core,
 * also shipped by most Linux distributions and by Homebrew's font-dejavu), and `GLIMPSE_FONT`
 * points at any other TrueType/OpenType file.
 *
 * @module
 */

/** Environment variable naming a .ttf/.otf file to use instead of DejaVu Sans. */
export const FONT_ENV = "GLIMPSE_FONT";

/** Where DejaVu Sans is looked for, in order. */
export const FONT_CANDIDATES: readonly string[] = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", // Debian, Ubuntu
  "/usr/share/fonts/dejavu/DejaVuSans.ttf", // Fedora, Arch (older)
  "/usr/share/fonts/TTF/DejaVuSans.ttf", // Arch
  "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", // Fedora
  "/usr/local/share/fonts/DejaVuSans.ttf",
  "/opt/homebrew/share/fonts/DejaVuSans.ttf",
  "/Library/Fonts/DejaVuSans.ttf",
];

/** A font file's bytes and where they came from. */
export interface FontFile {
  path: string;
  bytes: Uint8Array;
  /** Bold face found beside it (DejaVuSans-Bold.ttf), if any, so bold labels are not faked. */
  bold?: Uint8Array;
}

let cached: FontFile | null = null;

function envFont(): string | undefined {
  try {
    return Deno.env.get(FONT_ENV) || undefined;
  } catch {
    return undefined; // no --allow-env: fall back to the usual places
  }
}

/**
 * Reads the label font (cached after the first call). Throws one line naming every place that
 * was tried when none holds a font.
 *
 * @example
 * ```ts
 * import { loadFont } from "./font.ts";
 * const { path, bytes } = await loadFont();
 * console.log(`labels in ${path} (${bytes.length} bytes)`);
 * ```
 */
export async function loadFont(): Promise<FontFile> {
  if (cached) return cached;
  const fromEnv = envFont();
  if (fromEnv !== undefined) {
    try {
      cached = { path: fromEnv, bytes: await Deno.readFile(fromEnv) };
      return cached;
    } catch (e) {
      throw new Error(`${FONT_ENV}="${fromEnv}": cannot read the font: ${(e as Error).message}`);
    }
  }
  for (const path of FONT_CANDIDATES) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      continue; // try the next place
    }
    const bold = await Deno.readFile(path.replace(/DejaVuSans\.ttf$/, "DejaVuSans-Bold.ttf"))
      .catch(() => undefined);
    cached = { path, bytes, bold };
    return cached;
  }
  throw new Error(
    `No font for figure labels: DejaVu Sans is not at ${FONT_CANDIDATES.join(", ")}; ` +
      `install it (apt-get install fonts-dejavu-core) or set ${FONT_ENV}=/path/to/font.ttf`,
  );
}
