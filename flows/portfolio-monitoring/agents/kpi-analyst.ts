import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import type { AnnualMetrics, CompanyMetrics } from "./company.js";
import { detectAnomalies, type AnomalyOptions } from "./kpi-anomalies.js";

export const FindingKind = z
  .enum(["yoy", "margin", "liquidity", "leverage", "peer", "anomaly"])
  .describe(
    "yoy: year over year; margin, liquidity, leverage: a ratio against the year before; peer: against the sector median; anomaly: a KPI period against its baseline",
  );
export type FindingKind = z.infer<typeof FindingKind>;

export const Finding = z.object({
  metric: z.string().describe("The metric or KPI series, e.g. total_revenue"),
  period: z.string().describe("The fiscal year, or the KPI period's start (ISO 8601)"),
  kind: FindingKind,
  value: z.number().describe("The metric's value in the period (USD, or whole percent for ratios)"),
  reference: z.number().nullable().describe("What the value is compared with: the year before, the peer median or the KPI baseline"),
  reference_period: z
    .string()
    .nullable()
    .describe("The reference's fiscal year (yoy, margin, liquidity, leverage) or the sector (peer); null for a KPI baseline"),
  change_pct: z.number().nullable().describe("(value - reference) / |reference| in percent; null when the reference is 0 or missing"),
  change_pts: z.number().nullable().describe("value - reference in percentage points, for metrics in percent (margins, ratios); else null"),
  score: z.number().nullable().describe("The anomaly's robust z-score; null for other kinds"),
  note: z.string().describe("What the figure says, in one sentence"),
});
export type Finding = z.infer<typeof Finding>;

/** The KPI analyst's output, kept in state. */
export const KpiAnalysis = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  ticker: z.string().describe("The company's ticker"),
  focus_year: z.string().nullable().describe("The fiscal year analysed; null when the company has no fundamentals for it"),
  findings: z.array(Finding).describe("The computed figures (rules tier: all of them; model tier: the ones that matter)"),
});
export type KpiAnalysis = z.infer<typeof KpiAnalysis>;

export const KpiAnalystAnswer = z.object({
  findings: z
    .array(
      z.object({
        metric: z.string().describe("The metric, copied from a computed figure"),
        period: z.string().describe("The period, copied from the same figure"),
        kind: FindingKind,
        value: z.number().describe("The figure's value, copied exactly"),
        change_pct: z.number().nullable().describe("The figure's change_pct, copied exactly (null when it has none)"),
        note: z.string().describe("Why this figure matters for the company, in one sentence"),
      }),
    )
    .describe("Only the computed figures that matter, most important first"),
});
export type KpiAnalystAnswer = z.infer<typeof KpiAnalystAnswer>;

export interface KpiAnalystInput {
  metrics: CompanyMetrics;
  /** The fiscal year to analyse; default the latest the company has. */
  year?: number;
  /** Only KPI anomalies at or after this ISO date (the review window); default all. */
  since?: string;
  anomalies?: AnomalyOptions;
}

export const YOY_METRICS = ["total_revenue", "net_income", "operating_income", "earnings_per_share", "cash_and_cash_equivalents", "total_debt"];
export const MARGIN_METRICS = ["gross_margin", "operating_margin", "profit_margin"];
export const LIQUIDITY_METRICS = ["current_ratio", "quick_ratio", "cash_ratio"];
export const LEVERAGE_METRICS = ["debt_to_equity", "liabilities_to_assets"];
export const PEER_METRICS = ["gross_margin", "operating_margin", "profit_margin", "current_ratio", "debt_to_equity", "liabilities_to_assets"];
/** Metrics in whole percent: their changes are also given in points. */
export const PERCENT_METRICS = new Set([...MARGIN_METRICS, ...LIQUIDITY_METRICS, ...LEVERAGE_METRICS, "pre_tax_margin", "after_tax_roe", "pre_tax_roe"]);

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

function compare(
  metric: string,
  period: string,
  kind: FindingKind,
  value: number,
  reference: number | null,
  referencePeriod: string | null,
  note: string,
): Finding {
  const changePct = reference !== null && reference !== 0 ? round(((value - reference) / Math.abs(reference)) * 100, 1) : null;
  const changePts = reference !== null && PERCENT_METRICS.has(metric) ? round(value - reference, 1) : null;
  return { metric, period, kind, value, reference, reference_period: referencePeriod, change_pct: changePct, change_pts: changePts, score: null, note };
}

function describeChange(f: Finding, against: string): string {
  if (f.reference === null) return `${f.metric} is ${round(f.value)} in ${f.period}`;
  const by =
    f.change_pts !== null
      ? `${f.change_pts >= 0 ? "+" : ""}${f.change_pts} points`
      : f.change_pct !== null
        ? `${f.change_pct >= 0 ? "+" : ""}${f.change_pct}%`
        : `from ${round(f.reference)} to ${round(f.value)}`;
  return `${f.metric} ${by} ${against}`;
}

