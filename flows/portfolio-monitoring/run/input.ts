/**
 * The portfolio file (`--input portfolio.yaml`) and its CLI-flag equivalent
 * (`--fundamentals --tickers --year --kpis`), both parsed to one PortfolioInput.
 */
import fs from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { InputError } from "../../../runtime/errors.js";

// Tickers become file names in a KPI directory: letters, digits, dots and dashes only.
const Ticker = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,14}$/, "a ticker is 1 to 15 letters, digits, dots or dashes")
  .transform((t) => t.toUpperCase())
  .describe("The company's ticker symbol, e.g. AAL");

export const PortfolioCompanyEntry = z
  .union([
    Ticker,
    z.object({
      ticker: Ticker,
      name: z.string().min(1).optional().describe("The company's name; wins over the sources' name"),
      sector: z.string().min(1).optional().describe("The company's sector (peers are the source's companies of this sector); wins over the sources' sector"),
    }),
  ])
  .describe("A ticker, or a ticker with the portfolio's own name and sector for it");

export const ReportingPeriod = z.enum(["day", "week", "month"]).describe("The period KPI series are resampled to (one point a period)");

export const PortfolioSources = z
  .object({
    fundamentals: z.string().min(1).optional().describe("A fundamentals CSV (the S&P 500 fundamentals format), relative to this file"),
    companies: z
      .string()
      .min(1)
      .optional()
      .describe("A CSV of ticker, name, sector (or the securities.csv format), relative to this file; default: securities.csv beside the fundamentals file"),
    kpis: z
      .string()
      .min(1)
      .optional()
      .describe("A directory of KPI series, <TICKER>/<series>.csv or <TICKER>-<series>.csv of timestamp,value rows, relative to this file"),
    postgres: z
      .object({
        table: z.string().min(1).describe("A table of ticker, period_ending, metric, value rows (optionally schema-qualified)"),
        companies_table: z.string().min(1).optional().describe("A table of ticker, name, sector rows giving names and sectors (and so peers)"),
      })
      .optional()
      .describe("Fundamentals in the run's PostgreSQL database"),
  })
  .refine((s) => s.fundamentals !== undefined || s.kpis !== undefined || s.postgres !== undefined, "name at least one of fundamentals, kpis or postgres")
  .describe("Where the companies' figures come from; several are asked in the order fundamentals, postgres, kpis");

/** The portfolio file's schema (YAML or JSON). */
export const PortfolioFile = z
  .object({
    name: z.string().min(1).optional().describe("The portfolio's name, shown in the report; default: the file's name"),
    year: z.number().int().min(1900).max(2100).optional().describe("The fiscal year under review; default: each company's latest"),
    period: ReportingPeriod.optional().describe("The period KPI series are resampled to; default week"),
    companies: z.array(PortfolioCompanyEntry).min(1, "name at least one company").describe("The companies to monitor"),
    sources: PortfolioSources,
  })
  .describe("A portfolio to monitor: its companies and where their figures come from");
export type PortfolioFile = z.infer<typeof PortfolioFile>;

export interface PortfolioCompany {
  ticker: string;
  name?: string;
  sector?: string;
}

/** A parsed portfolio: tickers upper-cased and unique, paths absolute. */
export interface PortfolioInput {
  name: string;
  year?: number;
  period: "day" | "week" | "month";
  companies: PortfolioCompany[];
  sources: {
    fundamentals?: string;
    companies?: string;
    kpis?: string;
    postgres?: { table: string; companies_table?: string };
  };
}

function normalize(file: PortfolioFile, baseDir: string, defaultName: string): PortfolioInput {
  const companies: PortfolioCompany[] = [];
  for (const entry of file.companies) {
    const c = typeof entry === "string" ? { ticker: entry } : entry;
    if (!companies.some((x) => x.ticker === c.ticker)) companies.push(c);
  }
  const at = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  const { fundamentals, companies: companiesFile, kpis, postgres } = file.sources;
  const sources: PortfolioInput["sources"] = {};
  if (fundamentals !== undefined) sources.fundamentals = at(fundamentals);
  if (companiesFile !== undefined) sources.companies = at(companiesFile);
  if (kpis !== undefined) sources.kpis = at(kpis);
  if (postgres !== undefined) sources.postgres = postgres;
  return { name: file.name ?? defaultName, ...(file.year !== undefined && { year: file.year }), period: file.period ?? "week", companies, sources };
}

function firstIssue(error: z.ZodError, where: string): InputError {
  const issue = error.issues[0];
  const field = issue?.path.join(".") || "portfolio";
  return new InputError(`${where}: ${field}: ${issue?.message ?? "invalid"}`);
}

/** Reads a portfolio file (YAML or JSON); a bad one is an InputError naming the file and the field. */
export async function readPortfolioInput(file: string): Promise<PortfolioInput> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: ${code === "ENOENT" ? "no such file" : `cannot read portfolio (${code ?? String(e)})`}`);
  }
  return parsePortfolioInput(raw, file);
}

/** A portfolio file's text, read from `file` (which names it in errors and anchors its relative paths). */
export function parsePortfolioInput(raw: string, file: string): PortfolioInput {
  let data: unknown;
  try {
    data = YAML.parse(raw);
  } catch (e) {
    throw new InputError(`${file}: not valid YAML or JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const parsed = PortfolioFile.safeParse(data);
  if (!parsed.success) throw firstIssue(parsed.error, file);
  return normalize(parsed.data, path.dirname(path.resolve(file)), path.basename(file).replace(/\.(ya?ml|json)$/i, ""));
}

export interface PortfolioFlags {
  fundamentals?: string;
  /** Comma-separated tickers, e.g. "AAL,DAL". */
  tickers: string;
  year?: number;
  kpis?: string;
  period?: string;
}

/** The same PortfolioInput from CLI flags; paths are relative to `cwd`. */
export function portfolioInputFromFlags(flags: PortfolioFlags, cwd: string): PortfolioInput {
  const file = {
    companies: flags.tickers
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
    sources: { fundamentals: flags.fundamentals, kpis: flags.kpis },
    ...(flags.year !== undefined && { year: flags.year }),
    ...(flags.period !== undefined && { period: flags.period }),
  };
  const parsed = PortfolioFile.safeParse(file);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = { companies: "--tickers", sources: "--fundamentals or --kpis", year: "--year", period: "--period" }[String(issue?.path[0])] ?? "flags";
    throw new InputError(`${flag}: ${issue?.message ?? "invalid"}`);
  }
  return normalize(parsed.data, cwd, "portfolio");
}
