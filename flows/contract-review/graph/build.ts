import { END, START, StateGraph } from "@langchain/langgraph";
import type { GraphBuilder } from "../../../nodes/graph-builder.js";
import { addContractReviewAgents, contractReviewAgentNodes, type ContractReviewAgentNode } from "./nodes/agents.js";
import type { Config } from "./context.js";
import { decide, needsReview } from "./nodes/decide.js";
import { ingest } from "./nodes/ingest.js";
import { report } from "./nodes/report.js";
import { CONTRACT_REVIEW_STATE_VERSION, ContractReviewInput, ContractReviewState, type ContractReviewUpdate } from "./state.js";

/** The graph's nodes: an edge to any other name fails `tsc`. */
export type ContractReviewNode = "ingest" | ContractReviewAgentNode | "decide" | "report";

/** Where a run starts: at the agents when the runtime stored the document (at this state version), else through ingest. */
const entry = (s: ContractReviewState): "clause_extractor" | "ingest" =>
  s.text === undefined && s.document_ref && s.state_version === CONTRACT_REVIEW_STATE_VERSION ? "clause_extractor" : "ingest";

/**
 * Contract review, the orchestrator pattern:
 * [ingest →] clause_extractor → (risk_analyst ‖ terms_analyst) → summarizer → [decide (a person) →] report.
 * Every agent is an agent step, with its retry, fallback, escalate and dead-letter edges.
 */
export function buildContractReviewGraph() {
  // `nodes` only types the builder (LangGraph does not read it at run time)
  const nodes: (ContractReviewNode | typeof START)[] = [START, "ingest", ...contractReviewAgentNodes, "decide", "report"];
  const graph = new StateGraph({ stateSchema: ContractReviewState, input: ContractReviewInput, nodes });
  const g: GraphBuilder<ContractReviewState, ContractReviewNode, ContractReviewUpdate> = graph;
  // the runtime stores the document and records the state's version itself, and starts at the
  // agents; any other input (pasted text in Studio) goes through ingest, which does both
  g.addNode("ingest", ingest).addConditionalEdges(START, entry, ["ingest", "clause_extractor"]).addEdge("ingest", "clause_extractor");
  addContractReviewAgents(g, { route: (s: ContractReviewState, config: Config) => (needsReview(s, config) ? "decide" : "report"), ends: ["decide", "report"] });
  g.addNode("decide", decide).addNode("report", report).addEdge("decide", "report").addEdge("report", END);
  return graph;
}