function annualFindings(focus: AnnualMetrics, previous: AnnualMetrics | undefined, peers: Record<string, number> | undefined, sector: string): Finding[] {
  const out: Finding[] = [];
  const now = focus.metrics;
  const before = previous?.metrics ?? {};
  const prevYear = previous?.period ?? null;
  const add = (metrics: string[], kind: FindingKind) => {
    for (const m of metrics) {
      const v = now[m];
      if (v === undefined) continue;
      const f = compare(m, focus.period, kind, v, before[m] ?? null, before[m] === undefined ? null : prevYear, "");
      f.note = describeChange(f, `year over year (${prevYear} to ${focus.period})`);
      out.push(f);
    }
  };
  add(YOY_METRICS, "yoy");
  add(MARGIN_METRICS, "margin");
  add(LIQUIDITY_METRICS, "liquidity");
  add(LEVERAGE_METRICS, "leverage");
  const equity = now.total_equity;
  if (equity !== undefined && equity <= 0) {
    const f = compare("total_equity", focus.period, "leverage", equity, before.total_equity ?? null, before.total_equity === undefined ? null : prevYear, "");
    f.note = (before.total_equity ?? 0) > 0 ? "equity turned negative: liabilities exceed assets" : "equity is negative: liabilities exceed assets";
    out.push(f);
  }
  for (const m of PEER_METRICS) {
    const v = now[m];
    const median = peers?.[m];
    if (v === undefined || median === undefined) continue;
    const f = compare(m, focus.period, "peer", v, round(median, 4), sector, "");
    f.note = describeChange(f, `against the ${sector} median`);
    out.push(f);
  }
  return out;
}

function anomalyFindings(kpis: CompanyMetrics["kpis"], since: string | undefined, opts: AnomalyOptions | undefined): Finding[] {
  const out: Finding[] = [];
  for (const [series, points] of Object.entries(kpis)) {
    for (const a of detectAnomalies(points, opts)) {
      if (since !== undefined && a.t < since) continue;
      const changePct = round(a.change_pct, 1);
      out.push({
        metric: series,
        period: a.t,
        kind: "anomaly",
        value: round(a.value, 4),
        reference: round(a.baseline, 4),
        reference_period: null,
        change_pct: changePct,
        change_pts: null,
        score: round(a.score, 1),
        note: `${series} ${changePct >= 0 ? "+" : ""}${changePct}% against its baseline (robust z-score ${round(a.score, 1)})`,
      });
    }
  }
  return out;
}

/** Every figure the analyst computes for the focus year and the KPI series: deterministic. */
export function analyse(input: KpiAnalystInput): KpiAnalysis {
  const { metrics } = input;
  const annual = metrics.annual;
  const i = input.year === undefined ? annual.length - 1 : annual.findIndex((a) => a.period === String(input.year));
  const focus = i >= 0 ? annual[i] : undefined;
  const findings = focus ? annualFindings(focus, annual[i - 1], metrics.peers[focus.period], metrics.company.sector) : [];
  findings.push(...anomalyFindings(metrics.kpis, input.since, input.anomalies));
  return { version: 1, ticker: metrics.company.ticker, focus_year: focus?.period ?? null, findings };
}

export const findingKey = (f: { kind: string; metric: string; period: string }) => `${f.kind} ${f.metric} ${f.period}`;

/** Equal within the rounding a model may apply when it copies a figure. */
function matches(claimed: number | null, actual: number | null): boolean {
  if (claimed === null || actual === null) return claimed === actual;
  return Math.abs(claimed - actual) <= Math.max(Math.abs(actual) * 0.005, 0.06);
}

const show = (x: number | null) => (x === null ? "null" : String(round(x, 4)));

export const kpiAnalyst: Agent<KpiAnalystInput, KpiAnalystAnswer, KpiAnalysis> = {
  name: "kpi_analyst",
  version: 1,
  modelOutput: KpiAnalystAnswer,
  output: KpiAnalysis,
  prompt(input) {
    const computed = analyse(input);
    const { company } = input.metrics;
    const lines = computed.findings.map(
      (f) =>
        `- kind=${f.kind} metric=${f.metric} period=${f.period} value=${show(f.value)} reference=${show(f.reference)}${f.reference_period ? ` (${f.reference_period})` : ""} change_pct=${show(f.change_pct)}${f.change_pts !== null ? ` change_pts=${f.change_pts}` : ""}${f.score !== null ? ` score=${f.score}` : ""}`,
    );
    return {
      system:
        "You are a portfolio analyst reviewing one company's figures for a weekly portfolio review. " +
        "The figures below were computed from the company's data; USD amounts are in dollars, ratios and margins in whole percent. " +
        "Pick the figures that matter to an investor (large changes, deteriorating margins, liquidity or leverage, gaps to sector peers, KPI anomalies) and say in one sentence why each matters. " +
        "Copy kind, metric, period, value and change_pct exactly from the list; never compute new numbers. Return an empty list when nothing matters.",
      user: `${company.name} (${company.ticker}), sector ${company.sector}, fiscal year ${computed.focus_year ?? "none"}:\n${lines.join("\n") || "(no figures)"}`,
    };
  },
  finish(answer, input) {
    const computed = analyse(input);
    const byKey = new Map(computed.findings.map((f) => [findingKey(f), f]));
    const problems: string[] = [];
    const findings: Finding[] = [];
    const seen = new Set<string>();
    for (const a of answer.findings) {
      const f = byKey.get(findingKey(a));
      if (!f) {
        problems.push(`no computed ${a.kind} figure for ${a.metric} in ${a.period}`);
        continue;
      }
      if (!matches(a.value, f.value)) problems.push(`${a.metric} ${a.period}: value ${a.value} is not ${show(f.value)}`);
      else if (!matches(a.change_pct, f.change_pct)) problems.push(`${a.metric} ${a.period}: change_pct ${a.change_pct} is not ${show(f.change_pct)}`);
      else if (!seen.has(findingKey(f))) {
        seen.add(findingKey(f));
        findings.push({ ...f, note: a.note });
      }
    }
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return { ...computed, findings };
  },
  rules: analyse,
};
