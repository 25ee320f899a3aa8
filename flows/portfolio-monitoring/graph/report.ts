import type { CompanyMetrics, CompanyResult, CompanyStatus, Flag, Severity } from "../agents/company.js";
import { barChart, escapeHtml as h, formatAmount, formatChange, formatMetricValue, formatTick, isPercentMetric, lineChart, metricLabel, SEVERITY_COLOR, type LineSeries, type PointMarker } from "./charts.js";
import { REPORT_CSS } from "./report-style.js";

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

const SEVERITIES: Severity[] = ["high", "medium", "low"];
const SEVERITY_RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
/** Reading order: what needs a decision first. */
const STATUSES: CompanyStatus[] = ["flagged", "failed", "data_unavailable", "ok"];
const STATUS_LABEL: Record<CompanyStatus, string> = { ok: "OK", flagged: "Flagged", data_unavailable: "Data unavailable", failed: "Failed" };
const STATUS_COLOR: Record<CompanyStatus, string> = { ok: "#12b76a", flagged: "#d92d20", data_unavailable: "#98a2b3", failed: "#7a5af8" };

const AMOUNTS = ["total_revenue", "net_income"];
const MARGINS = ["gross_margin", "operating_margin", "profit_margin"];
const PALETTE = ["#1d3557", "#2a9d8f", "#8e7cc3"];
const PEER_COLOR = "#98a2b3";

interface ChartView {
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

interface CompanyView {
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

const count = (flags: Flag[], s: Severity) => flags.filter((f) => f.severity === s).length;
const bySeverity = (flags: Flag[]) => [...flags].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A KPI flag names its period as an ISO date; a point's `t` may carry a time as well. */
function samePeriod(period: string, t: string): boolean {
  if (period === t) return true;
  const a = Date.parse(period), b = Date.parse(t);
  return Number.isFinite(a) && a === b;
}

/** A KPI period at midnight UTC reads as its date; a fiscal year as itself. */
function period(p: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::00(?:\.0+)?)?Z$/.exec(p);
  return m ? (m[2] === "00:00" ? m[1]! : `${m[1]} ${m[2]} UTC`) : p;
}

function when(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC` : iso;
}

const tooltip = (f: Flag) => `${f.severity.toUpperCase()}: ${metricLabel(f.metric)}, ${period(f.period)}, ${formatChange(f.change_pct)}. ${f.evidence}`;

function flagSummary(flags: Flag[]): string {
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
    const series: LineSeries[] = g.metrics.map((x, k) => ({ label: metricLabel(x), color: PALETTE[k % PALETTE.length]!, points: periods.map((_, i) => ({ x: i, y: value(x, i) })) }));
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
    const first = points[0]!.t, last = points[points.length - 1]!.t;
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

function companyView(c: CompanyResult, index: number, input: PortfolioReportInput): CompanyView {
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
function readingOrder(a: CompanyResult, b: CompanyResult): number {
  const weight = (c: CompanyResult) => count(c.flags, "high") * 10_000 + count(c.flags, "medium") * 100 + count(c.flags, "low");
  return STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status) || weight(b) - weight(a) || (a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0);
}

/** The weekly portfolio report, as Markdown and as one self-contained HTML page. Pure. */
export function renderPortfolioReport(input: PortfolioReportInput): PortfolioReport {
  const views = [...input.companies].sort(readingOrder).map((c, i) => companyView(c, i, input));
  return { markdown: renderMarkdown(input, views), html: renderHtml(input, views) };
}

// ---- Markdown

/** Data as inert Markdown text: no raw HTML, no links, no table breaks. */
function md(s: string): string {
  return s
    .replace(/\s+/g, " ")
    .trim()
    .replace(/\\/g, "\\\\")
    .replace(/&(?=#?\w+;)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/[|[\]`*]/g, (ch) => `\\${ch}`);
}

const yearLine = (year: number | null) => (year === null ? "latest fiscal year in the data" : `fiscal year ${year}`);

