import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import { Flag, Severity, type Company } from "./company.js";
import { FindingKind, findingKey, PERCENT_METRICS, type Finding, type KpiAnalysis } from "./kpi-analyst.js";

/** The issue flagger's output, kept in state. */
export const FlagReport = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  flags: z.array(Flag).describe("The company's issues, most severe first (at most FLAG_THRESHOLDS.maxFlags)"),
});
export type FlagReport = z.infer<typeof FlagReport>;

export const IssueFlaggerAnswer = z.object({
  flags: z
    .array(
      z.object({
        kind: FindingKind,
        metric: z.string().describe("The metric of the finding the flag rests on, copied exactly"),
        period: z.string().describe("The period of that finding, copied exactly"),
        severity: Severity,
        explanation: z.string().describe("Why it matters, in one or two sentences"),
        action: z.string().describe("The recommended action"),
      }),
    )
    .describe("The issues worth a portfolio review, each resting on one finding; none when nothing is wrong"),
});
export type IssueFlaggerAnswer = z.infer<typeof IssueFlaggerAnswer>;

export interface FlaggerInput {
  company: Company;
  analysis: KpiAnalysis;
}

/** Where a finding becomes a flag. Changes in percent, margins and ratios in points (whole percent). */
export const FLAG_THRESHOLDS = {
  revenueDropMedium: -10,
  revenueDropHigh: -25,
  revenueJump: 30,
  /** An earnings line falling this much (still positive) or a loss widening this much. */
  earningsDrop: -50,
  cashDrop: -50,
  debtRise: 50,
  marginDropMedium: -5,
  marginDropHigh: -10,
  /** Current ratio, whole percent: below 100 current liabilities exceed current assets. */
  currentRatioFloor: 100,
  liabilitiesToAssetsRise: 10,
  debtToEquityRise: 100,
  debtToEquityFloor: 200,
  peerMarginGap: -10,
  peerLiabilitiesGap: 25,
  anomalyHighScore: 7,
  anomalyHighChange: 50,
  /** A weekly review of twenty companies must stay readable. */
  maxFlags: 6,
} as const;
const T = FLAG_THRESHOLDS;

interface Verdict {
  severity: Severity;
  explanation: string;
  action: string;
}

const EARNINGS = new Set(["net_income", "operating_income", "earnings_per_share"]);

function judgeYoy(f: Finding): Verdict | null {
  const c = f.change_pct;
  const ref = f.reference;
  if (ref === null) return null;
  if (f.metric === "total_revenue" && c !== null) {
    if (c <= T.revenueDropHigh)
      return {
        severity: "high",
        explanation: `Revenue fell ${-c}% in a year, a shock to the business.`,
        action: "Ask management for the cause and a revised forecast this week.",
      };
    if (c <= T.revenueDropMedium)
      return {
        severity: "medium",
        explanation: `Revenue fell ${-c}% year over year.`,
        action: "Review demand and pricing with management at the next review.",
      };
    if (c >= T.revenueJump)
      return {
        severity: "medium",
        explanation: `Revenue grew ${c}% in a year, more than organic growth explains: likely an acquisition or merger.`,
        action: "Confirm the cause (acquisition, merger, accounting change) and re-baseline year-over-year comparisons.",
      };
  }
  if (EARNINGS.has(f.metric)) {
    if (ref > 0 && f.value <= 0)
      return {
        severity: "high",
        explanation: `${f.metric} swung from a profit to a loss.`,
        action: "Ask management what drove the loss and whether it recurs.",
      };
    if (ref > 0 && c !== null && c <= T.earningsDrop)
      return {
        severity: "medium",
        explanation: `${f.metric} fell ${-c}% year over year.`,
        action: "Review the drivers of the earnings decline at the next review.",
      };
    if (ref < 0 && c !== null && c <= T.earningsDrop)
      return { severity: "medium", explanation: `The loss (${f.metric}) widened by ${-c}%.`, action: "Review the path back to profit and the cash runway." };
  }
  if (f.metric === "cash_and_cash_equivalents" && c !== null && c <= T.cashDrop)
    return { severity: "low", explanation: `Cash fell ${-c}% in a year.`, action: "Check where the cash went (investments, buybacks, losses)." };
  if (f.metric === "total_debt" && ref > 0 && c !== null && c >= T.debtRise)
    return { severity: "medium", explanation: `Debt grew ${c}% in a year.`, action: "Review what the new debt funds and its covenants." };
  return null;
}

