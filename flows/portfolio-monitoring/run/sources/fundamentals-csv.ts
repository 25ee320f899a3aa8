/** (a) A fundamentals CSV (S&P 500 fundamentals.csv or key_metrics_panel.csv), with a companies file for names and sectors. */
import fs from "node:fs/promises";
import path from "node:path";
import type { AnnualMetrics, Company, CompanyMetrics } from "../../agents/company.js";
import { deriveMetrics, UNKNOWN_SECTOR, type PortfolioDataSource } from "../../agents/metrics-collector.js";
import { InputError } from "../../../../runtime/errors.js";
import { cachedParse, column, requireColumn } from "./csv.js";

type Peers = CompanyMetrics["peers"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Peer medians by loaded file version (a WeakMap: a re-parsed file starts afresh). */
const peerCache = new WeakMap<object, Map<string, Peers>>();

/** Fiscal year to metric to the median over `companies`' years. */
function medians(companies: AnnualMetrics[][]): Peers {
  const values = new Map<string, Map<string, number[]>>();
  for (const years of companies) {
    for (const y of years) {
      const byMetric = values.get(y.period) ?? new Map<string, number[]>();
      values.set(y.period, byMetric);
      for (const [m, v] of Object.entries(y.metrics)) {
        const list = byMetric.get(m);
        if (list) list.push(v);
        else byMetric.set(m, [v]);
      }
    }
  }
  const out: Peers = {};
  for (const [year, byMetric] of [...values].sort((a, b) => a[0].localeCompare(b[0]))) {
    out[year] = Object.fromEntries([...byMetric].map(([m, vs]) => [m, median(vs)]));
  }
  return out;
}

// The Kaggle names that the generic snake_case rule would garble or mislabel.
const METRIC_NAMES: Record<string, string> = {
  "Add'l income/expense items": "additional_income_expense_items",
  "Short-Term Debt / Current Portion of Long-Term Debt": "short_term_debt",
  "Total Liabilities & Equity": "total_liabilities_and_equity",
  "Sales, General and Admin.": "sales_general_and_admin",
  // cash-flow statement lines (changes over the year), not balance-sheet amounts
  "Accounts Receivable": "change_in_accounts_receivable",
  Liabilities: "change_in_liabilities",
  "Changes in Inventories": "change_in_inventories",
};
// Columns that describe the row rather than measure the company (also key_metrics_panel.csv's).
const NOT_METRICS = new Set([
  "",
  "ticker symbol",
  "ticker",
  "period ending",
  "period_ending",
  "for year",
  "for_year_raw",
  "company",
  "gics_sector",
  "gics_sub_industry",
  "hq",
  "cik",
  "period_index",
]);

export function metricName(header: string): string {
  return (
    METRIC_NAMES[header] ??
    header
      .toLowerCase()
      .replace(/'/g, "")
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_|_$/g, "")
  );
}

/**
 * The fiscal year of a row. "For Year" is used when it is within a year of the period's end
 * (the file has blanks, a "1215" and duplicates); otherwise the period's end decides, and a
 * 52/53-week year ending in the first week of January belongs to the year before.
 */
export function fiscalYear(periodEnding: string, forYear: string): number {
  const end = new Date(`${periodEnding}T00:00:00Z`);
  const derived = end.getUTCMonth() === 0 && end.getUTCDate() <= 7 ? end.getUTCFullYear() - 1 : end.getUTCFullYear();
  const stated = Number.parseFloat(forYear);
  return Number.isInteger(stated) && Math.abs(stated - end.getUTCFullYear()) <= 1 ? stated : derived;
}

interface FundamentalsTable {
  years: Map<string, AnnualMetrics[]>;
  /** Name and sector columns of the file itself (key_metrics_panel.csv has them). */
  companies: Map<string, Company>;
}

function fundamentalsTable(file: string, rows: string[][]): FundamentalsTable {
  const [header, ...data] = rows;
  if (!header) throw new InputError(`${file}: empty file`);
  const iTicker = requireColumn(file, header, "Ticker Symbol", "ticker");
  const iEnd = requireColumn(file, header, "Period Ending", "period_ending");
  const iYear = column(header, "For Year", "for_year_raw");
  const iName = column(header, "company");
  const iSector = column(header, "gics_sector");
  const metrics = header.map((h, i) => ({ i, name: metricName(h) })).filter((c) => !NOT_METRICS.has(header[c.i]!.toLowerCase()));
  if (!metrics.some((m) => m.name === "total_revenue")) throw new InputError(`${file}: missing column "Total Revenue"`);

  const years = new Map<string, AnnualMetrics[]>();
  const companies = new Map<string, Company>();
  data.forEach((row, n) => {
    const ticker = (row[iTicker] ?? "").toUpperCase();
    const end = row[iEnd] ?? "";
    if (!ticker) return;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(end)) throw new InputError(`${file}: line ${n + 2}: Period Ending "${end}" is not a YYYY-MM-DD date`);
    const values: Record<string, number> = {};
    for (const m of metrics) {
      const cell = row[m.i] ?? "";
      const v = cell === "" ? NaN : Number(cell);
      if (Number.isFinite(v)) values[m.name] = v;
    }
    const list = years.get(ticker) ?? [];
    years.set(ticker, list);
    list.push({ period: String(fiscalYear(end, iYear >= 0 ? (row[iYear] ?? "") : "")), period_ending: end, metrics: deriveMetrics(values) });
    if (iName >= 0 || iSector >= 0) companies.set(ticker, { ticker, name: row[iName] || ticker, sector: row[iSector] || UNKNOWN_SECTOR });
  });
  for (const [ticker, list] of years) years.set(ticker, oneRowPerYear(list));
  return { years, companies };
}

