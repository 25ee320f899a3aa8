/** The report as Markdown. */
import { formatAmount, formatChange, formatMetricValue, metricLabel } from "../charts.js";
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
  type CompanyView,
  type PortfolioReportInput,
} from "./view-model.js";

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

export function renderMarkdown(input: PortfolioReportInput, views: CompanyView[]): string {
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
      const c = v.result,
        top = v.flags[0];
      const issue = top ? `${md(metricLabel(top.metric))} ${md(period(top.period))} ${formatChange(top.change_pct)}` : md(c.reason ?? "");
      return `| ${md(c.ticker)} ${md(c.name)} | ${md(c.sector)} | ${STATUS_LABEL[c.status]} | ${SEVERITIES.map((s) => count(c.flags, s)).join(" | ")} | ${issue} |`;
    }),
  ];
  for (const v of views) {
    const c = v.result;
    lines.push(
      "",
      `## ${md(c.ticker)}: ${md(c.name)}`,
      "",
      `**${STATUS_LABEL[c.status]}** · ${md(c.sector)}${v.charted || c.flags.length ? ` · ${flagSummary(c.flags)}` : ""}`,
    );
    if (!v.charted) {
      lines.push("", `Reason: ${md(c.reason ?? "not given")}`);
    }
    if (v.figures.length > 0) {
      lines.push(
        "",
        "Key figures (USD; ratios in %; flagged values in bold):",
        "",
        `| metric | ${v.periods.map(md).join(" | ")} |`,
        `|---|${v.periods.map(() => "---:").join("|")}|`,
      );
      for (const row of v.figures) {
        const cells = row.values.map((x, i) =>
          x === null ? "—" : row.flagged[i] ? `**${formatMetricValue(row.metric, x)}**` : formatMetricValue(row.metric, x),
        );
        lines.push(`| ${md(metricLabel(row.metric))} | ${cells.join(" | ")} |`);
      }
    }
    if (v.kpis.length > 0) {
      lines.push("", "KPIs:", "");
      for (const k of v.kpis) {
        lines.push(
          `- ${md(metricLabel(k.name))}: ${k.points} points, ${md(k.first.slice(0, 10))} to ${md(k.last.slice(0, 10))}, last ${k.lastValue === null ? "—" : formatAmount(k.lastValue)}; ${plural(k.flags, "flag")}`,
        );
      }
    }
    for (const note of v.notes) lines.push("", `_${md(note)}_`);
    if (v.flags.length > 0) {
      lines.push("", "Flags:", "", "| severity | metric | period | change | evidence | explanation | action |", "|---|---|---|---:|---|---|---|");
      for (const f of v.flags) {
        lines.push(
          `| ${f.severity} | ${md(metricLabel(f.metric))} | ${md(period(f.period))} | ${formatChange(f.change_pct)} | ${md(f.evidence)} | ${md(f.explanation)} | ${md(f.action)} |`,
        );
      }
    } else if (v.charted) {
      lines.push("", "No flags.");
    }
  }
  return `${lines.join("\n")}\n`;
}
