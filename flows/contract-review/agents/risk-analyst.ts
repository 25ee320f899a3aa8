import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import { Excerpt, type ClauseExtraction } from "./clause-extractor.js";
import { SEVERITY_POINTS, Severity, type Playbook, type Position } from "./playbook.js";

export const Risk = z.object({
  position: z.string().describe("The playbook position this risk comes from"),
  category: z.string().describe("The clause category"),
  severity: Severity,
  rationale: z.string().describe("Why this contract carries the risk"),
  clauses: z.array(Excerpt).describe("The clauses the risk rests on (empty when the risk is a missing clause)"),
});
export type Risk = z.infer<typeof Risk>;

/** The risk analyst's output, kept in state. */
export const RiskReport = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  risks: z.array(Risk).describe("The risks found, most severe first"),
  risk_score: z.number().min(0).max(100).describe("0 to 100: high 30, medium 15, low 5 points a risk, capped at 100"),
});
export type RiskReport = z.infer<typeof RiskReport>;

export const RiskAnalystAnswer = z.object({
  risks: z
    .array(
      z.object({
        position: z.string().describe("The id of a playbook position that applies to this contract"),
        severity: Severity,
        rationale: z.string().describe("One or two sentences on why it applies here"),
      }),
    )
    .describe("Only the positions that apply"),
});
export type RiskAnalystAnswer = z.infer<typeof RiskAnalystAnswer>;

export interface RiskInput {
  clauses: ClauseExtraction;
  playbook: Playbook;
}

const ORDER = { high: 0, medium: 1, low: 2 } as const;

function report(risks: Risk[]): RiskReport {
  risks.sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || a.position.localeCompare(b.position));
  const score = Math.min(
    100,
    risks.reduce((sum, r) => sum + SEVERITY_POINTS[r.severity], 0),
  );
  return { version: 1, risks, risk_score: score };
}

function clausesFor(input: RiskInput, position: Position) {
  const finding = input.clauses.categories.find((c) => c.name === position.category);
  return position.when === "present" ? (finding?.excerpts ?? []) : [];
}

/** A position applies when its category's presence matches `when`. */
export function applies(input: RiskInput, position: Position): boolean {
  const present = input.clauses.categories.find((c) => c.name === position.category)?.present ?? false;
  return position.when === "present" ? present : !present;
}

export const riskAnalyst: Agent<RiskInput, RiskAnalystAnswer, RiskReport> = {
  name: "risk_analyst",
  version: 1,
  modelOutput: RiskAnalystAnswer,
  output: RiskReport,
  prompt(input) {
    const positions = input.playbook.positions.map((p) => `- ${p.id} (${p.severity}): a risk when "${p.category}" is ${p.when}. ${p.rationale}`).join("\n");
    const found = input.clauses.categories
      .map((c) => `- ${c.name}: ${c.present ? "present" : "absent"}${c.excerpts.map((e) => `\n    "${e.text}"`).join("")}`)
      .join("\n");
    return {
      system:
        "You are a contract risk analyst. Judge the contract's clauses against the company's playbook. " +
        "List each playbook position that applies, with a severity (you may lower or raise the playbook's when the clause wording warrants it) and a short rationale.",
      user: `Playbook "${input.playbook.name}":\n${positions}\n\nClauses found:\n${found}`,
    };
  },
  finish(answer, input) {
    const problems: string[] = [];
    const risks: Risk[] = [];
    for (const r of answer.risks) {
      const position = input.playbook.positions.find((p) => p.id === r.position);
      if (!position) {
        problems.push(`position "${r.position}" is not in the playbook`);
        continue;
      }
      if (risks.some((x) => x.position === r.position)) continue;
      risks.push({ position: position.id, category: position.category, severity: r.severity, rationale: r.rationale, clauses: clausesFor(input, position) });
    }
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return report(risks);
  },
  rules(input) {
    return report(
      input.playbook.positions
        .filter((p) => applies(input, p))
        .map((p) => ({ position: p.id, category: p.category, severity: p.severity, rationale: p.rationale, clauses: clausesFor(input, p) })),
    );
  },
};
