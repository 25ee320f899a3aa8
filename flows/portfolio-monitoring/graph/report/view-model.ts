/**
 * The report's view model: companies in reading order, each with its charts (SVG), key
 * figures, KPI summaries and notes, plus the small formatting helpers both renderers share.
 */
import type { CompanyMetrics, CompanyResult, CompanyStatus, Flag, Severity } from "../../agents/company.js";
import { formatChange, formatMetricValue, formatTick, isPercentMetric, lineChart, metricLabel, type LineSeries, type PointMarker } from "../charts.js";

export interface PortfolioReportInput {
  /** The report's heading, e.g. "Portfolio review, week 19". */
  title: string;
  /** When the run produced the report, ISO 8601. */
  generated_at: string;
  /** The fiscal year under review; null: the latest in the data. */
  year: number | null;
  companies: CompanyResult[];
  /** What the collector gathered, by ticker; null (or absent) when it gathered nothing. */
  metrics: Record<string, CompanyMetrics | null>;
}

export interface PortfolioReport {
  markdown: string;
  /** One self-contained page: inline CSS and SVG, no script, no external resource. */
  html: string;
}

export const SEVERITIES: Severity[] = ["high", "medium", "low"];
const SEVERITY_RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
/** Reading order: what needs a decision first. */
export const STATUSES: CompanyStatus[] = ["flagged", "failed", "data_unavailable", "ok"];
export const STATUS_LABEL: Record<CompanyStatus, string> = { ok: "OK", flagged: "Flagged", data_unavailable: "Data unavailable", failed: "Failed" };

const AMOUNTS = ["total_revenue", "net_income"];
const MARGINS = ["gross_margin", "operating_margin", "profit_margin"];
const PALETTE = ["#1d3557", "#2a9d8f", "#8e7cc3"];
const PEER_COLOR = "#98a2b3";

export interface ChartView {
  caption: string;
  svg: string;
  wide: boolean;
}

interface FigureRow {
  metric: string;
  values: (number | null)[];
  /** The highest severity flagged at each period, if any. */
  flagged: (Severity | null)[];
}

interface KpiSummary {
  name: string;
  points: number;
  first: string;
  last: string;
  lastValue: number | null;
  flags: number;
}

export interface CompanyView {
  result: CompanyResult;
  anchor: string;
  flags: Flag[];
  /** false: data_unavailable or failed, shown with the reason only. */
  charted: boolean;
  periods: string[];
  figures: FigureRow[];
  charts: ChartView[];
  kpis: KpiSummary[];
  notes: string[];
}

export const count = (flags: Flag[], s: Severity) => flags.filter((f) => f.severity === s).length;
const bySeverity = (flags: Flag[]) => [...flags].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A KPI flag names its period as an ISO date; a point's `t` may carry a time as well. */
function samePeriod(period: string, t: string): boolean {
  if (period === t) return true;
  const a = Date.parse(period),
    b = Date.parse(t);
  return Number.isFinite(a) && a === b;
}

/** A KPI period at midnight UTC reads as its date; a fiscal year as itself. */
export function period(p: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::00(?:\.0+)?)?Z$/.exec(p);
  return m ? (m[2] === "00:00" ? m[1]! : `${m[1]} ${m[2]} UTC`) : p;
}

