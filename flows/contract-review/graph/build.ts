import { END, START, StateGraph } from "@langchain/langgraph";
import type { GraphBuilder } from "../../../nodes/agent-step.js";
import { addContractReviewAgents } from "./nodes/agents.js";
import type { Config } from "./context.js";
import { decide, needsReview } from "./nodes/decide.js";
import { ingest } from "./nodes/ingest.js";
import { report } from "./nodes/report.js";
import { CONTRACT_REVIEW_STATE_VERSION, ContractReviewInput, ContractReviewState } from "./state.js";

/**
 * Contract review, the orchestrator pattern:
 * [ingest →] clause_extractor → (risk_analyst ‖ terms_analyst) → summarizer → [decide (a person) →] report.
 * Every agent is an agent step, with its retry, fallback, escalate and dead-letter edges.
 */
export function buildContractReviewGraph() {
  const graph = new StateGraph({ stateSchema: ContractReviewState, input: ContractReviewInput });
  const g = graph as unknown as GraphBuilder;
  // the runtime stores the document and records the state's version itself, and starts at the
  // agents; any other input (pasted text in Studio) goes through ingest, which does both
  g.addNode("ingest", ingest as never)
    .addConditionalEdges(START, ((s: ContractReviewState) => (s.text === undefined && s.document_ref && s.state_version === CONTRACT_REVIEW_STATE_VERSION ? "clause_extractor" : "ingest")) as never, ["ingest", "clause_extractor"])
    .addEdge("ingest", "clause_extractor");
  addContractReviewAgents(g, { route: (s: ContractReviewState, config: Config) => (needsReview(s, config) ? "decide" : "report"), ends: ["decide", "report"] });
  g.addNode("decide", decide as never).addNode("report", report as never).addEdge("decide", "report").addEdge("report", END);
  return graph;
}
