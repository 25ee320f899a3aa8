/** The report as one self-contained HTML page: inline CSS and SVG, no script, no external resource. */
import type { CompanyStatus, Severity } from "../../agents/company.js";
import { barChart, escapeHtml as h, formatChange, formatMetricValue, metricLabel, SEVERITY_COLOR } from "../charts.js";
import { REPORT_CSS } from "../report-style.js";
import {
  count,
  flagSummary,
  period,
  plural,
  SEVERITIES,
  STATUS_LABEL,
  STATUSES,
  when,
  yearLine,
  type ChartView,
  type CompanyView,
  type PortfolioReportInput,
} from "./view-model.js";

const STATUS_COLOR: Record<CompanyStatus, string> = { ok: "#12b76a", flagged: "#d92d20", data_unavailable: "#98a2b3", failed: "#7a5af8" };

const badge = (s: CompanyStatus) => `<span class="badge status-${s}">${STATUS_LABEL[s]}</span>`;
const pill = (s: Severity) => `<span class="sev sev-${s}">${s}</span>`;
const figure = (c: ChartView) => `<figure class="chart${c.wide ? " wide" : ""}"><figcaption>${h(c.caption)}</figcaption>${c.svg}</figure>`;

function overviewHtml(input: PortfolioReportInput, views: CompanyView[]): string {
  const flags = views.flatMap((v) => v.flags);
  const ofStatus = (s: CompanyStatus) => views.filter((v) => v.result.status === s).length;
  const tile = (value: number, label: string, tone = "") =>
    `<div class="tile${tone}"><span class="tile-value">${value}</span><span class="tile-label">${label}</span></div>`;
  const statusChart = barChart({
    description: `Companies by status: ${STATUSES.map((s) => `${STATUS_LABEL[s]} ${ofStatus(s)}`).join(", ")}`,
    bars: STATUSES.map((s) => ({ label: STATUS_LABEL[s], value: ofStatus(s), color: STATUS_COLOR[s] })),
  });
  const severityChart = barChart({
    description: `Flags by severity: ${SEVERITIES.map((s) => `${s} ${count(flags, s)}`).join(", ")}`,
    bars: SEVERITIES.map((s) => ({ label: s[0]!.toUpperCase() + s.slice(1), value: count(flags, s), color: SEVERITY_COLOR[s] })),
  });
  const rows = views.map((v) => {
    const c = v.result,
      top = v.flags[0];
    const issue = top
      ? `${pill(top.severity)} ${h(metricLabel(top.metric))} ${h(period(top.period))} <span class="num">${formatChange(top.change_pct)}</span>`
      : `<span class="muted">${h(c.reason ?? "—")}</span>`;
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
    parts.push(
      `<h3>Flags</h3><table class="flags"><thead><tr><th>Severity</th><th>Metric</th><th>Period</th><th class="num">Change</th><th>Evidence</th><th>Explanation</th><th>Action</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
    );
  } else if (v.charted) {
    parts.push(`<p class="note">No flags.</p>`);
  }
  return `<section class="card company" id="${v.anchor}">\n${parts.join("\n")}\n</section>`;
}
export function renderHtml(input: PortfolioReportInput, views: CompanyView[]): string {
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
