/**
 * Portfolio data sources: a fundamentals CSV, a directory of KPI series, a PostgreSQL table,
 * and a composite asking several. Each implements the collector's PortfolioDataSource.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { parse } from "csv-parse/sync";
import type pg from "pg";
import type { AnnualMetrics, Company, CompanyMetrics } from "../agents/company.js";
import { toEpochMs, type RawPoint } from "../agents/kpi-anomalies.js";
import { deriveMetrics, UNKNOWN_SECTOR, type PortfolioDataSource } from "../agents/metrics-collector.js";
import { InputError } from "../../../runtime/errors.js";
import type { PortfolioInput } from "./input.js";

type Peers = CompanyMetrics["peers"];

// ---- CSV reading, cached per file version -------------------------------------------------

// file -> its last parsed version; a newer version replaces the entry, so the cache never grows past one per file
const parsedFiles = new Map<string, { version: string; parsed: Promise<unknown> }>();

/** Parses a file once per (size, mtime): a long-lived worker sees a replaced file, not a stale one. */
async function cachedParse<T>(file: string, what: string, build: (rows: string[][]) => T): Promise<T> {
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
function column(header: string[], ...names: string[]): number {
  const wanted = names.map((n) => n.toLowerCase());
  return header.findIndex((h) => wanted.includes(h.toLowerCase()));
}

function requireColumn(file: string, header: string[], ...names: string[]): number {
  const i = column(header, ...names);
  if (i < 0) throw new InputError(`${file}: missing column "${names[0]}"`);
  return i;
}

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

// ---- (a) fundamentals CSV -----------------------------------------------------------------

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
const NOT_METRICS = new Set(["", "ticker symbol", "ticker", "period ending", "period_ending", "for year", "for_year_raw", "company", "gics_sector", "gics_sub_industry", "hq", "cik", "period_index"]);

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
    const company = (t: string): Company | null => (table.years.has(t) ? (names.get(t) ?? table.companies.get(t) ?? { ticker: t, name: t, sector: UNKNOWN_SECTOR }) : null);
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

// ---- (b) KPI directory --------------------------------------------------------------------

function kpiSeries(file: string, rows: string[][]): RawPoint[] {
  const [header, ...data] = rows;
  if (!header) throw new InputError(`${file}: empty file`);
  const iT = requireColumn(file, header, "timestamp", "t", "date");
  const iV = requireColumn(file, header, "value");
  return data.map((row, n) => {
    const t = row[iT] ?? "";
    try {
      toEpochMs(t);
    } catch {
      throw new InputError(`${file}: line ${n + 2}: timestamp "${t}" is not an ISO 8601 date`);
    }
    return { t, value: row[iV] === "" ? NaN : Number(row[iV]) };
  });
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new InputError(`${dir}: cannot read directory (${code ?? String(e)})`);
  }
}

/**
 * KPI series as `<dir>/<TICKER>/<series>.csv` or `<dir>/<TICKER>-<series>.csv`, each of
 * `timestamp,value` rows. Knows no names or fundamentals.
 */
export function kpiDirectorySource({ dir }: { dir: string }): PortfolioDataSource {
  const root = path.resolve(dir);
  return {
    describe: () => `KPI directory ${root}`,
    company: async () => null,
    annual: async () => [],
    peerMedians: async () => ({}),
    async kpis(ticker) {
      const stat = await fs.stat(root).catch(() => null);
      if (!stat?.isDirectory()) throw new InputError(`${root}: no such directory`);
      const t = ticker.toUpperCase();
      const own = (await listDir(path.join(root, t))).filter((f) => f.toLowerCase().endsWith(".csv")).map((f) => ({ series: f.slice(0, -4), file: path.join(root, t, f) }));
      const flat = (await listDir(root)).filter((f) => f.toUpperCase().startsWith(`${t}-`) && f.toLowerCase().endsWith(".csv")).map((f) => ({ series: f.slice(t.length + 1, -4), file: path.join(root, f) }));
      const out: Record<string, RawPoint[]> = {};
      for (const { series, file } of [...own, ...flat]) {
        if (!(series in out)) out[series] = await cachedParse(file, "KPI series", (rows) => kpiSeries(file, rows));
      }
      return out;
    },
  };
}

// ---- (c) PostgreSQL table -----------------------------------------------------------------

/** `name` or `schema.name`, quoted; anything else is an InputError (the name reaches SQL text). */
export function quoteTable(name: string): string {
  const parts = name.split(".");
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p))) {
    throw new InputError(`postgres table "${name}": not a table name (letters, digits, _; optionally schema.table)`);
  }
  return parts.map((p) => `"${p}"`).join(".");
}

export interface PostgresSourceOptions {
  pool: pg.Pool;
  /** Long format: `ticker text, period_ending date, metric text, value double precision`, metric names as the CSV's (total_revenue...). */
  table: string;
  /** `ticker text, name text, sector text`: names and sectors, without which there are no peers. */
  companiesTable?: string;
}