function renderMarkdown(input: PortfolioReportInput, views: CompanyView[]): string {
  const flags = views.flatMap((v) => v.flags);
  const lines = [
    `# ${md(input.title)}`,
    "",
    `Generated ${when(input.generated_at)}; ${yearLine(input.year)}.`,
    "",
    "## Portfolio overview",
    "",
    `- Companies: ${views.length} (${STATUSES.map((s) => `${STATUS_LABEL[s].toLowerCase()} ${views.filter((v) => v.result.status === s).length}`).join(", ")})`,
    `- Flags: ${flags.length} (${SEVERITIES.map((s) => `${s} ${count(flags, s)}`).join(", ")})`,
    "",
    "| company | sector | status | high | medium | low | top issue |",
    "|---|---|---|---:|---:|---:|---|",
    ...views.map((v) => {
      const c = v.result, top = v.flags[0];
      const issue = top ? `${md(metricLabel(top.metric))} ${md(period(top.period))} ${formatChange(top.change_pct)}` : md(c.reason ?? "");
      return `| ${md(c.ticker)} ${md(c.name)} | ${md(c.sector)} | ${STATUS_LABEL[c.status]} | ${SEVERITIES.map((s) => count(c.flags, s)).join(" | ")} | ${issue} |`;
    }),
  ];
  for (const v of views) {
    const c = v.result;
    lines.push("", `## ${md(c.ticker)}: ${md(c.name)}`, "", `**${STATUS_LABEL[c.status]}** · ${md(c.sector)}${v.charted || c.flags.length ? ` · ${flagSummary(c.flags)}` : ""}`);
    if (!v.charted) {
      lines.push("", `Reason: ${md(c.reason ?? "not given")}`);
    }
    if (v.figures.length > 0) {
      lines.push("", "Key figures (USD; ratios in %; flagged values in bold):", "", `| metric | ${v.periods.map(md).join(" | ")} |`, `|---|${v.periods.map(() => "---:").join("|")}|`);
      for (const row of v.figures) {
        const cells = row.values.map((x, i) => (x === null ? "—" : row.flagged[i] ? `**${formatMetricValue(row.metric, x)}**` : formatMetricValue(row.metric, x)));
        lines.push(`| ${md(metricLabel(row.metric))} | ${cells.join(" | ")} |`);
      }
    }
    if (v.kpis.length > 0) {
      lines.push("", "KPIs:", "");
      for (const k of v.kpis) {
        lines.push(`- ${md(metricLabel(k.name))}: ${k.points} points, ${md(k.first.slice(0, 10))} to ${md(k.last.slice(0, 10))}, last ${k.lastValue === null ? "—" : formatAmount(k.lastValue)}; ${plural(k.flags, "flag")}`);
      }
    }
    for (const note of v.notes) lines.push("", `_${md(note)}_`);
    if (v.flags.length > 0) {
      lines.push("", "Flags:", "", "| severity | metric | period | change | evidence | explanation | action |", "|---|---|---|---:|---|---|---|");
      for (const f of v.flags) {
        lines.push(`| ${f.severity} | ${md(metricLabel(f.metric))} | ${md(period(f.period))} | ${formatChange(f.change_pct)} | ${md(f.evidence)} | ${md(f.explanation)} | ${md(f.action)} |`);
      }
    } else if (v.charted) {
      lines.push("", "No flags.");
    }
  }
  return `${lines.join("\n")}\n`;
}

// ---- HTML

const badge = (s: CompanyStatus) => `<span class="badge status-${s}">${STATUS_LABEL[s]}</span>`;
const pill = (s: Severity) => `<span class="sev sev-${s}">${s}</span>`;
const figure = (c: ChartView) => `<figure class="chart${c.wide ? " wide" : ""}"><figcaption>${h(c.caption)}</figcaption>${c.svg}</figure>`;

