import { createHash } from "node:crypto";
import type { ContractDocument } from "../runtime/documents/documents.js";

/** A contract as `readContract` returns it, from text in a test. */
export function documentOf(text: string, source = "msa.txt"): ContractDocument {
  return { text, source, path: source, bytes: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex"), format: "txt" };
}