export function when(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC` : iso;
}

const tooltip = (f: Flag) => `${f.severity.toUpperCase()}: ${metricLabel(f.metric)}, ${period(f.period)}, ${formatChange(f.change_pct)}. ${f.evidence}`;

export function flagSummary(flags: Flag[]): string {
  if (flags.length === 0) return "no flags";
  const parts = SEVERITIES.filter((s) => count(flags, s) > 0).map((s) => `${count(flags, s)} ${s}`);
  return `${plural(flags.length, "flag")} (${parts.join(", ")})`;
}

/** Fundamentals charts (revenue and net income; margins; each other flagged metric against its sector median). */
function fundamentals(c: CompanyResult, m: CompanyMetrics, year: number | null, placed: Set<Flag>) {
  const periods = m.annual.map((a) => a.period);
  const value = (metric: string, i: number) => finiteOrNull(m.annual[i]?.metrics[metric]);
  const has = (metric: string) => periods.some((_, i) => value(metric, i) !== null);
  const extra = [...new Set(c.flags.map((f) => f.metric))].filter((x) => !AMOUNTS.includes(x) && !MARGINS.includes(x) && !(x in m.kpis) && has(x));
  const groups = [
    { caption: "Revenue and net income (USD)", metrics: AMOUNTS.filter(has), peers: false },
    { caption: "Margins (%)", metrics: MARGINS.filter(has), peers: false },
    ...extra.map((x) => ({ caption: `${metricLabel(x)}${isPercentMetric(x) ? " (%)" : ""} vs. sector median`, metrics: [x], peers: true })),
  ].filter((g) => g.metrics.length > 0);
  const highlight = year === null ? -1 : periods.indexOf(String(year));
  const step = Math.ceil(periods.length / 12);
  const xTicks = periods.map((label, x) => ({ x, label })).filter((_, i) => i % step === 0);

  const charts: ChartView[] = groups.map((g) => {
    const series: LineSeries[] = g.metrics.map((x, k) => ({
      label: metricLabel(x),
      color: PALETTE[k % PALETTE.length]!,
      points: periods.map((_, i) => ({ x: i, y: value(x, i) })),
    }));
    const peer = periods.map((p, i) => ({ x: i, y: finiteOrNull(m.peers[p]?.[g.metrics[0]!]) }));
    if (g.peers && peer.some((p) => p.y !== null)) series.push({ label: "Sector median", color: PEER_COLOR, dashed: true, points: peer });
    const markers: PointMarker[] = [];
    g.metrics.forEach((x, s) => {
      for (const f of c.flags) {
        const i = periods.indexOf(f.period);
        if (placed.has(f) || f.metric !== x || i < 0 || value(x, i) === null) continue;
        placed.add(f);
        markers.push({ series: s, point: i, severity: f.severity, tooltip: tooltip(f) });
      }
    });
    const span = periods.length ? `fiscal ${periods[0]} to ${periods[periods.length - 1]}` : "no fiscal years";
    const svg = lineChart({
      description: `${g.caption} for ${c.name}, ${span}; ${plural(markers.length, "flagged point")}`,
      series,
      xTicks,
      markers,
      format: (v) => formatMetricValue(g.metrics[0]!, v, formatTick),
      includeZero: !g.peers,
      ...(highlight >= 0 ? { highlightX: highlight } : {}),
      width: 520,
      height: 260,
    });
    return { caption: g.caption, svg, wide: false };
  });

  const figures: FigureRow[] = [...AMOUNTS, ...MARGINS, ...extra].filter(has).map((metric) => ({
    metric,
    values: periods.map((_, i) => value(metric, i)),
    flagged: periods.map((p) => bySeverity(c.flags.filter((f) => f.metric === metric && f.period === p))[0]?.severity ?? null),
  }));
  return { periods, charts, figures };
}

/** One wide chart per KPI series, anomaly flags marked. */
function kpiCharts(c: CompanyResult, m: CompanyMetrics, placed: Set<Flag>) {
  const charts: ChartView[] = [];
  const kpis: KpiSummary[] = [];
  const notes: string[] = [];
  for (const [name, raw] of Object.entries(m.kpis)) {
    const points = raw.filter((p) => Number.isFinite(Date.parse(p.t)) && Number.isFinite(p.value));
    if (points.length === 0) {
      notes.push(`KPI ${name} has no points to chart.`);
      continue;
    }
    const markers: PointMarker[] = [];
    for (const f of c.flags) {
      const i = f.metric === name && !placed.has(f) ? points.findIndex((p) => samePeriod(f.period, p.t)) : -1;
      if (i < 0) continue;
      placed.add(f);
      markers.push({ series: 0, point: i, severity: f.severity, tooltip: tooltip(f) });
    }
    const tickAt = [...new Set([0, 1, 2, 3, 4].map((k) => Math.round((k * (points.length - 1)) / 4)))];
    const days = tickAt.map((i) => points[i]!.t.slice(0, 10));
    // intraday series: show the time too, or the ticks would repeat one date
    const labels = new Set(days).size === days.length ? days : tickAt.map((i) => points[i]!.t.slice(0, 16).replace("T", " "));
    const first = points[0]!.t,
      last = points[points.length - 1]!.t;
    const svg = lineChart({
      description: `KPI ${name} for ${c.name}, ${first.slice(0, 10)} to ${last.slice(0, 10)}; ${plural(markers.length, "flagged point")}`,
      series: [{ label: metricLabel(name), color: PALETTE[0]!, points: points.map((p) => ({ x: Date.parse(p.t), y: p.value })) }],
      xTicks: tickAt.map((i, k) => ({ x: Date.parse(points[i]!.t), label: labels[k]! })),
      markers,
      width: 1040,
      height: 240,
    });
    charts.push({ caption: `KPI: ${metricLabel(name)}`, svg, wide: true });
    kpis.push({ name, points: points.length, first, last, lastValue: points[points.length - 1]!.value, flags: markers.length });
  }
  return { charts, kpis, notes };
}

export function companyView(c: CompanyResult, index: number, input: PortfolioReportInput): CompanyView {
  const anchor = `company-${index + 1}-${c.ticker.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase()}`;
  const base = { result: c, anchor, flags: bySeverity(c.flags), periods: [], figures: [], charts: [], kpis: [], notes: [] };
  if (c.status === "data_unavailable" || c.status === "failed") return { ...base, charted: false };
  const m = input.metrics[c.ticker] ?? null;
  if (!m) return { ...base, charted: true, notes: ["No metrics were collected for this company."] };
  const placed = new Set<Flag>();
  const f = fundamentals(c, m, input.year, placed);
  const k = kpiCharts(c, m, placed);
  const notes = [...k.notes];
  if (m.annual.length === 0) notes.unshift("No fiscal years in the data.");
  const unplaced = c.flags.length - placed.size;
  if (unplaced > 0) notes.push(`${plural(unplaced, "flag")} ${unplaced === 1 ? "is" : "are"} not on a chart: no matching metric and period in the data.`);
  return { ...base, charted: true, periods: f.periods, figures: f.figures, charts: [...f.charts, ...k.charts], kpis: k.kpis, notes };
}

/** Flagged companies first (most severe first), then failed, data unavailable, ok; ties by ticker. */
export function readingOrder(a: CompanyResult, b: CompanyResult): number {
  const weight = (c: CompanyResult) => count(c.flags, "high") * 10_000 + count(c.flags, "medium") * 100 + count(c.flags, "low");
  return STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status) || weight(b) - weight(a) || (a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0);
}

export const yearLine = (year: number | null) => (year === null ? "latest fiscal year in the data" : `fiscal year ${year}`);
