import { describe, expect, it } from "vitest";
import type { CompanyMetrics, CompanyResult, Flag } from "../agents/company.js";
import { axisTicks, formatAmount, formatChange, formatTick, lineChart } from "./charts.js";
import { renderPortfolioReport, type PortfolioReportInput } from "./report.js";

// Small literal fixtures in the shape the metrics collector and KPI analyst produce.

function metrics(
  ticker: string,
  name: string,
  years: Record<string, Record<string, number>>,
  kpis: CompanyMetrics["kpis"] = {},
  peers: CompanyMetrics["peers"] = {},
): CompanyMetrics {
  return {
    version: 1,
    company: { ticker, name, sector: "Industrials" },
    annual: Object.entries(years).map(([period, m]) => ({ period, period_ending: `${period}-12-31`, metrics: m })),
    peers,
    kpis,
  };
}

const flag = (metric: string, period: string, severity: Flag["severity"], change_pct: number | null = 10, evidence = `${metric} ${period}`): Flag => ({
  metric,
  period,
  severity,
  change_pct,
  evidence,
  explanation: "Why it matters.",
  action: "Ask management.",
});

const AAL_YEARS = {
  "2012": { total_revenue: 24_855e6, net_income: -1_876e6, operating_margin: 1, long_term_debt: 7_116e6 },
  "2013": { total_revenue: 26_743e6, net_income: -1_834e6, operating_margin: 5, long_term_debt: 15_353e6 },
  "2014": { total_revenue: 42_650e6, net_income: 2_882e6, operating_margin: 10, long_term_debt: 16_043e6 },
  "2015": { total_revenue: 40_990e6, net_income: 7_610e6, operating_margin: 15, long_term_debt: 18_330e6 },
};
const BOOKINGS = [
  { t: "2015-03-01T00:00:00.000Z", value: 120 },
  { t: "2015-03-02T00:00:00.000Z", value: 118 },
  { t: "2015-03-03T00:00:00.000Z", value: 410 },
  { t: "2015-03-04T00:00:00.000Z", value: 125 },
];

const aal: CompanyResult = {
  ticker: "AAL",
  name: "American Airlines Group",
  sector: "Industrials",
  status: "flagged",
  flags: [
    flag("total_revenue", "2014", "high", 59.48, "total_revenue 26,743M (2013) -> 42,650M (2014)"),
    flag("operating_margin", "2014", "medium", 100),
    flag("bookings", "2015-03-03", "medium", 230),
    flag("net_income", "2019", "low"), // no such year: in the table, not on a chart
    flag("ebitda", "2014", "low"), // no such metric in the data
  ],
};
const unavailable: CompanyResult = {
  ticker: "ZZZ",
  name: "Gone Corp",
  sector: "Unknown",
  status: "data_unavailable",
  reason: "Ticker not in the fundamentals source",
  flags: [],
};
const failed: CompanyResult = { ticker: "FAIL", name: "Failing Inc", sector: "Energy", status: "failed", reason: "KPI analyst dead-lettered", flags: [] };
const ok: CompanyResult = { ticker: "AAPL", name: "Apple Inc.", sector: "Information Technology", status: "ok", flags: [] };

function input(companies: CompanyResult[], extra: Partial<PortfolioReportInput> = {}): PortfolioReportInput {
  return {
    title: "Portfolio review",
    generated_at: "2016-03-07T09:00:00.000Z",
    year: 2014,
    companies,
    metrics: {
      AAL: metrics("AAL", "American Airlines Group", AAL_YEARS, { bookings: BOOKINGS }),
      AAPL: metrics("AAPL", "Apple Inc.", {
        "2014": { total_revenue: 182_795e6, net_income: 39_510e6 },
        "2015": { total_revenue: 233_715e6, net_income: 53_394e6 },
      }),
      ZZZ: null,
      FAIL: metrics("FAIL", "Failing Inc", { "2014": { total_revenue: 1e9 } }),
    },
    ...extra,
  };
}

