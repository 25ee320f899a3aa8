import type { Severity } from "../agents/company.js";

// Hand-written SVG so the report stays one self-contained file: no chart library, no
// script, no external resource. Coordinates are rounded so the same input gives the same bytes.

export const SEVERITY_COLOR: Record<Severity, string> = { high: "#d92d20", medium: "#f79009", low: "#667085" };
const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2 };

/** Escapes text for HTML and SVG, in element content and in quoted attributes alike. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const UNITS: [number, string][] = [
  [1e12, "T"],
  [1e9, "B"],
  [1e6, "M"],
  [1e3, "K"],
];
/** One decimal, half away from zero, on the decimal value (42.65 -> 42.7, where toFixed says 42.6). */
const fixed1 = (v: number) => (Math.sign(v) * Math.round(Number((Math.abs(v) * 10).toPrecision(12)))) / 10;
const trimZeros = (s: string) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);
const noNegativeZero = (s: string) => (/^-0(\.0+)?$/.test(s) ? s.slice(1) : s);

/** An amount as a reader scans it: 26.7B, -1.8B, 640.0M, 12.5K, 4.02 (one decimal in a unit, so columns line up). */
export function formatAmount(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  for (let i = 0; i < UNITS.length; i++) {
    const [size, suffix] = UNITS[i]!;
    if (abs < size) continue;
    // 999.96M rounds to 1000.0M: say 1.0B instead
    if (Math.abs(fixed1(v / size)) >= 1000 && i > 0) return `${fixed1(v / UNITS[i - 1]![0]).toFixed(1)}${UNITS[i - 1]![1]}`;
    return `${fixed1(v / size).toFixed(1)}${suffix}`;
  }
  return noNegativeZero(trimZeros(v.toFixed(2)));
}

/** An axis tick: round numbers need no decimal (20B, not 20.0B). */
export const formatTick = (v: number) => formatAmount(v).replace(/\.0(?=[A-Z]?$)/, "");

/** A change in percent, signed: +59.5%, -4.0%; a dash when there is none. */
export function formatChange(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return "—";
  const s = noNegativeZero(fixed1(pct).toFixed(1));
  return `${pct > 0 && s !== "0.0" ? "+" : ""}${s}%`;
}

/** Ratios in the source are whole percent (operating_margin 10 means 10%). */
export const isPercentMetric = (metric: string) => /(margin|ratio|roe|roa|_pct|percent)$/.test(metric);

/** A metric's value in its unit: 10% for a margin, 26.7B for an amount. */
export const formatMetricValue = (metric: string, v: number, amount: (v: number) => string = formatAmount) =>
  isPercentMetric(metric) ? `${trimZeros(fixed1(v).toFixed(1))}%` : amount(v);

/** total_revenue -> Total revenue. */
export function metricLabel(metric: string): string {
  const words = metric.replace(/[_\s]+/g, " ").trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : metric;
}

