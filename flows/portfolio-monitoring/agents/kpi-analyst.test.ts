import { describe, expect, it } from "vitest";
import { InvalidOutputError } from "../../../nodes/agent.js";
import type { CompanyMetrics, KpiPoint } from "./company.js";
import { analyse, kpiAnalyst, type Finding, type KpiAnalystInput } from "./kpi-analyst.js";

// AAL's own figures from the S&P fundamentals file (2013, 2014), trimmed.
const aal: CompanyMetrics = {
  version: 1,
  company: { ticker: "AAL", name: "American Airlines Group", sector: "Industrials" },
  annual: [
    {
      period: "2013",
      period_ending: "2013-12-31",
      metrics: { total_revenue: 26743e6, net_income: -1834e6, operating_margin: 7, current_ratio: 104, total_equity: -2731e6, total_debt: 16000e6 },
    },
    {
      period: "2014",
      period_ending: "2014-12-31",
      metrics: {
        total_revenue: 42650e6,
        net_income: 2882e6,
        operating_margin: 10,
        current_ratio: 88,
        total_equity: 2021e6,
        total_debt: 17000e6,
        debt_to_equity: 841,
      },
    },
  ],
  peers: { "2014": { operating_margin: 14, current_ratio: 130 } },
  kpis: {},
};
const find = (fs: Finding[], kind: string, metric: string) => fs.find((f) => f.kind === kind && f.metric === metric);

/** A flat weekly series with one spike at week 12. */
function spiky(): KpiPoint[] {
  return Array.from({ length: 16 }, (_, i) => ({ t: new Date(Date.UTC(2024, 0, 1 + 7 * i)).toISOString(), value: i === 12 ? 300 : 100 + (i % 3) }));
}

describe("kpi analyst rules", () => {
  it("computes year-over-year changes of the latest year by default", () => {
    const a = analyse({ metrics: aal });
    expect(a.focus_year).toBe("2014");
    expect(find(a.findings, "yoy", "total_revenue")).toMatchObject({
      value: 42650e6,
      reference: 26743e6,
      reference_period: "2013",
      change_pct: 59.5,
      change_pts: null,
    });
    expect(find(a.findings, "yoy", "net_income")?.change_pct).toBe(257.1);
  });

  it("gives margin and ratio changes in points and compares with the sector median", () => {
    const a = analyse({ metrics: aal });
    expect(find(a.findings, "margin", "operating_margin")).toMatchObject({ value: 10, reference: 7, change_pts: 3 });
    expect(find(a.findings, "liquidity", "current_ratio")).toMatchObject({ change_pct: -15.4, change_pts: -16 });
    expect(find(a.findings, "peer", "operating_margin")).toMatchObject({ reference: 14, reference_period: "Industrials", change_pts: -4 });
  });

  it("reports negative equity as a leverage finding for the year it is negative", () => {
    const a = analyse({ metrics: aal, year: 2013 });
    expect(a.focus_year).toBe("2013");
    expect(find(a.findings, "leverage", "total_equity")).toMatchObject({ value: -2731e6, reference: null });
    expect(find(analyse({ metrics: aal }).findings, "leverage", "total_equity")).toBeUndefined();
  });

  it("has no annual findings for a year the company lacks", () => {
    const a = analyse({ metrics: aal, year: 2016 });
    expect(a).toMatchObject({ focus_year: null, findings: [] });
  });

  it("finds a spike in a KPI series, and only within the review window", () => {
    const metrics = { ...aal, kpis: { bookings: spiky() } };
    const spike = find(analyse({ metrics }).findings, "anomaly", "bookings");
    expect(spike).toMatchObject({ period: "2024-03-25T00:00:00.000Z", value: 300 });
    expect(spike?.change_pct).toBeGreaterThan(150);
    expect(find(analyse({ metrics, since: "2024-04-01" }).findings, "anomaly", "bookings")).toBeUndefined();
  });
});

describe("kpi analyst finish", () => {
  const input: KpiAnalystInput = { metrics: aal };
  const answer = (value: number, change_pct: number | null) => ({
    findings: [{ kind: "yoy" as const, metric: "total_revenue", period: "2014", value, change_pct, note: "the US Airways merger" }],
  });

  it("keeps the figures the model picked, with the computed numbers and the model's note", () => {
    const out = kpiAnalyst.finish(answer(42650e6, 59.46), input);
    expect(out.findings).toEqual([expect.objectContaining({ metric: "total_revenue", value: 42650e6, change_pct: 59.5, note: "the US Airways merger" })]);
  });

  it("rejects a value or change that does not match the data", () => {
    expect(() => kpiAnalyst.finish(answer(45000e6, 59.5), input)).toThrow(InvalidOutputError);
    expect(() => kpiAnalyst.finish(answer(42650e6, 70), input)).toThrow(/change_pct 70 is not 59.5/);
  });

  it("rejects a figure that was never computed", () => {
    const invented = { findings: [{ kind: "yoy" as const, metric: "market_share", period: "2014", value: 1, change_pct: null, note: "" }] };
    expect(() => kpiAnalyst.finish(invented, input)).toThrow(/no computed yoy figure for market_share/);
  });

  it("shows the model every computed figure", () => {
    const { user } = kpiAnalyst.prompt(input);
    expect(user).toContain("kind=yoy metric=total_revenue period=2014 value=42650000000 reference=26743000000 (2013) change_pct=59.5");
  });
});
