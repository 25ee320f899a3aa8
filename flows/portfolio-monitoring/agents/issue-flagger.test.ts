import { describe, expect, it } from "vitest";
import { InvalidOutputError } from "../../../nodes/agent.js";
import type { Company } from "./company.js";
import { evidence, flagIssues, issueFlagger, FLAG_THRESHOLDS, type FlaggerInput } from "./issue-flagger.js";
import type { Finding } from "./kpi-analyst.js";

const company: Company = { ticker: "AAL", name: "American Airlines Group", sector: "Industrials" };
function finding(f: Partial<Finding> & Pick<Finding, "metric" | "kind" | "value">): Finding {
  return { period: "2014", reference: null, reference_period: "2013", change_pct: null, change_pts: null, score: null, note: "", ...f };
}
const revenueJump = finding({ kind: "yoy", metric: "total_revenue", value: 42650e6, reference: 26743e6, change_pct: 59.5 });
const input = (...findings: Finding[]): FlaggerInput => ({ company, analysis: { version: 1, ticker: "AAL", focus_year: "2014", findings } });

describe("issue flagger rules", () => {
  it("flags a revenue jump with the numbers as evidence", () => {
    expect(flagIssues(input(revenueJump)).flags).toEqual([
      expect.objectContaining({
        metric: "total_revenue",
        period: "2014",
        severity: "medium",
        change_pct: 59.5,
        evidence: "total_revenue 26,743M (2013) -> 42,650M (2014), +59.5%",
      }),
    ]);
  });

  it("flags a swing from profit to loss as high and a small dip not at all", () => {
    const loss = finding({ kind: "yoy", metric: "net_income", value: -5e8, reference: 2e9, change_pct: -125 });
    const dip = finding({ kind: "yoy", metric: "total_revenue", value: 95, reference: 100, change_pct: -5 });
    expect(flagIssues(input(loss, dip)).flags.map((f) => [f.metric, f.severity])).toEqual([["net_income", "high"]]);
  });

  it("gives margin falls in points and a current ratio crossing below 1.0 as multiples", () => {
    const margin = finding({ kind: "margin", metric: "operating_margin", value: 5, reference: 17, change_pts: -12 });
    const liquidity = finding({ kind: "liquidity", metric: "current_ratio", value: 88, reference: 104, change_pct: -15.4, change_pts: -16 });
    const flags = flagIssues(input(margin, liquidity)).flags;
    expect(flags.map((f) => [f.severity, f.evidence])).toEqual([
      ["high", "operating_margin 17% (2013) -> 5% (2014), -12 pts"],
      ["medium", "current_ratio 1.04x (2013) -> 0.88x (2014), -15.4%"],
    ]);
  });

  it("keeps one flag per family: net income and EPS falling together are one issue", () => {
    const ni = finding({ kind: "yoy", metric: "net_income", value: 40, reference: 100, change_pct: -60 });
    const eps = finding({ kind: "yoy", metric: "earnings_per_share", value: 0.4, reference: 1, change_pct: -60 });
    const margin = finding({ kind: "margin", metric: "profit_margin", value: 4, reference: 10, change_pts: -6 });
    expect(flagIssues(input(ni, eps, margin)).flags.map((f) => f.metric)).toEqual(["net_income"]);
  });

  it("does not read a share split as an EPS collapse when net income held", () => {
    const ni = finding({ kind: "yoy", metric: "net_income", value: 98, reference: 100, change_pct: -2 });
    const eps = finding({ kind: "yoy", metric: "earnings_per_share", value: 6.49, reference: 40.03, change_pct: -83.8 });
    expect(flagIssues(input(ni, eps)).flags).toEqual([]);
  });

  it("flags the latest anomaly of a KPI series once", () => {
    const a = (period: string, score: number) =>
      finding({ kind: "anomaly", metric: "bookings", period, value: 300, reference: 100, reference_period: null, change_pct: 200, score });
    const flags = flagIssues(input(a("2024-02-05T00:00:00.000Z", 9), a("2024-03-25T00:00:00.000Z", 4))).flags;
    expect(flags).toEqual([expect.objectContaining({ metric: "bookings", period: "2024-03-25T00:00:00.000Z", severity: "high" })]);
    expect(flags[0]?.evidence).toBe("bookings 300 (period from 2024-03-25) vs baseline 100, +200%, z-score 4");
  });

  it(`keeps at most ${FLAG_THRESHOLDS.maxFlags} flags, the most severe first`, () => {
    const series = Array.from({ length: 9 }, (_, i) =>
      finding({ kind: "anomaly", metric: `kpi${i}`, period: "2024-01-01", value: 1, reference: 2, change_pct: i === 8 ? -90 : -10, score: 4 }),
    );
    const flags = flagIssues(input(...series)).flags;
    expect(flags).toHaveLength(FLAG_THRESHOLDS.maxFlags);
    expect(flags[0]).toMatchObject({ metric: "kpi8", severity: "high" });
  });
});

describe("issue flagger finish", () => {
  it("builds each flag from the finding it cites: the model cannot change the numbers", () => {
    const out = issueFlagger.finish(
      { flags: [{ kind: "yoy", metric: "total_revenue", period: "2014", severity: "high", explanation: "The US Airways merger.", action: "Re-baseline." }] },
      input(revenueJump),
    );
    expect(out.flags).toEqual([
      {
        metric: "total_revenue",
        period: "2014",
        severity: "high",
        change_pct: 59.5,
        evidence: evidence(revenueJump),
        explanation: "The US Airways merger.",
        action: "Re-baseline.",
      },
    ]);
  });

  it("rejects a flag that cites no finding of the input", () => {
    const answer = { flags: [{ kind: "yoy" as const, metric: "total_revenue", period: "2015", severity: "high" as const, explanation: "", action: "" }] };
    expect(() => issueFlagger.finish(answer, input(revenueJump))).toThrow(InvalidOutputError);
  });
});
