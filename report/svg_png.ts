/**
 * SVG to PNG through resvg (WebAssembly), with the label font of report/font.ts, so figures
 * whose text is laid out as SVG (charts, labelled grids and overlays) come out as PNGs that look
 * the same on every machine.
 *
 * @module
 */
import { initWasm, Resvg } from "npm:@resvg/resvg-wasm@2.6.2";
import { loadFont } from "./font.ts";

let ready: Promise<void> | null = null;

/**
 * Instantiates resvg's WebAssembly module once per process (every user of `Resvg` awaits it).
 *
 * @example
 * ```ts
 * import { initResvg } from "./svg_png.ts";
 * await initResvg(); // now new Resvg(svg, options) works
 * ```
 */
export function initResvg(): Promise<void> {
  ready ??= (async () => {
    // Node resolution finds the file of the npm package imported above, in node_modules or in
    // Deno's npm cache, so this works from a script outside the project (import.meta.resolve
    // would only return the npm: specifier there).
    let path = "@resvg/resvg-wasm/index_bg.wasm";
    let wasm: Uint8Array;
    try {
      // Imported when first needed: a static node: import would break the browser bundle of
      // the explorer (web/), which reaches this module but never renders a PNG.
      const { createRequire } = await import("node:module");
      path = createRequire(import.meta.url).resolve(path);
      wasm = await Deno.readFile(path);
    } catch (e) {
      throw new Error(
        `Cannot load resvg's WebAssembly module ${path}: ${(e as Error).message} ` +
          "(run deno install to fetch the npm dependencies)",
      );
    }
    await initWasm(wasm);
  })();
  return ready;
}

/** Options of {@link svgToPng}. */
export interface SvgToPngOptions {
  /** Magnification (1: one PNG pixel per SVG unit). */
  zoom?: number;
  /** CSS colour behind the drawing; default transparent. */
  background?: string;
}

/**
 * Renders `svg` to PNG bytes; text is set in the label font (DejaVu Sans unless GLIMPSE_FONT
 * says otherwise), whatever font-family the SVG asks for.
 *
 * @example
 * ```ts
 * import { svgToPng } from "./svg_png.ts";
 * const png = await svgToPng(
 *   '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><text x="2" y="15">hi</text></svg>',
 *   { background: "white" },
 * );
 * ```
 */
export async function svgToPng(svg: string, options: SvgToPngOptions = {}): Promise<Uint8Array> {
  const [font] = await Promise.all([loadFont(), initResvg()]);
  const zoom = options.zoom ?? 1;
  const resvg = new Resvg(svg, {
    font: {
      fontBuffers: font.bold ? [font.bytes, font.bold] : [font.bytes],
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
    fitTo: zoom === 1 ? { mode: "original" } : { mode: "zoom", value: zoom },
    ...(options.background ? { background: options.background } : {}),
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/** Escapes text for an SVG text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
