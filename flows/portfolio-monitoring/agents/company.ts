import { z } from "zod";

/** One company of a portfolio, as the portfolio names it. */
export const Company = z.object({
  ticker: z.string().describe("The company's ticker symbol, e.g. AAL"),
  name: z.string().describe("The company's name (the ticker when unknown)"),
  sector: z.string().describe('The company\'s sector, e.g. Industrials ("Unknown" when the source has none)'),
});
export type Company = z.infer<typeof Company>;

/** A point of a KPI time series, resampled to the reporting period. */
export const KpiPoint = z.object({
  t: z.string().describe("Start of the period, ISO 8601 (UTC)"),
  value: z.number().describe("The KPI's value over the period (mean of the raw points)"),
});
export type KpiPoint = z.infer<typeof KpiPoint>;

/** One fiscal year of a company's fundamentals. */
export const AnnualMetrics = z.object({
  period: z.string().describe("The fiscal year, e.g. 2014"),
  period_ending: z.string().describe("The fiscal year's last day, YYYY-MM-DD"),
  metrics: z.record(z.string(), z.number()).describe("Metric name (snake_case, e.g. total_revenue) to value in USD, or whole percent for ratios"),
});
export type AnnualMetrics = z.infer<typeof AnnualMetrics>;

/** What the metrics collector gathered for one company: the KPI analyst's input. */
export const CompanyMetrics = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  company: Company,
  annual: z.array(AnnualMetrics).describe("Fiscal years, oldest first"),
  /** Sector medians of the same metrics and years, over every company of the source in the sector but this one. */
  peers: z.record(z.string(), z.record(z.string(), z.number())).describe("Fiscal year to metric name to the sector peers' median"),
  kpis: z.record(z.string(), z.array(KpiPoint)).describe("KPI series name to its points, oldest first"),
});
export type CompanyMetrics = z.infer<typeof CompanyMetrics>;

export const Severity = z.enum(["high", "medium", "low"]).describe("high: act this week; medium: discuss at the next review; low: note");
export type Severity = z.infer<typeof Severity>;

/** One issue flagged for a company: what the report and the JSON result show. */
export const Flag = z.object({
  metric: z.string().describe("The metric or KPI series, e.g. total_revenue"),
  period: z.string().describe("The fiscal year or the KPI period (ISO date) the flag is about"),
  severity: Severity,
  change_pct: z
    .number()
    .nullable()
    .describe("The change behind the flag in percent (year over year, versus peers or versus the series' baseline); null when not a change"),
  evidence: z.string().describe("The numbers the flag rests on, e.g. 'total_revenue 26,743M (2013) -> 42,650M (2014)'"),
  explanation: z.string().describe("Why it matters, in one or two sentences"),
  action: z.string().describe("The recommended action"),
});
export type Flag = z.infer<typeof Flag>;

/** Where a company stands at the end of a run. */
export const CompanyStatus = z.enum(["ok", "flagged", "data_unavailable", "failed"]);
export type CompanyStatus = z.infer<typeof CompanyStatus>;

/** A company in the run's result (`result.companies`). */
export const CompanyResult = z.object({
  ticker: z.string(),
  name: z.string(),
  sector: z.string(),
  status: CompanyStatus,
  /** Why the status is data_unavailable or failed. */
  reason: z.string().optional(),
  flags: z.array(Flag),
});
export type CompanyResult = z.infer<typeof CompanyResult>;
