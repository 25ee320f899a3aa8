import { END, START, StateGraph } from "@langchain/langgraph";
import { analyzeRisks, analyzeTerms, extractClauses, summarize } from "./nodes/agents.js";
import { decide } from "./nodes/decide.js";
import { ingest } from "./nodes/ingest.js";
import { report } from "./nodes/report.js";
import { ContractReviewInput, ContractReviewState } from "./state.js";

/**
 * Contract review, the orchestrator pattern:
 * ingest → clause_extractor → (risk_analyst ‖ terms_analyst) → summarizer → decide → report.
 */
export function buildContractReviewGraph() {
  return new StateGraph({ stateSchema: ContractReviewState, input: ContractReviewInput })
    .addNode("ingest", ingest)
    .addNode("clause_extractor", extractClauses)
    .addNode("risk_analyst", analyzeRisks)
    .addNode("terms_analyst", analyzeTerms)
    .addNode("summarizer", summarize)
    .addNode("decide", decide)
    .addNode("report", report)
    .addEdge(START, "ingest")
    .addEdge("ingest", "clause_extractor")
    .addEdge("clause_extractor", "risk_analyst")
    .addEdge("clause_extractor", "terms_analyst")
    .addEdge(["risk_analyst", "terms_analyst"], "summarizer")
    .addEdge("summarizer", "decide")
    .addEdge("decide", "report")
    .addEdge("report", END);
}
