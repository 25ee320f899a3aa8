/**
 * Reading contract files (.txt, .md, .pdf, .docx) into plain text.
 *
 * Every problem with the input becomes an `InputError` whose message is a
 * single line: `<path>: <what is wrong>`. Nothing here logs or echoes the
 * contract text itself, and pdfjs is kept quiet (`verbosity: 0`).
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename, extname, join } from "node:path";

import { InputError } from "../errors.js";
import { MAX_CONTRACT_CHARS, errorMessage, oneLine } from "./formats/common.js";
import { extractDocxText } from "./formats/docx.js";
import { extractPdfText } from "./formats/pdf.js";
import { decodeText, normalizeText } from "./formats/text.js";

export { MAX_CONTRACT_CHARS };

export type ContractFormat = "txt" | "md" | "pdf" | "docx";

export interface ContractDocument {
  /** Extracted text: UTF-8, `\n` line endings, no BOM. */
  text: string;
  /** The file's basename. */
  source: string;
  /** The path as given to `readContract`. */
  path: string;
  /** Size of the file in bytes. */
  bytes: number;
  /** Hex SHA-256 of the file bytes. */
  sha256: string;
  format: ContractFormat;
}

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const SUPPORTED_EXTENSIONS = [".txt", ".md", ".pdf", ".docx"];

const FORMAT_BY_EXTENSION: Record<string, ContractFormat> = {
  ".txt": "txt",
  ".md": "md",
  ".pdf": "pdf",
  ".docx": "docx",
};

const SUPPORTED_LIST = SUPPORTED_EXTENSIONS.join(", ");

/** Read one contract file and return its text plus identity data. */
export async function readContract(path: string, opts: { maxBytes?: number } = {}): Promise<ContractDocument> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;

  const info = await statOrThrow(path, "file");
  if (info.isDirectory()) {
    throw new InputError(`${path}: is a directory, expected a contract file`);
  }
  if (!info.isFile()) {
    throw new InputError(`${path}: is not a regular file`);
  }

  const format = formatOf(path);
  if (format === undefined) {
    const ext = extname(path);
    const shown = ext === "" ? "no file extension" : `unsupported file type "${ext}"`;
    throw new InputError(`${path}: ${shown} (supported: ${SUPPORTED_LIST})`);
  }

  if (info.size === 0) {
    throw new InputError(`${path}: file is empty (0 bytes)`);
  }
  if (info.size > maxBytes) {
    throw tooLarge(path, info.size, maxBytes);
  }

  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw fsError(path, err, "file");
  }
  // The file may have changed between stat and read.
  if (data.length === 0) {
    throw new InputError(`${path}: file is empty (0 bytes)`);
  }
  if (data.length > maxBytes) {
    throw tooLarge(path, data.length, maxBytes);
  }

  const sha256 = createHash("sha256").update(data).digest("hex");

  let raw: string;
  switch (format) {
    case "txt":
    case "md":
      raw = decodeText(path, data);
      break;
    case "pdf":
      raw = await extractPdfText(path, data);
      break;
    case "docx":
      raw = await extractDocxText(path, data);
      break;
  }

  const text = normalizeText(raw);
  if (text.trim() === "") {
    throw new InputError(
      format === "pdf" ? `${path}: PDF has no text layer (scanned or image-only?); it needs OCR before it can be reviewed` : `${path}: contains no text`,
    );
  }
  if (text.length > MAX_CONTRACT_CHARS) {
    throw new InputError(
      `${path}: text is ${text.length.toLocaleString("en-US")} characters, over the ` + `${MAX_CONTRACT_CHARS.toLocaleString("en-US")}-character limit`,
    );
  }

  return { text, source: basename(path), path, bytes: data.length, sha256, format };
}

/**
 * The supported contract files directly inside `dir` (not recursive), as
 * paths joined onto `dir`, sorted by name. Hidden files and Office lock files
 * (`~$name.docx`) are skipped. Throws `InputError` if there are none.
 */
export async function listContracts(dir: string): Promise<string[]> {
  const info = await statOrThrow(dir, "directory");
  if (!info.isDirectory()) {
    throw new InputError(`${dir}: is not a directory`);
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw fsError(dir, err, "directory");
  }

  const found: string[] = [];
  for (const name of names) {
    if (name.startsWith(".") || name.startsWith("~$")) continue;
    if (formatOf(name) === undefined) continue;
    const full = join(dir, name);
    // stat (not lstat) so symlinks to files count and broken links are skipped.
    const entry = await stat(full).catch(() => undefined);
    if (entry?.isFile()) found.push(full);
  }
  if (found.length === 0) {
    throw new InputError(`${dir}: no contract files found (supported: ${SUPPORTED_LIST})`);
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------

function formatOf(path: string): ContractFormat | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

async function statOrThrow(path: string, kind: "file" | "directory"): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw fsError(path, err, kind);
  }
}

function fsError(path: string, err: unknown, kind: "file" | "directory"): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return new InputError(`${path}: no such ${kind}`);
    case "ENOTDIR":
      // A parent component of the path is a file.
      return new InputError(`${path}: no such ${kind} (a parent of it is not a directory)`);
    case "EACCES":
    case "EPERM":
      return new InputError(`${path}: permission denied`);
    case "EISDIR":
      return new InputError(`${path}: is a directory, expected a contract file`);
    default:
      return new InputError(`${path}: cannot read ${kind} (${oneLine(errorMessage(err))})`);
  }
}

function tooLarge(path: string, size: number, limit: number): InputError {
  let shownSize = formatSize(size);
  let shownLimit = formatSize(limit);
  if (shownSize === shownLimit) {
    // Rounding hides the difference: show exact byte counts.
    shownSize = `${size.toLocaleString("en-US")} bytes`;
    shownLimit = `${limit.toLocaleString("en-US")} bytes`;
  }
  return new InputError(`${path}: file is ${shownSize}, over the limit of ${shownLimit}`);
}

function formatSize(bytes: number): string {
  const MB = 1024 * 1024;
  const KB = 1024;
  if (bytes >= MB) return `${trimFixed(bytes / MB)} MB`;
  if (bytes >= KB) return `${trimFixed(bytes / KB)} KB`;
  return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
}

function trimFixed(n: number): string {
  return n.toFixed(1).replace(/\.0$/, "");
}