function judge(f: Finding): Verdict | null {
  const pts = f.change_pts;
  switch (f.kind) {
    case "yoy":
      return judgeYoy(f);
    case "margin":
      if (pts === null || pts > T.marginDropMedium) return null;
      return {
        severity: pts <= T.marginDropHigh ? "high" : "medium",
        explanation: `${f.metric} fell ${-pts} points in a year.`,
        action: "Ask management which costs or prices moved and whether it lasts.",
      };
    case "liquidity":
      if (f.metric === "current_ratio" && f.value < T.currentRatioFloor && f.reference !== null && f.reference >= T.currentRatioFloor) {
        return {
          severity: "medium",
          explanation: "Current liabilities now exceed current assets (current ratio below 1.0).",
          action: "Check short-term funding and the maturity of current liabilities.",
        };
      }
      return null;
    case "leverage":
      if (f.metric === "total_equity") {
        return f.reference !== null && f.reference > 0
          ? {
              severity: "high",
              explanation: "Equity turned negative: liabilities exceed assets.",
              action: "Review solvency and covenants with management this week.",
            }
          : {
              severity: "low",
              explanation: "Equity stays negative (liabilities exceed assets), often from buybacks or past losses.",
              action: "Note it; watch leverage covenants.",
            };
      }
      if (f.metric === "liabilities_to_assets" && pts !== null && pts >= T.liabilitiesToAssetsRise)
        return {
          severity: "medium",
          explanation: `Liabilities grew to ${fmt(f.value, 1)}% of assets (+${pts} points).`,
          action: "Review the new obligations and the balance sheet plan.",
        };
      if (f.metric === "debt_to_equity" && pts !== null && pts >= T.debtToEquityRise && f.value >= T.debtToEquityFloor)
        return {
          severity: "medium",
          explanation: `Debt reached ${(f.value / 100).toFixed(2)}x equity.`,
          action: "Review leverage targets and refinancing needs.",
        };
      return null;
    case "peer":
      if ((f.metric === "operating_margin" || f.metric === "profit_margin") && pts !== null && pts <= T.peerMarginGap)
        return {
          severity: "low",
          explanation: `${f.metric} is ${-pts} points below the ${f.reference_period} median.`,
          action: "Compare the cost structure with the sector's at the next review.",
        };
      if (f.metric === "liabilities_to_assets" && pts !== null && pts >= T.peerLiabilitiesGap)
        return {
          severity: "low",
          explanation: `Liabilities are ${pts} points more of assets than the ${f.reference_period} median.`,
          action: "Compare leverage with sector peers at the next review.",
        };
      return null;
    case "anomaly": {
      const high = (f.score ?? 0) >= T.anomalyHighScore || Math.abs(f.change_pct ?? 0) >= T.anomalyHighChange;
      return {
        severity: high ? "high" : "medium",
        explanation: `${f.metric} broke from its recent pattern (${f.note}).`,
        action: high ? "Confirm the figure with the company this week; if real, find the cause." : "Watch the next periods; ask the company if it persists.",
      };
    }
  }
}

const fmt = (x: number, digits: number) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const signed = (x: number, unit: string) => `${x >= 0 ? "+" : ""}${fmt(x, 1)}${unit}`;
// ratios a reader knows as multiples: 88 (whole percent) reads 0.88x
const MULTIPLES = new Set(["current_ratio", "quick_ratio", "cash_ratio", "debt_to_equity"]);

function amount(metric: string, v: number): string {
  if (MULTIPLES.has(metric)) return `${(v / 100).toFixed(2)}x`;
  if (PERCENT_METRICS.has(metric)) return `${fmt(v, 1)}%`;
  if (Math.abs(v) >= 1e6) return `${fmt(v / 1e6, 0)}M`;
  return fmt(v, 2);
}

/** The numbers a flag rests on, e.g. `total_revenue 26,743M (2013) -> 42,650M (2014), +59.5%`. */
export function evidence(f: Finding): string {
  const change = f.change_pts !== null && !MULTIPLES.has(f.metric) ? signed(f.change_pts, " pts") : f.change_pct !== null ? signed(f.change_pct, "%") : null;
  const tail = change ? `, ${change}` : "";
  if (f.kind === "anomaly")
    return `${f.metric} ${fmt(f.value, 2)} (period from ${f.period.slice(0, 10)}) vs baseline ${fmt(f.reference ?? NaN, 2)}${tail}, z-score ${f.score ?? "n/a"}`;
  if (f.reference === null) return `${f.metric} ${amount(f.metric, f.value)} (${f.period})`;
  if (f.kind === "peer")
    return `${f.metric} ${amount(f.metric, f.value)} (${f.period}) vs ${f.reference_period} median ${amount(f.metric, f.reference)}${tail}`;
  return `${f.metric} ${amount(f.metric, f.reference)} (${f.reference_period}) -> ${amount(f.metric, f.value)} (${f.period})${tail}`;
}

