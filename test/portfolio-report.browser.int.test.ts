import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import type { Page } from "playwright-core";
import type { CompanyMetrics, CompanyResult, Flag } from "../flows/portfolio-monitoring/agents/company.js";
import { renderPortfolioReport } from "../flows/portfolio-monitoring/graph/report.js";
import { openInChromium, type OpenedPage } from "./support/browser.js";
import { dataset, describeWithData } from "../testing/datasets.js";

// The HTML report in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// it loads with no console error, every chart renders visibly, and a screenshot shows a chart
// with its flag marker. Companies are real rows of the S&P 500 fundamentals panel and a real
// NAB KPI series (Apple's tweet volume).

const DATASETS = dataset("portfolio");
const PANEL = path.join(DATASETS, "sp500-fundamentals-2012-2016/key_metrics_panel.csv");
const TWEETS = path.join(DATASETS, "nab-kpi-anomalies/data/realTweets/Twitter_volume_AAPL.csv");

/** Splits one CSV line, honouring quoted fields ("Fort Worth, Texas"). */
function csvLine(line: string): string[] {
  return [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[1]!.replace(/^"|"$/g, "").replace(/""/g, '"'));
}

type Row = Record<string, string>;
// without the data the suite below is skipped (describeWithData): nothing to read then
const text = fs.existsSync(PANEL) ? fs.readFileSync(PANEL, "utf8").trim().split("\n") : [""];
const header = csvLine(text[0]!);
const rows: Row[] = text.slice(1).map((l) => Object.fromEntries(csvLine(l).map((v, i) => [header[i]!, v])));
const NUMERIC = header.slice(header.indexOf("total_revenue"));
const yearOf = (r: Row) => String(Math.trunc(Number(r.for_year_raw)));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A company's CompanyMetrics from the panel: its fiscal years and its sector peers' medians. */
function companyMetrics(ticker: string, kpis: CompanyMetrics["kpis"] = {}): CompanyMetrics {
  const own = rows.filter((r) => r.ticker === ticker);
  const first = own[0]!;
  const peers: CompanyMetrics["peers"] = {};
  for (const r of own) {
    const others = rows.filter((o) => o.gics_sector === first.gics_sector && o.ticker !== ticker && yearOf(o) === yearOf(r));
    peers[yearOf(r)] = Object.fromEntries(NUMERIC.map((m) => [m, median(others.map((o) => Number(o[m])).filter(Number.isFinite))]));
  }
  return {
    version: 1,
    company: { ticker, name: first.company!, sector: first.gics_sector! },
    annual: own.map((r) => ({
      period: yearOf(r),
      period_ending: r.period_ending!,
      metrics: Object.fromEntries(NUMERIC.map((m) => [m, Number(r[m])]).filter(([, v]) => Number.isFinite(v))),
    })),
    peers,
    kpis,
  };
}

/** A year-over-year flag computed from the metrics, as the KPI analyst words it. */
function yoy(m: CompanyMetrics, metric: string, period: string, severity: Flag["severity"]): Flag {
  const i = m.annual.findIndex((a) => a.period === period);
  const before = m.annual[i - 1]!,
    now = m.annual[i]!;
  const a = before.metrics[metric]!,
    b = now.metrics[metric]!;
  const millions = (v: number) => `${Math.round(v / 1e6).toLocaleString("en-US")}M`;
  return {
    metric,
    period,
    severity,
    change_pct: ((b - a) / Math.abs(a)) * 100,
    evidence: `${metric} ${millions(a)} (${before.period}) -> ${millions(b)} (${now.period})`,
    explanation: `${metric} moved ${Math.round(((b - a) / Math.abs(a)) * 100)}% in one year.`,
    action: "Ask management for the drivers before the next board meeting.",
  };
}

/** Apple's tweet volume (5-minute NAB series) as daily means: a KPI series in the collector's shape. */
function dailyTweets(): { t: string; value: number }[] {
  const days = new Map<string, number[]>();
  for (const line of fs.readFileSync(TWEETS, "utf8").trim().split("\n").slice(1)) {
    const [ts, v] = line.split(",");
    const day = ts!.slice(0, 10);
    days.set(day, [...(days.get(day) ?? []), Number(v)]);
  }
  return [...days].map(([day, vs]) => ({ t: `${day}T00:00:00.000Z`, value: vs.reduce((a, b) => a + b, 0) / vs.length }));
}

