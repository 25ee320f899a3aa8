import { z } from "zod";
import type { Agent } from "../../../nodes/agent.js";
import type { ClauseExtraction } from "./clause-extractor.js";
import type { RiskReport } from "./risk-analyst.js";
import type { TermsReport } from "./terms-analyst.js";

/** The summarizer's output, kept in state. */
export const Summary = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  summary: z.string().describe("A short executive summary for a busy reader: what the contract is, what matters, what to watch"),
});
export type Summary = z.infer<typeof Summary>;

export const SummarizerAnswer = z.object({
  summary: z.string().min(1).describe("Three to six sentences, plain language, no legal advice disclaimers"),
});
export type SummarizerAnswer = z.infer<typeof SummarizerAnswer>;

export interface SummaryInput {
  source: string;
  clauses: ClauseExtraction;
  risks: RiskReport;
  terms: TermsReport;
}

const list = (items: string[]) => (items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`);

export const summarizer: Agent<SummaryInput, SummarizerAnswer, Summary> = {
  name: "summarizer",
  version: 1,
  modelOutput: SummarizerAnswer,
  output: Summary,
  prompt(input) {
    return {
      system: "You write executive summaries of contract reviews: three to six plain sentences on what the contract is, its main risks and the terms to watch.",
      user: JSON.stringify({
        source: input.source,
        clauses_present: input.clauses.categories.filter((c) => c.present).map((c) => ({ name: c.name, value: c.value })),
        risks: input.risks.risks.map((r) => ({ severity: r.severity, rationale: r.rationale })),
        risk_score: input.risks.risk_score,
        renewal: input.terms.renewal,
        notice_days: input.terms.notice_periods.map((n) => n.days),
      }),
    };
  },
  finish(answer) {
    return { version: 1, summary: answer.summary.trim() };
  },
  rules(input) {
    const present = input.clauses.categories.filter((c) => c.present);
    const law = present.find((c) => c.name === "Governing Law")?.value;
    const high = input.risks.risks.filter((r) => r.severity === "high");
    const medium = input.risks.risks.filter((r) => r.severity === "medium");
    const parts = [
      `${input.source}: ${present.length} of ${input.clauses.categories.length} clause categories found${law ? `, governed by the law of ${law}` : ""}.`,
      `Risk score ${input.risks.risk_score}/100 with ${high.length} high, ${medium.length} medium and ${input.risks.risks.length - high.length - medium.length} low risks.`,
    ];
    if (high.length > 0) parts.push(`High: ${list(high.map((r) => r.category.toLowerCase()))}.`);
    if (medium.length > 0) parts.push(`Medium: ${list(medium.map((r) => r.category.toLowerCase()))}.`);
    if (input.terms.renewal) parts.push(`Renews: ${input.terms.renewal}.`);
    const notice = input.terms.notice_periods.map((n) => n.days);
    if (notice.length > 0) parts.push(`Notice periods: ${list(notice.map((d) => `${d} days`))}.`);
    return { version: 1, summary: parts.join(" ") };
  },
};
