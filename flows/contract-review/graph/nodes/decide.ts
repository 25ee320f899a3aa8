import { interrupt } from "@langchain/langgraph";
import { contextOf, type Config } from "../context.js";
import { ReviewAnswer, type ContractReviewState, type ContractReviewUpdate, type Decision } from "../state.js";

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

/** Whether a person must decide: a risk score at or over the threshold, unless the run approves automatically. */
export function needsReview(state: ContractReviewState, config: Config): boolean {
  const { reviewThreshold, autoApprove } = contextOf(config);
  return state.risks!.risk_score >= reviewThreshold && !autoApprove;
}

/** The decision when no person is asked. */
export function autoDecision(state: ContractReviewState, config: Config): Decision {
  const { reviewThreshold: threshold } = contextOf(config);
  const score = state.risks!.risk_score;
  const note = score < threshold ? `risk score ${score} under the threshold ${threshold}` : "--auto-approve";
  return { decision: "approved", by: "auto", note, risk_score: score, threshold };
}

/**
 * The human review: the run pauses here for a person's decision. Runs that need none go from
 * the summarizer straight to the report (see graph.ts); a run paused here by an older build
 * whose answer is no longer needed is approved as that build would have.
 */
export async function decide(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  if (!needsReview(state, config)) return { decision: autoDecision(state, config) };
  const { reviewThreshold: threshold } = contextOf(config);
  const score = state.risks!.risk_score;
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
