/** CSV reading shared by the file sources: parsed once per file version, with column lookup. */
import fs from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { InputError } from "../../../../runtime/errors.js";

// file -> its last parsed version; a newer version replaces the entry, so the cache never grows past one per file
const parsedFiles = new Map<string, { version: string; parsed: Promise<unknown> }>();

/** Parses a file once per (size, mtime): a long-lived worker sees a replaced file, not a stale one. */
export async function cachedParse<T>(file: string, what: string, build: (rows: string[][]) => T): Promise<T> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: ${code === "ENOENT" ? "no such file" : `cannot read ${what} (${code ?? String(e)})`}`);
  }
  const version = `${stat.size} ${stat.mtimeMs}`;
  const hit = parsedFiles.get(file);
  if (hit?.version === version) return hit.parsed as Promise<T>;
  const parsed = fs.readFile(file, "utf8").then((text) => build(parseCsv(file, text)));
  parsedFiles.set(file, { version, parsed });
  parsed.catch(() => {
    if (parsedFiles.get(file)?.parsed === parsed) parsedFiles.delete(file);
  });
  return parsed;
}

function parseCsv(file: string, text: string): string[][] {
  try {
    return parse(text, { bom: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    throw new InputError(`${file}: not a CSV (${(e as Error).message.split("\n")[0]})`);
  }
}

/** The index of the first header matching one of `names` (case-insensitive), or -1. */
export function column(header: string[], ...names: string[]): number {
  const wanted = names.map((n) => n.toLowerCase());
  return header.findIndex((h) => wanted.includes(h.toLowerCase()));
}

export function requireColumn(file: string, header: string[], ...names: string[]): number {
  const i = column(header, ...names);
  if (i < 0) throw new InputError(`${file}: missing column "${names[0]}"`);
  return i;
}