/**
 * Fundamentals in a PostgreSQL table, one row per (ticker, period_ending, metric). The fiscal
 * year is the year of period_ending. Names and sectors come from a separate companies table
 * rather than columns repeated on every metric row.
 */
export function postgresSource({ pool, table, companiesTable }: PostgresSourceOptions): PortfolioDataSource {
  const facts = quoteTable(table);
  const names = companiesTable === undefined ? undefined : quoteTable(companiesTable);
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => {
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "42P01" || code === "42703" || code === "3F000") throw new InputError(`postgres table ${table}: ${(e as Error).message}`);
      throw e;
    }
  };
  return {
    describe: () => `PostgreSQL table ${table}`,
    async company(ticker) {
      if (!names) return null;
      const rows = await query<{ name: string | null; sector: string | null }>(`SELECT name, sector FROM ${names} WHERE upper(ticker) = $1 LIMIT 1`, [ticker.toUpperCase()]);
      const row = rows[0];
      return row ? { ticker: ticker.toUpperCase(), name: row.name || ticker.toUpperCase(), sector: row.sector || UNKNOWN_SECTOR } : null;
    },
    async annual(ticker) {
      const rows = await query<{ period_ending: string; metric: string; value: number }>(
        `SELECT to_char(period_ending, 'YYYY-MM-DD') AS period_ending, metric, value FROM ${facts} WHERE upper(ticker) = $1 AND value IS NOT NULL ORDER BY period_ending`,
        [ticker.toUpperCase()],
      );
      const byYear = new Map<string, AnnualMetrics>();
      for (const r of rows) {
        const period = r.period_ending.slice(0, 4);
        let year = byYear.get(period);
        // two period ends in one calendar year: the later one stands for the year
        if (!year || year.period_ending < r.period_ending) byYear.set(period, (year = { period, period_ending: r.period_ending, metrics: {} }));
        if (year.period_ending === r.period_ending) year.metrics[r.metric] = r.value;
      }
      return [...byYear.values()];
    },
    async peerMedians(sector, excludeTicker) {
      if (!names || sector === UNKNOWN_SECTOR) return {};
      const rows = await query<{ year: string; metric: string; median: number }>(
        `SELECT to_char(f.period_ending, 'YYYY') AS year, f.metric, percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value) AS median
           FROM ${facts} f JOIN ${names} c ON upper(c.ticker) = upper(f.ticker)
          WHERE c.sector = $1 AND upper(f.ticker) <> $2 AND f.value IS NOT NULL
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [sector, excludeTicker.toUpperCase()],
      );
      const out: Peers = {};
      for (const r of rows) (out[r.year] ??= {})[r.metric] = r.median;
      return out;
    },
    kpis: async () => ({}),
  };
}

// ---- (d) composite ------------------------------------------------------------------------

/** Asks its sources in order: the first that knows the company or has its years answers; KPI series are merged. */
export function compositeSource(sources: PortfolioDataSource[]): PortfolioDataSource {
  const first = async <T>(ask: (s: PortfolioDataSource) => Promise<T>, found: (t: T) => boolean, none: T): Promise<T> => {
    for (const s of sources) {
      const answer = await ask(s);
      if (found(answer)) return answer;
    }
    return none;
  };
  return {
    describe: () => sources.map((s) => s.describe()).join(" + "),
    company: (ticker) => first((s) => s.company(ticker), (c) => c !== null, null),
    annual: (ticker) => first((s) => s.annual(ticker), (a) => a.length > 0, []),
    peerMedians: (sector, exclude) => first((s) => s.peerMedians(sector, exclude), (p) => Object.keys(p).length > 0, {}),
    async kpis(ticker) {
      const all = await Promise.all(sources.map((s) => s.kpis(ticker)));
      return Object.assign({}, ...all.reverse()) as Record<string, RawPoint[]>;
    },
  };
}

/** The source a portfolio names: fundamentals, then postgres, then KPIs. */
export function openPortfolioSource(sources: PortfolioInput["sources"], deps: { pool?: pg.Pool } = {}): PortfolioDataSource {
  const list: PortfolioDataSource[] = [];
  if (sources.fundamentals !== undefined) list.push(fundamentalsCsvSource({ file: sources.fundamentals, ...(sources.companies !== undefined && { companiesFile: sources.companies }) }));
  if (sources.postgres) {
    if (!deps.pool) throw new InputError("sources.postgres: no database to read it from");
    list.push(postgresSource({ pool: deps.pool, table: sources.postgres.table, ...(sources.postgres.companies_table !== undefined && { companiesTable: sources.postgres.companies_table }) }));
  }
  if (sources.kpis !== undefined) list.push(kpiDirectorySource({ dir: sources.kpis }));
  if (list.length === 0) throw new InputError("sources: name at least one of fundamentals, kpis or postgres");
  return list.length === 1 ? list[0]! : compositeSource(list);
}
