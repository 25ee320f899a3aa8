import { interrupt } from "@langchain/langgraph";
import { contextOf, type Config } from "../context.js";
import { ReviewAnswer, type ContractReviewState, type ContractReviewUpdate } from "../state.js";

/** What the person reviewing sees at the interrupt. */
export interface ReviewRequest {
  kind: "human_review";
  source: string;
  risk_score: number;
  threshold: number;
  summary: string;
  risks: { severity: string; category: string; rationale: string }[];
  answer: 'resume with { "decision": "approve" | "reject", "note"?: string }';
}

/** Over the threshold, a person decides (the run pauses here); below it, auto-approved. */
export async function decide(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const { reviewThreshold: threshold, autoApprove } = contextOf(config);
  const score = state.risks!.risk_score;
  if (score < threshold || autoApprove) {
    const note = score < threshold ? `risk score ${score} under the threshold ${threshold}` : "--auto-approve";
    return { decision: { decision: "approved", by: "auto", note, risk_score: score, threshold } };
  }
  const request: ReviewRequest = {
    kind: "human_review",
    source: state.source ?? "contract",
    risk_score: score,
    threshold,
    summary: state.summary!.summary,
    risks: state.risks!.risks.map((r) => ({ severity: r.severity, category: r.category, rationale: r.rationale })),
    answer: 'resume with { "decision": "approve" | "reject", "note"?: string }',
  };
  const parsed = ReviewAnswer.safeParse(interrupt(request));
  if (!parsed.success) throw new Error(`human review answer must be { decision: "approve" | "reject", note?: string }`);
  const { decision, note } = parsed.data;
  return { decision: { decision: decision === "approve" ? "approved" : "rejected", by: "person", note: note ?? null, risk_score: score, threshold } };
}
