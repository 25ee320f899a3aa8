/** Plain-text formats (.txt, .md): strict UTF-8 decoding, and the line-ending cleanup every format gets. */
import { InputError } from "../../errors.js";

/** Strict UTF-8 decoding for .txt/.md: reject NUL bytes and invalid sequences. */
export function decodeText(path: string, data: Buffer): string {
  if (data.length >= 2 && ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff))) {
    throw new InputError(`${path}: file is UTF-16 encoded; save it as UTF-8 text`);
  }
  const nul = data.indexOf(0);
  if (nul !== -1) {
    throw new InputError(`${path}: contains binary data (NUL byte at offset ${nul}); expected UTF-8 text`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    throw new InputError(`${path}: is not valid UTF-8 text (binary data or another encoding); save it as UTF-8`);
  }
}

/** Drop a BOM and turn \r\n / \r line endings into \n. */
export function normalizeText(text: string): string {
  return text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
}
