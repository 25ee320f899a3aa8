/** PDF (.pdf): text extraction with pdfjs, kept quiet (`verbosity: 0`). */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

import { InputError } from "../../errors.js";
import { MAX_CONTRACT_CHARS, errorMessage, oneLine } from "./common.js";

type PdfModule = typeof import("pdfjs-dist/legacy/build/pdf.mjs");
let pdfjsPromise: Promise<PdfModule> | undefined;
let pdfjsAssets: { cMapUrl: string; standardFontDataUrl: string; wasmUrl: string } | undefined;

function loadPdfjs(): Promise<PdfModule> {
  pdfjsPromise ??= import("pdfjs-dist/legacy/build/pdf.mjs");
  return pdfjsPromise;
}

/**
 * Directories shipped in pdfjs-dist. Passing them lets pdfjs read predefined
 * CMaps (CJK text) and the standard fonts from disk instead of warning.
 * In Node, pdfjs reads these with fs.readFile(baseUrl + name).
 */
function pdfjsAssetDirs(): { cMapUrl: string; standardFontDataUrl: string; wasmUrl: string } | undefined {
  if (pdfjsAssets) return pdfjsAssets;
  try {
    const root = dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json"));
    pdfjsAssets = {
      cMapUrl: join(root, "cmaps") + "/",
      standardFontDataUrl: join(root, "standard_fonts") + "/",
      wasmUrl: join(root, "wasm") + "/",
    };
  } catch {
    pdfjsAssets = undefined;
  }
  return pdfjsAssets;
}
export async function extractPdfText(path: string, data: Buffer): Promise<string> {
  const pdfjs = await loadPdfjs();
  const loadingTask = pdfjs.getDocument({
    // A copy: pdfjs may take ownership of (detach) the buffer it is given.
    data: new Uint8Array(data),
    verbosity: 0,
    useSystemFonts: false,
    isEvalSupported: false,
    disableFontFace: true,
    useWorkerFetch: false,
    isOffscreenCanvasSupported: false,
    ...pdfjsAssetDirs(),
  });

  let doc: Awaited<typeof loadingTask.promise>;
  try {
    doc = await loadingTask.promise;
  } catch (err) {
    await loadingTask.destroy().catch(() => undefined);
    const name = (err as { name?: unknown } | undefined)?.name;
    if (name === "PasswordException") {
      throw new InputError(`${path}: PDF is password-protected; remove the password and try again`);
    }
    throw new InputError(`${path}: corrupt or unreadable PDF (${oneLine(errorMessage(err))})`);
  }

  try {
    const pages: string[] = [];
    let chars = 0;
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      page.cleanup();
      const text = pageText(content.items);
      if (text !== "") {
        pages.push(text);
        chars += text.length + 2;
      }
      // No need to extract the rest once the text is certainly too long.
      if (chars > MAX_CONTRACT_CHARS + 2) break;
    }
    return pages.join("\n\n");
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: corrupt or unreadable PDF (${oneLine(errorMessage(err))})`);
  } finally {
    await doc.destroy().catch(() => undefined);
  }
}

interface PdfTextItemLike {
  str: string;
  hasEOL?: boolean;
  transform?: unknown[];
  height?: number;
}

/** Join one page's text items; new line where pdfjs marks EOL or the baseline moves. */
function pageText(items: readonly unknown[]): string {
  let out = "";
  let lastY: number | undefined;
  for (const raw of items) {
    if (typeof raw !== "object" || raw === null || typeof (raw as { str?: unknown }).str !== "string") continue;
    const item = raw as PdfTextItemLike;
    const y = typeof item.transform?.[5] === "number" ? item.transform[5] : undefined;
    if (item.str !== "") {
      if (lastY !== undefined && y !== undefined && out !== "" && !out.endsWith("\n")) {
        const tolerance = Math.max(1, (item.height ?? 0) * 0.5);
        if (Math.abs(y - lastY) > tolerance) out += "\n";
      }
      out += item.str;
      if (y !== undefined) lastY = y;
    }
    if (item.hasEOL && !out.endsWith("\n")) out += "\n";
  }
  return out
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t\u00a0]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