/** Oldest first; when two rows claim one fiscal year, the later-ending one moves to its own year or wins. */
function oneRowPerYear(list: AnnualMetrics[]): AnnualMetrics[] {
  list.sort((a, b) => a.period_ending.localeCompare(b.period_ending));
  const byYear = new Map<string, AnnualMetrics>();
  for (const row of list) {
    const taken = byYear.get(row.period);
    if (taken) {
      const own = String(fiscalYear(row.period_ending, ""));
      if (!byYear.has(own)) {
        byYear.set(own, { ...row, period: own });
        continue;
      }
    }
    byYear.set(row.period, row);
  }
  return [...byYear.values()].sort((a, b) => a.period_ending.localeCompare(b.period_ending));
}

/** A companies file: securities.csv ("Ticker symbol", "Security", "GICS Sector") or ticker,name,sector. */
function companiesTable(file: string, rows: string[][]): Map<string, Company> {
  const [header, ...data] = rows;
  if (!header) throw new InputError(`${file}: empty file`);
  const iTicker = requireColumn(file, header, "ticker", "Ticker symbol");
  const iName = requireColumn(file, header, "name", "Security");
  const iSector = requireColumn(file, header, "sector", "GICS Sector");
  const out = new Map<string, Company>();
  for (const row of data) {
    const ticker = (row[iTicker] ?? "").toUpperCase();
    if (ticker) out.set(ticker, { ticker, name: row[iName] || ticker, sector: row[iSector] || UNKNOWN_SECTOR });
  }
  return out;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

export interface FundamentalsCsvOptions {
  /** The fundamentals CSV (Kaggle's fundamentals.csv or key_metrics_panel.csv). */
  file: string;
  /** Names and sectors; default: securities.csv beside `file` when present. */
  companiesFile?: string;
}

/** The S&P 500 fundamentals format: one row per company and fiscal year. */
export function fundamentalsCsvSource({ file, companiesFile }: FundamentalsCsvOptions): PortfolioDataSource {
  const absolute = path.resolve(file);
  const load = async () => {
    const table = await cachedParse(absolute, "fundamentals", (rows) => fundamentalsTable(absolute, rows));
    const beside = path.join(path.dirname(absolute), "securities.csv");
    const namesFile = companiesFile !== undefined ? path.resolve(companiesFile) : (await exists(beside)) ? beside : undefined;
    const names = namesFile ? await cachedParse(namesFile, "companies", (rows) => companiesTable(namesFile, rows)) : new Map<string, Company>();
    // a ticker the companies file names but the fundamentals lack is not in this source
    const company = (t: string): Company | null =>
      table.years.has(t) ? (names.get(t) ?? table.companies.get(t) ?? { ticker: t, name: t, sector: UNKNOWN_SECTOR }) : null;
    return { table, company };
  };
  return {
    describe: () => `fundamentals CSV ${absolute}`,
    async company(ticker) {
      return (await load()).company(ticker.toUpperCase());
    },
    async annual(ticker) {
      return (await load()).table.years.get(ticker.toUpperCase()) ?? [];
    },
    async peerMedians(sector, excludeTicker) {
      if (sector === UNKNOWN_SECTOR) return {};
      const loaded = await load();
      const { table, company } = loaded;
      // the same file version, sector and company always give the same medians: computed once
      const cache = peerCache.get(loaded) ?? new Map<string, Peers>();
      peerCache.set(loaded, cache);
      const key = `${sector}\u0000${excludeTicker.toUpperCase()}`;
      const hit = cache.get(key);
      if (hit) return hit;
      const peers = [...table.years.keys()].filter((t) => t !== excludeTicker.toUpperCase() && company(t)?.sector === sector);
      const result = medians(peers.map((t) => table.years.get(t) ?? []));
      cache.set(key, result);
      return result;
    },
    async kpis() {
      return {};
    },
  };
}
