import { describe, expect, it } from "vitest";
import type { PortfolioDataSource } from "../agents/metrics-collector.js";
import { InputError } from "../../../runtime/errors.js";
import { compositeSource, fiscalYear, metricName, quoteTable } from "./sources.js";

describe("fundamentals columns", () => {
  it("maps the Kaggle headers to snake_case metric names", () => {
    expect(
      [
        "Total Revenue",
        "Net Cash Flow-Operating",
        "Long-Term Debt",
        "Earnings Per Share",
        "Short-Term Debt / Current Portion of Long-Term Debt",
        "Add'l income/expense items",
      ].map(metricName),
    ).toEqual(["total_revenue", "net_cash_flow_operating", "long_term_debt", "earnings_per_share", "short_term_debt", "additional_income_expense_items"]);
  });

  it("takes the fiscal year from For Year unless it is blank or implausible", () => {
    expect(fiscalYear("2014-12-31", "2014.0")).toBe(2014);
    expect(fiscalYear("2013-03-02", "2012.0")).toBe(2012); // a retailer's year ending in March
    expect(fiscalYear("2015-12-31", "1215.0")).toBe(2015); // a typo in the file
    expect(fiscalYear("2016-12-31", "")).toBe(2016);
    expect(fiscalYear("2015-01-03", "")).toBe(2014); // a 52/53-week year ending in early January
  });
});

describe("quoteTable", () => {
  it("quotes a table or schema.table name and refuses anything that could be SQL", () => {
    expect(quoteTable("fundamentals")).toBe('"fundamentals"');
    expect(quoteTable("finance.Facts_2")).toBe('"finance"."Facts_2"');
    for (const bad of ['x"; DROP TABLE y; --', "a.b.c", "1table", ""]) expect(() => quoteTable(bad)).toThrow(InputError);
  });
});

describe("compositeSource", () => {
  const source = (name: string, has: { company?: boolean; annual?: boolean; kpi?: string }): PortfolioDataSource => ({
    describe: () => name,
    company: async (t) => (has.company ? { ticker: t, name, sector: "Energy" } : null),
    annual: async () => (has.annual ? [{ period: "2014", period_ending: "2014-12-31", metrics: { from: name.length } }] : []),
    peerMedians: async (): Promise<Record<string, Record<string, number>>> => (has.annual ? { "2014": { total_revenue: name.length } } : {}),
    kpis: async () => (has.kpi ? { [has.kpi]: [{ t: "2024-01-01", value: name.length }] } : {}),
  });

  it("answers from the first source that knows the company and merges KPI series", async () => {
    const c = compositeSource([
      source("a", { kpi: "orders" }),
      source("bb", { company: true, annual: true, kpi: "orders" }),
      source("ccc", { company: true, annual: true, kpi: "visits" }),
    ]);
    expect(c.describe()).toBe("a + bb + ccc");
    expect((await c.company("X"))?.name).toBe("bb");
    expect(await c.annual("X")).toEqual([expect.objectContaining({ metrics: { from: 2 } })]);
    expect(await c.peerMedians("Energy", "X")).toEqual({ "2014": { total_revenue: 2 } });
    expect(await c.kpis("X")).toEqual({ orders: [{ t: "2024-01-01", value: 1 }], visits: [{ t: "2024-01-01", value: 3 }] });
  });

  it("knows nothing when none of its sources does", async () => {
    const c = compositeSource([source("a", {})]);
    expect([await c.company("X"), await c.annual("X"), await c.kpis("X")]).toEqual([null, [], {}]);
  });
});