/** The HTML of one company's section. */
function section(html: string, ticker: string): string {
  const found = html
    .split('<section class="card company"')
    .slice(1)
    .find((s) => s.includes(`<span class="ticker">${ticker}</span>`));
  if (!found) throw new Error(`no section for ${ticker}`);
  return found.slice(0, found.indexOf("</section>"));
}
const markers = (html: string) => html.match(/class="flag-marker"/g)?.length ?? 0;
const svgs = (html: string) => html.match(/<svg /g)?.length ?? 0;

describe("renderPortfolioReport", () => {
  it("escapes company data everywhere: a <script> in a name or evidence never appears raw", () => {
    const evil: CompanyResult = {
      ticker: "EVL",
      name: `<script>alert("x")</script> & 'Co'`,
      sector: "<b>Energy</b>",
      status: "flagged",
      flags: [flag("total_revenue", "2014", "high", 5, `<img src=x onerror=alert(1)> | [link](http://evil.example)`)],
    };
    const { html, markdown } = renderPortfolioReport(
      input([evil], { title: "Review <script>", metrics: { EVL: metrics("EVL", evil.name, { "2014": { total_revenue: 1e9 } }) } }),
    );
    for (const out of [html, markdown]) {
      expect(out).not.toContain("<script");
      expect(out).not.toContain("<img");
      expect(out).not.toContain("<b>");
    }
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;");
    // the marker's tooltip carries the evidence, escaped as well
    expect(html).toContain("<title>HIGH: Total revenue, 2014, +5.0%. &lt;img src=x onerror=alert(1)&gt;");
    // Markdown: the pipe cannot break the table, the brackets cannot make a link
    expect(markdown).toContain("&lt;img src=x onerror=alert(1)> \\| \\[link\\](http://evil.example)");
  });

  it("marks each flag whose metric and period match a charted point, and notes the others", () => {
    const { html } = renderPortfolioReport(input([aal]));
    const s = section(html, "AAL");
    // revenue 2014, operating margin 2014, the bookings KPI on 2015-03-03; not net income 2019 nor ebitda
    expect(markers(s)).toBe(3);
    expect(s.match(/data-severity="(\w+)"/g)).toEqual(['data-severity="high"', 'data-severity="medium"', 'data-severity="medium"']);
    expect(s).toContain("<title>HIGH: Total revenue, 2014, +59.5%. total_revenue 26,743M (2013) -&gt; 42,650M (2014)</title>");
    expect(s).toContain("2 flags are not on a chart");
    // all five flags are in the table, the high one first
    expect(s.match(/<span class="sev sev-/g)).toHaveLength(5);
    expect(s.indexOf("sev-high")).toBeLessThan(s.indexOf("sev-medium"));

    const unflagged = renderPortfolioReport(input([{ ...aal, status: "ok", flags: [] }])).html;
    expect(markers(unflagged)).toBe(0);
  });

  it("charts a flagged metric outside the key ones against its sector median", () => {
    const debt: CompanyResult = { ...aal, flags: [flag("long_term_debt", "2013", "medium", 115.7)] };
    const peers = { "2012": { long_term_debt: 5e9 }, "2013": { long_term_debt: 6e9 }, "2014": { long_term_debt: 6.5e9 }, "2015": { long_term_debt: 7e9 } };
    const { html } = renderPortfolioReport(input([debt], { metrics: { AAL: metrics("AAL", "American Airlines Group", AAL_YEARS, {}, peers) } }));
    expect(html).toContain("<figcaption>Long term debt vs. sector median</figcaption>");
    expect(html).toContain("Sector median</text>");
    expect(markers(section(html, "AAL"))).toBe(1);
  });

  it("gives data_unavailable and failed companies their reason and no chart", () => {
    const { html, markdown } = renderPortfolioReport(input([aal, unavailable, failed]));
    for (const [ticker, reason] of [
      ["ZZZ", "Ticker not in the fundamentals source"],
      ["FAIL", "KPI analyst dead-lettered"],
    ] as const) {
      const s = section(html, ticker);
      expect(svgs(s)).toBe(0);
      expect(s).toContain(reason);
      expect(markdown).toContain(`Reason: ${reason}`);
    }
    // FAIL has metrics, but a failed run's numbers are not shown as if reviewed
    expect(section(html, "FAIL")).not.toContain("Key figures");
    expect(svgs(section(html, "AAL"))).toBe(3);
  });

  it("renders empty series and missing metrics without a chart or a crash", () => {
    const empty: CompanyResult = { ...ok, ticker: "EMP", name: "Empty Co" };
    const none: CompanyResult = { ...ok, ticker: "NON", name: "No Metrics Co" };
    const { html, markdown } = renderPortfolioReport(
      input([empty, none], { metrics: { EMP: metrics("EMP", "Empty Co", {}, { visits: [], broken: [{ t: "not a date", value: 1 }] }) } }),
    );
    expect(svgs(section(html, "EMP"))).toBe(0);
    expect(section(html, "EMP")).toContain("No fiscal years in the data.");
    expect(section(html, "EMP")).toContain("KPI visits has no points to chart.");
    expect(section(html, "NON")).toContain("No metrics were collected for this company.");
    expect(markdown).toContain("## EMP: Empty Co");
    expect(lineChart({ description: "nothing", series: [{ label: "x", color: "#000", points: [] }], xTicks: [] })).toContain("No data to chart");
  });

  it("is deterministic and independent of the order companies arrive in", () => {
    const companies = [ok, unavailable, aal, failed];
    const a = renderPortfolioReport(input(companies));
    expect(renderPortfolioReport(input(companies))).toEqual(a);
    expect(renderPortfolioReport(input([...companies].reverse()))).toEqual(a);
    // flagged first, then failed, data unavailable, ok
    const order = ["AAL", "FAIL", "ZZZ", "AAPL"].map((t) => a.markdown.indexOf(`## ${t}:`));
    expect(order).toEqual([...order].sort((x, y) => x - y));
  });

  it("sums the overview by status and severity", () => {
    const { html, markdown } = renderPortfolioReport(input([ok, unavailable, aal, failed]));
    expect(html).toContain('aria-label="Companies by status: Flagged 1, Failed 1, Data unavailable 1, OK 1"');
    expect(html).toContain('aria-label="Flags by severity: high 1, medium 2, low 2"');
    expect(markdown).toContain("- Flags: 5 (high 1, medium 2, low 2)");
    expect(markdown).toContain("| AAL American Airlines Group | Industrials | Flagged | 1 | 2 | 2 | Total revenue 2014 +59.5% |");
    // the year under review is shaded on the fundamentals charts
    expect(section(html, "AAL").match(/class="year-band"/g)).toHaveLength(2);
  });

  it("is one self-contained page: no script, no external resource", () => {
    const { html } = renderPortfolioReport(input([ok, aal]));
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html.match(/<svg [^>]*role="img" aria-label="[^"]+"/g)).toHaveLength(svgs(html));
  });
});

describe("number formatting", () => {
  it("reads like a financial report", () => {
    expect([26_743e6, 42_650e6, -1_834e6, 640e6, 12_500, 4.02, 0, 999_960_000, 1.2e12].map(formatAmount)).toEqual([
      "26.7B",
      "42.7B",
      "-1.8B",
      "640.0M",
      "12.5K",
      "4.02",
      "0",
      "1.0B",
      "1.2T",
    ]);
    expect([2e10, 2.5e10, -1e10, 0].map(formatTick)).toEqual(["20B", "25B", "-10B", "0"]);
    expect([59.48, -4, 0, null].map(formatChange)).toEqual(["+59.5%", "-4.0%", "0.0%", "—"]);
  });

  it("puts axis ticks on round steps that cover the data", () => {
    expect(axisTicks(-1_876e6, 42_650e6)).toEqual([-1e10, 0, 1e10, 2e10, 3e10, 4e10, 5e10]);
    // a flat series still gets an axis around its value
    const flat = axisTicks(5, 5);
    expect(flat).toContain(5);
    expect(flat[0]).toBeLessThan(5);
    expect(flat[flat.length - 1]).toBeGreaterThan(5);
  });
});