function portfolio() {
  const tweets = dailyTweets();
  const peak = tweets.reduce((a, b) => (b.value > a.value ? b : a));
  const baseline = median(tweets.map((p) => p.value));
  const metrics = { AAL: companyMetrics("AAL"), AAPL: companyMetrics("AAPL", { twitter_volume: tweets }), XOM: companyMetrics("XOM") };
  const companies: CompanyResult[] = [
    {
      ticker: "AAL",
      name: metrics.AAL.company.name,
      sector: metrics.AAL.company.sector,
      status: "flagged",
      flags: [yoy(metrics.AAL, "total_revenue", "2014", "high"), yoy(metrics.AAL, "long_term_debt", "2013", "medium")],
    },
    {
      ticker: "AAPL",
      name: metrics.AAPL.company.name,
      sector: metrics.AAPL.company.sector,
      status: "flagged",
      flags: [
        yoy(metrics.AAPL, "net_income", "2016", "low"),
        {
          metric: "twitter_volume",
          period: peak.t,
          severity: "medium",
          change_pct: ((peak.value - baseline) / baseline) * 100,
          evidence: `daily mean ${peak.value.toFixed(0)} vs. median ${baseline.toFixed(0)}`,
          explanation: "Attention spike: check for news before the market does.",
          action: "Review the news flow of that day.",
        },
      ],
    },
    {
      ticker: "XOM",
      name: metrics.XOM.company.name,
      sector: metrics.XOM.company.sector,
      status: "flagged",
      flags: [yoy(metrics.XOM, "net_income", "2015", "high")],
    },
    {
      ticker: "BRKZ",
      name: "Berkshire Example Holdings",
      sector: "Unknown",
      status: "data_unavailable",
      reason: "Ticker not in the fundamentals source.",
      flags: [],
    },
    {
      ticker: "KMI",
      name: "Kinder Morgan",
      sector: "Energy",
      status: "failed",
      reason: "KPI analyst exhausted every tier; the step was dead-lettered.",
      flags: [],
    },
  ];
  return renderPortfolioReport({
    title: "Portfolio review, week 10",
    generated_at: "2016-03-07T08:00:00.000Z",
    year: 2015,
    companies,
    metrics: { ...metrics, BRKZ: null, KMI: null },
  });
}

interface Png {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB(A) PNG (what Chromium's screenshots are): enough to look at pixels. */
function decodePng(png: Buffer): Png {
  let offset = 8,
    width = 0,
    height = 0,
    channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("ascii", offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const colourType = data[9];
      if (data[8] !== 8 || data[12] !== 0 || (colourType !== 2 && colourType !== 6))
        throw new Error(`unsupported PNG: depth ${data[8]}, colour type ${colourType}`);
      channels = colourType === 6 ? 4 : 3;
    }
    if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c,
        pa = Math.abs(p - a),
        pb = Math.abs(p - b),
        pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]!;
      pixels[y * stride + x] = (v + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** How many pixels of each colour (0xRRGGBB) the image has. */
function colours(png: Png): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < png.pixels.length; i += png.channels) {
    const rgb = (png.pixels[i]! << 16) | (png.pixels[i + 1]! << 8) | png.pixels[i + 2]!;
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  return counts;
}

// the real panel and NAB series: the report at the size and shape an investor sees
describeWithData("portfolio report in headless Chromium", "portfolio/nab-kpi-anomalies/data/realTweets/Twitter_volume_AAPL.csv", "portfolio-monitoring", () => {
  let dir: string;
  let opened: OpenedPage | undefined;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "portfolio-report-"));
    const file = path.join(dir, "report.html");
    fs.writeFileSync(file, portfolio().html);
    opened = await openInChromium(file);
    ({ page, errors } = opened);
  });

  afterAll(async () => {
    await opened?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("loads with no console error or page error", async () => {
    await page.screenshot({ path: path.join(dir, "report.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(await page.title()).toBe("Portfolio review, week 10");
  });

  it("renders every chart visibly: two overview charts, then revenue, margins and each further flagged metric or KPI", async () => {
    // overview 2 + AAL 3 (revenue, margins, long-term debt) + AAPL 3 (revenue, margins, tweet volume) + XOM 2; none for BRKZ and KMI
    const charts = page.locator("svg.chart-svg");
    expect(await charts.count()).toBe(10);
    for (const chart of await charts.all()) {
      expect(await chart.isVisible()).toBe(true);
      const box = await chart.boundingBox();
      expect(box!.width).toBeGreaterThan(200);
      expect(box!.height).toBeGreaterThan(80);
    }
    for (const name of ["Berkshire Example Holdings", "Kinder Morgan"]) {
      const section = page.locator("section.company", { hasText: name });
      expect(await section.locator("svg").count()).toBe(0);
      expect(await section.locator(".reason").isVisible()).toBe(true);
    }
  });

  it("marks every flag on its point, with the evidence as the tooltip", async () => {
    const markers = page.locator("g.flag-marker");
    expect(await markers.count()).toBe(5);
    const aal = page.locator("section.company", { hasText: "American Airlines Group" });
    expect(await aal.locator("g.flag-marker title").allTextContents()).toEqual([
      "HIGH: Total revenue, 2014, +59.5%. total_revenue 26,743M (2013) -> 42,650M (2014)",
      "MEDIUM: Long term debt, 2013, +115.8%. long_term_debt 7,116M (2012) -> 15,353M (2013)",
    ]);
    for (const marker of await markers.all()) {
      const box = await marker.boundingBox();
      expect(box!.width).toBeGreaterThan(8);
    }
  });

  it("screenshots a chart that shows its lines and its red high-severity marker", async () => {
    const chart = page.locator("section.company", { hasText: "American Airlines Group" }).locator("svg.chart-svg").first();
    const png = decodePng(await chart.screenshot({ path: path.join(dir, "aal-revenue.png") }));
    const counts = colours(png);
    expect(png.width).toBeGreaterThan(200);
    // a blank element has one colour; text, grid, two lines and a marker give many
    expect(counts.size).toBeGreaterThan(50);
    expect(counts.get(0xd92d20) ?? 0).toBeGreaterThan(40); // the high marker's fill
    expect(counts.get(0x1d3557) ?? 0).toBeGreaterThan(40); // the revenue line
  });
});
