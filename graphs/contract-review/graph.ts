import { END, START, StateGraph } from "@langchain/langgraph";
import type { GraphBuilder } from "../../nodes/agent-step.js";
import { addContractReviewAgents } from "./nodes/agents.js";
import { decide } from "./nodes/decide.js";
import { ingest } from "./nodes/ingest.js";
import { report } from "./nodes/report.js";
import { ContractReviewInput, ContractReviewState } from "./state.js";

/**
 * Contract review, the orchestrator pattern:
 * ingest → clause_extractor → (risk_analyst ‖ terms_analyst) → summarizer → decide → report.
 * Every agent is an agent step, with its retry, fallback, escalate and dead-letter edges.
 */
export function buildContractReviewGraph() {
  const graph = new StateGraph({ stateSchema: ContractReviewState, input: ContractReviewInput });
  const g = graph as unknown as GraphBuilder;
  g.addNode("ingest", ingest as never).addEdge(START, "ingest").addEdge("ingest", "clause_extractor");
  addContractReviewAgents(g, "decide");
  g.addNode("decide", decide as never).addNode("report", report as never).addEdge("decide", "report").addEdge("report", END);
  return graph;
}
