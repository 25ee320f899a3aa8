import fs from "node:fs/promises";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { companySlug, RawCompany } from "../agents/company.js";
import type { Thesis } from "../agents/thesis.js";
import { discoveredEventId, type Emitted } from "../graph/index.js";
import { InputError } from "../../../runtime/errors.js";

/** The columns of the YC Startups.csv (its header spells the status column "Satus"). */
const COLUMNS: Record<keyof RawCompany, string> = {
  name: "Company",
  description: "Description",
  categories: "Categories",
  founders: "Founders",
  year_founded: "Year Founded",
  yc_year: "Y Combinator Year",
  yc_session: "Y Combinator Session",
  investors: "Investors",
  funding: "Amounts raised in different funding rounds",
  city: "Headquarters (City)",
  region: "Headquarters (US State)",
  country: "Headquarters (Country)",
  location: "Mapping Location",
  website: "Website",
};

/** A record of the CSV: its line, its cells by header, and the raw company when it reads. */
export interface StartupRow {
  line: number;
  cells: Record<string, string>;
}

/** Reads a startups CSV: every record with its line number. A file that is not that CSV is bad input. */
export async function readStartupsCsv(file: string): Promise<StartupRow[]> {
  const text = await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // csv-parse's overloads type `info: true` records as a union of shapes; with these options it returns this one
    records = parse(text, { bom: true, relax_column_count: true, info: true, skip_empty_lines: true }) as never;
  } catch (e) {
    throw new InputError(`${file}: not a CSV: ${(e as Error).message.split("\n")[0]}`);
  }
  const header = records[0]?.record.map((h) => h.trim()) ?? [];
  const missing = Object.values(COLUMNS).filter((c) => !header.includes(c));
  if (missing.length) throw new InputError(`${file}: not in the format of Startups.csv: missing column(s) ${missing.join(", ")}`);
  return records.slice(1).map(({ record, info }) => ({ line: info.lines, cells: Object.fromEntries(header.map((h, i) => [h, record[i] ?? ""])) }));
}

/** One row's discovery event, or why the row is invalid (nothing of it is published). */
export function discovery(row: StartupRow, thesis: Thesis, file: string): { event: Emitted<"company.discovered.v1"> } | { invalid: string } {
  const raw = Object.fromEntries(Object.entries(COLUMNS).map(([k, col]) => [k, (row.cells[col] ?? "").trim()]));
  const parsed = RawCompany.safeParse(raw);
  if (!parsed.success)
    return { invalid: parsed.error.issues.map((i) => `${COLUMNS[i.path[0] as keyof RawCompany] ?? i.path.join(".")}: ${i.message}`).join("; ") };
  const slug = companySlug(parsed.data.name);
  return {
    event: {
      id: discoveredEventId(slug),
      type: "company.discovered.v1",
      correlation_id: slug,
      causation_id: null,
      payload: { company: parsed.data, thesis, source: { file: path.basename(file), line: row.line } },
    },
  };
}