function overviewHtml(input: PortfolioReportInput, views: CompanyView[]): string {
  const flags = views.flatMap((v) => v.flags);
  const ofStatus = (s: CompanyStatus) => views.filter((v) => v.result.status === s).length;
  const tile = (value: number, label: string, tone = "") => `<div class="tile${tone}"><span class="tile-value">${value}</span><span class="tile-label">${label}</span></div>`;
  const statusChart = barChart({
    description: `Companies by status: ${STATUSES.map((s) => `${STATUS_LABEL[s]} ${ofStatus(s)}`).join(", ")}`,
    bars: STATUSES.map((s) => ({ label: STATUS_LABEL[s], value: ofStatus(s), color: STATUS_COLOR[s] })),
  });
  const severityChart = barChart({
    description: `Flags by severity: ${SEVERITIES.map((s) => `${s} ${count(flags, s)}`).join(", ")}`,
    bars: SEVERITIES.map((s) => ({ label: s[0]!.toUpperCase() + s.slice(1), value: count(flags, s), color: SEVERITY_COLOR[s] })),
  });
  const rows = views.map((v) => {
    const c = v.result, top = v.flags[0];
    const issue = top ? `${pill(top.severity)} ${h(metricLabel(top.metric))} ${h(period(top.period))} <span class="num">${formatChange(top.change_pct)}</span>` : `<span class="muted">${h(c.reason ?? "—")}</span>`;
    const counts = SEVERITIES.map((s) => `<td class="num">${count(c.flags, s) || '<span class="muted">0</span>'}</td>`).join("");
    return `<tr><td><a href="#${v.anchor}"><span class="ticker">${h(c.ticker)}</span>${h(c.name)}</a></td><td>${h(c.sector)}</td><td>${badge(c.status)}</td>${counts}<td>${issue}</td></tr>`;
  });
  return `<section class="card overview" aria-labelledby="overview-title">
<h2 id="overview-title">Portfolio overview</h2>
<div class="tiles">${tile(views.length, "Companies")}${tile(ofStatus("flagged"), "Flagged", " tone-flagged")}${tile(count(flags, "high"), "High-severity flags", " tone-high")}${tile(ofStatus("data_unavailable") + ofStatus("failed"), "Data unavailable or failed")}</div>
<div class="grid">${figure({ caption: "Companies by status", svg: statusChart, wide: false })}${figure({ caption: "Flags by severity", svg: severityChart, wide: false })}</div>
<table class="overview-table"><thead><tr><th>Company</th><th>Sector</th><th>Status</th><th class="num">High</th><th class="num">Med.</th><th class="num">Low</th><th>Top issue</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
<p class="legend">Chart markers: ${SEVERITIES.map((s) => `<span class="dot" style="background:${SEVERITY_COLOR[s]}"></span>${s}`).join(" ")} · shaded band: ${h(yearLine(input.year))} · hover a marker for the evidence.</p>
</section>`;
}

function companyHtml(v: CompanyView): string {
  const c = v.result;
  const head = `<div class="company-head"><h2><span class="ticker">${h(c.ticker)}</span>${h(c.name)}</h2>${badge(c.status)}</div>
<p class="company-meta">${h(c.sector)}${v.charted || c.flags.length ? ` · ${flagSummary(c.flags)}` : ""}</p>`;
  const parts = [head];
  if (!v.charted) parts.push(`<p class="reason"><strong>${STATUS_LABEL[c.status]}:</strong> ${h(c.reason ?? "no reason given")}</p>`);
  if (v.charts.length > 0) parts.push(`<div class="grid">${v.charts.map(figure).join("")}</div>`);
  for (const note of v.notes) parts.push(`<p class="note">${h(note)}</p>`);
  if (v.figures.length > 0) {
    const headRow = v.periods.map((p) => `<th class="num">${h(p)}</th>`).join("");
    const body = v.figures.map((row) => {
      const cells = row.values.map((x, i) => {
        const sev = row.flagged[i];
        return `<td class="num${sev ? ` cell-${sev}` : ""}">${x === null ? '<span class="muted">—</span>' : formatMetricValue(row.metric, x)}</td>`;
      });
      return `<tr><td>${h(metricLabel(row.metric))}</td>${cells.join("")}</tr>`;
    });
    parts.push(`<h3>Key figures</h3><table class="figures"><thead><tr><th>Metric</th>${headRow}</tr></thead><tbody>${body.join("")}</tbody></table>`);
  }
  if (v.flags.length > 0) {
    const rows = v.flags.map(
      (f) =>
        `<tr><td>${pill(f.severity)}</td><td>${h(metricLabel(f.metric))}</td><td>${h(period(f.period))}</td><td class="num">${formatChange(f.change_pct)}</td><td class="evidence">${h(f.evidence)}</td><td>${h(f.explanation)}</td><td>${h(f.action)}</td></tr>`,
    );
    parts.push(`<h3>Flags</h3><table class="flags"><thead><tr><th>Severity</th><th>Metric</th><th>Period</th><th class="num">Change</th><th>Evidence</th><th>Explanation</th><th>Action</th></tr></thead><tbody>${rows.join("")}</tbody></table>`);
  } else if (v.charted) {
    parts.push(`<p class="note">No flags.</p>`);
  }
  return `<section class="card company" id="${v.anchor}">\n${parts.join("\n")}\n</section>`;
}

function renderHtml(input: PortfolioReportInput, views: CompanyView[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${h(input.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
<header class="report-head"><div class="eyebrow">Portfolio monitoring · weekly review</div><h1>${h(input.title)}</h1>
<p class="meta">Generated ${h(when(input.generated_at))} · ${h(yearLine(input.year))} · ${plural(views.length, "company", "companies")}</p></header>
${overviewHtml(input, views)}
${views.map(companyHtml).join("\n")}
<footer>Generated by opsgraph portfolio monitoring. Figures in USD, ratios in percent; changes are year over year, versus sector peers or versus a KPI's baseline, as each flag says.</footer>
</main>
</body>
</html>
`;
}
