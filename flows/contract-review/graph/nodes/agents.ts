import { clauseExtractor } from "../../agents/clause-extractor.js";
import { riskAnalyst } from "../../agents/risk-analyst.js";
import { summarizer } from "../../agents/summarizer.js";
import { termsAnalyst } from "../../agents/terms-analyst.js";
import type { END } from "@langchain/langgraph";
import { addAgentStep, stepNodeNames, type AgentStepSpec, type GraphBuilder, type StepNodeName, type StepUpdate } from "../../../../nodes/agent-step.js";
import { contextOf, type Config } from "../context.js";
import type { ContractReviewState } from "../state.js";
import { loadText } from "./ingest.js";

const inputRef = (s: ContractReviewState) => ({ store: ["opsgraph", "documents"], key: s.document_ref, source: s.source });

/** The agents of contract review, in order; each is an agent step of the same name. */
export const CONTRACT_REVIEW_AGENTS = ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer"] as const;

/** The nodes the agent steps add, to declare in the graph's `nodes`. */
export type ContractReviewAgentNode = StepNodeName<(typeof CONTRACT_REVIEW_AGENTS)[number]>;
export const contractReviewAgentNodes: ContractReviewAgentNode[] = CONTRACT_REVIEW_AGENTS.flatMap((name) => stepNodeNames(name));

/**
 * The four agents of contract review, each an agent step (tiers, retry, fallback, escalate,
 * dead letter): clause_extractor → risk_analyst ‖ terms_analyst → summarizer (the join) → `next`.
 */
export function addContractReviewAgents<Next extends string>(
  graph: GraphBuilder<ContractReviewState, ContractReviewAgentNode | Exclude<Next, typeof END>, StepUpdate<ContractReviewState>>,
  next: AgentStepSpec<ContractReviewState, unknown, unknown, unknown, "summarizer", Next>["next"],
): void {
  addAgentStep(graph, {
    name: "clause_extractor",
    agent: clauseExtractor,
    input: async (s: ContractReviewState, config: Config) => {
      const text = await loadText(s, config);
      return { text, start: 0, end: text.length };
    },
    output: (clauses) => ({ clauses }),
    next: ["risk_analyst", "terms_analyst"], // in parallel
    inputRef,
  });
  addAgentStep(graph, {
    name: "risk_analyst",
    agent: riskAnalyst,
    input: (s: ContractReviewState, config: Config) => ({ clauses: s.clauses!, playbook: contextOf(config).playbook }),
    output: (risks) => ({ risks }),
    next: "summarizer",
    inputRef,
  });
  addAgentStep(graph, {
    name: "terms_analyst",
    agent: termsAnalyst,
    input: async (s: ContractReviewState, config: Config) => ({ text: await loadText(s, config), clauses: s.clauses! }),
    output: (terms) => ({ terms }),
    next: "summarizer",
    inputRef,
  });
  addAgentStep(graph, {
    name: "summarizer",
    agent: summarizer,
    input: (s: ContractReviewState) => ({ source: s.source ?? "contract", clauses: s.clauses!, risks: s.risks!, terms: s.terms! }),
    output: (summary) => ({ summary }),
    next,
    inputRef,
    join: true,
  });
}
