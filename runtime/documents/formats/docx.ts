/** Word (.docx): raw text extraction with mammoth. */
import { InputError } from "../../errors.js";
import { errorMessage, oneLine } from "./common.js";

export async function extractDocxText(path: string, data: Buffer): Promise<string> {
  const mammoth = (await import("mammoth")).default;
  try {
    const result = await mammoth.extractRawText({ buffer: data });
    return result.value.trim();
  } catch (err) {
    throw new InputError(`${path}: corrupt or unreadable .docx (${oneLine(errorMessage(err))})`);
  }
}
