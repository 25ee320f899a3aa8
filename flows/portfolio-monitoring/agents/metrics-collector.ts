/**
 * The metrics collector: gathers one company's fundamentals, sector peer medians and KPI
 * series from a data source. Pure orchestration; the sources doing I/O live in
 * flows/portfolio-monitoring/run/sources.ts and are handed in.
 */
import type { AnnualMetrics, Company, CompanyMetrics } from "./company.js";
import { resample, type RawPoint, type ReportingPeriod } from "./kpi-anomalies.js";

/** Where a portfolio's figures come from: a fundamentals file, a KPI directory, a database table, or several. */
export interface PortfolioDataSource {
  /** One line naming the source, for logs and reasons (e.g. `fundamentals CSV /data/fundamentals.csv`). */
  describe(): string;
  /** The company's name and sector, or null when this source does not know them. */
  company(ticker: string): Promise<Company | null>;
  /** The company's fiscal years, oldest first (empty when the source has none). */
  annual(ticker: string): Promise<AnnualMetrics[]>;
  /** Fiscal year to metric to the median over the sector's companies but `excludeTicker` (empty for sector "Unknown"). */
  peerMedians(sector: string, excludeTicker: string): Promise<CompanyMetrics["peers"]>;
  /** KPI series name to its raw points, in any order; the collector resamples them. */
  kpis(ticker: string): Promise<Record<string, RawPoint[]>>;
}

export interface CollectOptions {
  /** The fiscal year under review: later years are left out. Default: every year the source has. */
  year?: number;
  /** The reporting period KPI series are resampled to. */
  period?: ReportingPeriod;
  /** The portfolio's own name and sector for the company, which win over the source's. */
  name?: string;
  sector?: string;
}

export const UNKNOWN_SECTOR = "Unknown";

/**
 * Ratios the analyst reads that a source may lack, computed from the figures it has. Values
 * already present win (the fundamentals file's own margins are rounded to whole percent).
 */
export function deriveMetrics(m: Record<string, number>): Record<string, number> {
  const out = { ...m };
  const pct = (num: number | undefined, den: number | undefined) => (num !== undefined && den !== undefined && den !== 0 ? (num / den) * 100 : undefined);
  const put = (name: string, value: number | undefined) => {
    if (out[name] === undefined && value !== undefined && Number.isFinite(value)) out[name] = value;
  };
  const revenue = m.total_revenue;
  put("gross_margin", pct(m.gross_profit, revenue));
  put("operating_margin", pct(m.operating_income, revenue));
  put("profit_margin", pct(m.net_income, revenue));
  if (m.long_term_debt !== undefined || m.short_term_debt !== undefined) put("total_debt", (m.long_term_debt ?? 0) + (m.short_term_debt ?? 0));
  // debt to equity means nothing once equity is gone; negative equity is a finding of its own
  if (out.total_debt !== undefined && m.total_equity !== undefined && m.total_equity > 0) put("debt_to_equity", pct(out.total_debt, m.total_equity));
  put("liabilities_to_assets", pct(m.total_liabilities, m.total_assets));
  return out;
}

/**
 * Everything the KPI analyst needs about one company, or null when no source knows the
 * ticker (the company is then `data_unavailable`). A source's error propagates: the caller
 * marks that company `failed`.
 */
export async function collectMetrics(ticker: string, source: PortfolioDataSource, opts: CollectOptions = {}): Promise<CompanyMetrics | null> {
  const { year, period = "week" } = opts;
  const [known, allYears, rawKpis] = await Promise.all([source.company(ticker), source.annual(ticker), source.kpis(ticker)]);
  const kpiNames = Object.keys(rawKpis).filter((k) => (rawKpis[k]?.length ?? 0) > 0);
  if (!known && allYears.length === 0 && kpiNames.length === 0) return null;

  const company: Company = {
    ticker,
    name: opts.name ?? known?.name ?? ticker,
    sector: opts.sector ?? known?.sector ?? UNKNOWN_SECTOR,
  };
  const inScope = (p: string) => year === undefined || Number(p) <= year;
  const annual = allYears.filter((a) => inScope(a.period)).map((a) => ({ ...a, metrics: deriveMetrics(a.metrics) }));
  const allPeers = company.sector === UNKNOWN_SECTOR ? {} : await source.peerMedians(company.sector, ticker);
  const peers = Object.fromEntries(Object.entries(allPeers).filter(([p]) => inScope(p)));
  const kpis = Object.fromEntries(kpiNames.sort().map((k) => [k, resample(rawKpis[k] ?? [], period)]));
  return { version: 1, company, annual, peers, kpis };
}
