import { describe, expect, it } from "vitest";
import type { AnnualMetrics, Company } from "./company.js";
import type { RawPoint } from "./kpi-anomalies.js";
import { collectMetrics, deriveMetrics, type PortfolioDataSource } from "./metrics-collector.js";

const year = (period: string, metrics: Record<string, number>): AnnualMetrics => ({ period, period_ending: `${period}-12-31`, metrics });

/** An in-memory source that records the sectors it was asked peers for. */
function memorySource(data: { companies?: Company[]; annual?: Record<string, AnnualMetrics[]>; kpis?: Record<string, Record<string, RawPoint[]>> }) {
  const peerCalls: string[] = [];
  const source: PortfolioDataSource & { peerCalls: string[] } = {
    peerCalls,
    describe: () => "memory",
    company: async (t) => data.companies?.find((c) => c.ticker === t) ?? null,
    annual: async (t) => data.annual?.[t] ?? [],
    peerMedians: async (sector) => {
      peerCalls.push(sector);
      return { "2013": { total_revenue: 10 }, "2014": { total_revenue: 12 } };
    },
    kpis: async (t) => data.kpis?.[t] ?? {},
  };
  return source;
}

describe("collectMetrics", () => {
  it("returns null when no source knows the ticker (data_unavailable)", async () => {
    expect(await collectMetrics("NOPE", memorySource({}))).toBeNull();
  });

  it("leaves out years after the review year, in the company's years and in its peers'", async () => {
    const src = memorySource({
      companies: [{ ticker: "AAL", name: "American Airlines", sector: "Industrials" }],
      annual: { AAL: [year("2013", { total_revenue: 1 }), year("2014", { total_revenue: 2 })] },
    });
    const m = await collectMetrics("AAL", src, { year: 2013 });
    expect(m?.annual.map((a) => a.period)).toEqual(["2013"]);
    expect(Object.keys(m?.peers ?? {})).toEqual(["2013"]);
    expect(src.peerCalls).toEqual(["Industrials"]);
  });

  it("names a KPI-only company by its ticker, sector Unknown, and asks no peers", async () => {
    const src = memorySource({ kpis: { ACME: { orders: [{ t: "2024-01-01", value: 1 }] } } });
    const m = await collectMetrics("ACME", src);
    expect(m?.company).toEqual({ ticker: "ACME", name: "ACME", sector: "Unknown" });
    expect(src.peerCalls).toEqual([]);
  });

  it("lets the portfolio's name and sector win over the source's", async () => {
    const src = memorySource({ companies: [{ ticker: "AAL", name: "AAL Group", sector: "Unknown" }], annual: { AAL: [year("2014", {})] } });
    const m = await collectMetrics("AAL", src, { name: "American Airlines", sector: "Airlines" });
    expect(m?.company).toEqual({ ticker: "AAL", name: "American Airlines", sector: "Airlines" });
    expect(src.peerCalls).toEqual(["Airlines"]);
  });

  it("resamples raw KPI points to the reporting period (week by default, weeks start on Monday)", async () => {
    const raw = [
      { t: "2024-01-03 10:00:00", value: 2 }, // Wednesday
      { t: "2024-01-01T00:00:00Z", value: 4 }, // Monday, same week
      { t: "2024-01-08", value: 10 },
    ];
    const src = memorySource({ kpis: { ACME: { orders: raw } } });
    expect((await collectMetrics("ACME", src))?.kpis.orders).toEqual([
      { t: "2024-01-01T00:00:00.000Z", value: 3 },
      { t: "2024-01-08T00:00:00.000Z", value: 10 },
    ]);
    expect((await collectMetrics("ACME", src, { period: "day" }))?.kpis.orders).toHaveLength(3);
  });
});

describe("deriveMetrics", () => {
  it("computes missing margins, total debt and leverage ratios, keeping the source's own figures", () => {
    const d = deriveMetrics({
      total_revenue: 200,
      gross_profit: 50,
      operating_income: 20,
      net_income: 10,
      operating_margin: 11,
      long_term_debt: 60,
      short_term_debt: 40,
      total_equity: 50,
      total_liabilities: 150,
      total_assets: 200,
    });
    expect(d).toMatchObject({ gross_margin: 25, operating_margin: 11, profit_margin: 5, total_debt: 100, debt_to_equity: 200, liabilities_to_assets: 75 });
  });

  it("gives no debt to equity once equity is negative", () => {
    expect(deriveMetrics({ long_term_debt: 10, total_equity: -5 }).debt_to_equity).toBeUndefined();
  });
});