// One flag per family: a fall in net income and in EPS is one issue, not two.
const FAMILY: Record<string, string> = {
  net_income: "earnings",
  earnings_per_share: "earnings",
  profit_margin: "earnings",
  operating_income: "operating",
  operating_margin: "operating",
  total_debt: "debt",
  debt_to_equity: "debt",
  liabilities_to_assets: "debt",
  total_equity: "debt",
  cash_and_cash_equivalents: "cash",
  current_ratio: "cash",
};
const familyOf = (f: Finding) => (f.kind === "peer" ? "peer" : f.kind === "anomaly" ? `anomaly ${f.metric}` : (FAMILY[f.metric] ?? f.metric));
const RANK = { high: 0, medium: 1, low: 2 } as const;

function toFlag(f: Finding, v: Verdict): Flag {
  return {
    metric: f.metric,
    period: f.period,
    severity: v.severity,
    change_pct: f.change_pct,
    evidence: evidence(f),
    explanation: v.explanation,
    action: v.action,
  };
}

function report(flags: Flag[]): FlagReport {
  flags.sort((a, b) => RANK[a.severity] - RANK[b.severity] || Math.abs(b.change_pct ?? 0) - Math.abs(a.change_pct ?? 0));
  return { version: 1, flags: flags.slice(0, T.maxFlags) };
}

/** Thresholds over the findings: the most severe per family, the latest anomaly per KPI series. */
export function flagIssues(input: FlaggerInput): FlagReport {
  const best = new Map<string, { f: Finding; v: Verdict }>();
  // a share split moves EPS while earnings stand still: EPS speaks only when net income is unknown
  const netIncomeKnown = input.analysis.findings.some((f) => f.kind === "yoy" && f.metric === "net_income" && f.reference !== null);
  for (const f of input.analysis.findings) {
    if (netIncomeKnown && f.metric === "earnings_per_share") continue;
    const v = judge(f);
    if (!v) continue;
    const family = familyOf(f);
    const held = best.get(family);
    const later = f.kind === "anomaly" && held !== undefined && f.period > held.f.period;
    if (!held || RANK[v.severity] < RANK[held.v.severity] || later) best.set(family, { f, v });
  }
  return report([...best.values()].map(({ f, v }) => toFlag(f, v)));
}

export const issueFlagger: Agent<FlaggerInput, IssueFlaggerAnswer, FlagReport> = {
  name: "issue_flagger",
  version: 1,
  modelOutput: IssueFlaggerAnswer,
  output: FlagReport,
  prompt(input) {
    const lines = input.analysis.findings.map((f) => `- kind=${f.kind} metric=${f.metric} period=${f.period}: ${evidence(f)}. ${f.note}`);
    return {
      system:
        "You flag issues in a portfolio company for a weekly review of many companies, so flag only what an investor should act on or discuss (usually 0 to 6 flags). " +
        "Each flag rests on one finding below: copy its kind, metric and period exactly. Give a severity (high: act this week; medium: discuss at the next review; low: note), " +
        "a one- or two-sentence explanation and a concrete recommended action. Do not restate numbers that are not in the findings.",
      user: `${input.company.name} (${input.company.ticker}), sector ${input.company.sector}, fiscal year ${input.analysis.focus_year ?? "none"}. Findings:\n${lines.join("\n") || "(none)"}`,
    };
  },
  finish(answer, input) {
    const byKey = new Map(input.analysis.findings.map((f) => [findingKey(f), f]));
    const problems: string[] = [];
    const flags: Flag[] = [];
    const seen = new Set<string>();
    for (const a of answer.flags) {
      const key = findingKey(a);
      const f = byKey.get(key);
      if (!f) problems.push(`flag on ${a.metric} ${a.period} (${a.kind}) cites no finding`);
      else if (!seen.has(key)) {
        seen.add(key);
        flags.push(toFlag(f, a));
      }
    }
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return report(flags);
  },
  rules: flagIssues,
};