/** Round axis steps (1, 2, 2.5, 5 times a power of ten) covering [min, max]. */
export function axisTicks(min: number, max: number, count = 5): number[] {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * magnitude;
  const lo = Math.floor(min / step);
  const hi = Math.ceil(max / step);
  const ticks: number[] = [];
  for (let i = lo; i <= hi; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

export interface LinePoint {
  x: number;
  /** null (or not finite) leaves a gap in the line. */
  y: number | null;
}

export interface LineSeries {
  label: string;
  color: string;
  points: LinePoint[];
  /** Dashed: a reference line (a sector median), not the company's own figures. */
  dashed?: boolean;
}

/** A flagged point: drawn over the point in the severity's colour, with a tooltip. */
export interface PointMarker {
  series: number;
  point: number;
  severity: Severity;
  tooltip: string;
}

export interface LineChartOptions {
  /** What the chart shows, read out by screen readers (aria-label). */
  description: string;
  series: LineSeries[];
  xTicks: { x: number; label: string }[];
  markers?: PointMarker[];
  format?: (v: number) => string;
  /** Keep zero on the axis: amounts that cross it (net income) read wrongly without. */
  includeZero?: boolean;
  /** A shaded band behind this x: the fiscal year under review. */
  highlightX?: number;
  width?: number;
  height?: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const finite = (y: number | null): y is number => y !== null && Number.isFinite(y);

/** A line chart with a legend, y grid and flagged points marked. */
export function lineChart(o: LineChartOptions): string {
  const { width = 640, height = 260, format = formatTick, markers = [] } = o;
  const left = 64,
    right = width - 16,
    top = 36,
    bottom = height - 28,
    pad = 30;
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y).filter(finite));
  const xs = o.series.flatMap((s) => s.points.filter((p) => finite(p.y)).map((p) => p.x)).concat(o.xTicks.map((t) => t.x));
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(o.description)}">`;
  if (ys.length === 0) {
    return `${open}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" font-size="13" fill="#667085">No data to chart</text></svg>`;
  }
  const ticks = axisTicks(Math.min(...ys, ...(o.includeZero ? [0] : [])), Math.max(...ys, ...(o.includeZero ? [0] : [])));
  const yMin = ticks[0]!,
    yMax = ticks[ticks.length - 1]!;
  const xMin = Math.min(...xs),
    xMax = Math.max(...xs);
  const sx = (x: number) => r1(xMax === xMin ? (left + right) / 2 : left + pad + ((x - xMin) / (xMax - xMin)) * (right - left - 2 * pad));
  const sy = (y: number) => r1(bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top));
  const parts: string[] = [open];

  if (o.highlightX !== undefined && o.highlightX >= xMin && o.highlightX <= xMax) {
    parts.push(`<rect class="year-band" x="${r1(sx(o.highlightX) - 22)}" y="${top}" width="44" height="${r1(bottom - top)}" fill="#f2f4f7"/>`);
  }
  for (const t of ticks) {
    const stroke = t === 0 ? "#98a2b3" : "#eaecf0";
    parts.push(`<line x1="${left}" x2="${right}" y1="${sy(t)}" y2="${sy(t)}" stroke="${stroke}" stroke-width="1"/>`);
    parts.push(`<text x="${left - 8}" y="${r1(sy(t) + 4)}" text-anchor="end" font-size="11" fill="#667085">${escapeHtml(format(t))}</text>`);
  }
  for (const t of o.xTicks) {
    parts.push(`<text x="${sx(t.x)}" y="${bottom + 18}" text-anchor="middle" font-size="11" fill="#667085">${escapeHtml(t.label)}</text>`);
  }

  // legend: one row above the plot, left to right (label widths estimated: no layout engine here)
  let lx = left;
  for (const s of o.series) {
    const dash = s.dashed ? ` stroke-dasharray="5 4"` : "";
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="14" y2="14" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    parts.push(`<text x="${lx + 24}" y="18" font-size="12" fill="#344054">${escapeHtml(s.label)}</text>`);
    lx += 24 + s.label.length * 6.6 + 18;
  }

  for (const s of o.series) {
    const dash = s.dashed ? ` stroke-dasharray="5 4"` : "";
    let d = "";
    let pen = false;
    for (const p of s.points) {
      if (!finite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${sx(p.x)} ${sy(p.y)}`;
      pen = true;
    }
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"${dash}/>`);
    // dots only where they stay legible; a long KPI series reads as a line
    if (!s.dashed && s.points.length <= 40) {
      for (const p of s.points.filter((q) => finite(q.y))) parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y!)}" r="3" fill="${s.color}"/>`);
    }
  }

  // highest severity last, so it is on top where two flags share a point
  const ordered = [...markers].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  for (const m of ordered) {
    const p = o.series[m.series]?.points[m.point];
    if (!p || !finite(p.y)) continue;
    parts.push(
      `<g class="flag-marker" data-severity="${m.severity}"><title>${escapeHtml(m.tooltip)}</title>` +
        `<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="7" fill="${SEVERITY_COLOR[m.severity]}" stroke="#ffffff" stroke-width="2"/></g>`,
    );
  }
  parts.push("</svg>");
  return parts.join("");
}

export interface Bar {
  label: string;
  value: number;
  color: string;
}

/** A horizontal bar chart of counts (companies by status, flags by severity). */
export function barChart(o: { description: string; bars: Bar[]; width?: number }): string {
  const { width = 480 } = o;
  const row = 30,
    labelWidth = 130,
    valueWidth = 44;
  const height = o.bars.length * row + 8;
  const max = Math.max(1, ...o.bars.map((b) => b.value));
  const span = width - labelWidth - valueWidth;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(o.description)}">`,
  ];
  o.bars.forEach((b, i) => {
    const y = 4 + i * row;
    const w = r1((Math.max(0, b.value) / max) * span);
    parts.push(`<text x="${labelWidth - 10}" y="${y + 17}" text-anchor="end" font-size="12" fill="#344054">${escapeHtml(b.label)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${r1(span)}" height="18" rx="3" fill="#f2f4f7"/>`);
    if (w > 0) parts.push(`<rect class="bar" x="${labelWidth}" y="${y + 4}" width="${w}" height="18" rx="3" fill="${b.color}"/>`);
    parts.push(`<text x="${width - valueWidth + 8}" y="${y + 17}" font-size="12" font-weight="600" fill="#101828">${b.value}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}
