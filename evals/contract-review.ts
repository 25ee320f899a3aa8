import { InMemoryStore, MemorySaver } from "@langchain/langgraph";
import pLimit from "p-limit";
import { buildContractReviewGraph, type ContractReviewState } from "../flows/contract-review/graph/index.js";
import type { ModelTier } from "../nodes/agent.js";
import { chainText, countModelCalls, RULES_TIER } from "../nodes/agent-step.js";
import type { ClauseFinding } from "../flows/contract-review/agents/clause-rules.js";
import { cuadReportMarkdown, loadCuadSplit, scoreCuad, type CuadContract, type CuadScore } from "./cuad.js";

export interface ContractReviewEval {
  score: CuadScore;
  markdown: string;
  tiers: string[];
  model_calls: number;
  duration_ms: number;
}

/** One contract through the whole graph as an evaluation runs it: auto-approved, the report kept nowhere. */
export async function reviewForEval(
  graph: ReturnType<typeof compileForEval>,
  c: CuadContract,
  tiers: ModelTier[],
  threadId: string,
  agentTiers?: Record<string, ModelTier[]>,
): Promise<ContractReviewState> {
  return (await graph.invoke(
    { text: c.text, source: c.id },
    {
      configurable: { thread_id: threadId },
      context: { tiers, ...(agentTiers ? { agentTiers } : {}), autoApprove: true, reports: { write: async (name: string) => name } },
    },
  )) as ContractReviewState;
}

/** The graph an evaluation runs, on in-memory parts. */
export const compileForEval = () => buildContractReviewGraph().compile({ checkpointer: new MemorySaver(), store: new InMemoryStore() });

/**
 * Runs the whole contract-review graph (auto-approved, on in-memory parts) over a folder in
 * the CUAD format and scores the clause extraction against its labels.
 */
export async function evaluateContractReview(opts: {
  data: string;
  tiers: ModelTier[];
  /** Agents' own chains (OPSGRAPH_MODELS_<AGENT>). */
  agentTiers?: Record<string, ModelTier[]>;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<ContractReviewEval> {
  const t0 = Date.now();
  const contracts = await loadCuadSplit(opts.data);
  const graph = compileForEval();
  const predictions = new Map<string, ClauseFinding[]>();
  const limit = pLimit(opts.concurrency ?? 4);
  let done = 0;
  let modelCalls = 0;
  await Promise.all(
    contracts.map((c) =>
      limit(async () => {
        const state = await reviewForEval(graph, c, opts.tiers, `eval:${c.id}`, opts.agentTiers);
        predictions.set(c.id, state.clauses!.categories);
        modelCalls += countModelCalls(state.attempts);
        opts.onProgress?.(++done, contracts.length);
      }),
    ),
  );
  // the flow's chain, then each agent's own
  const tiers = [
    ...opts.tiers.map((t) => t.id),
    RULES_TIER,
    ...Object.entries(opts.agentTiers ?? {}).map(([agent, own]) => `${agent}: ${chainText(own.map((t) => t.id))}`),
  ];
  const score = scoreCuad(contracts, predictions);
  const markdown = cuadReportMarkdown(score, { data: opts.data, tiers, when: new Date().toISOString() });
  return { score, markdown, tiers, model_calls: modelCalls, duration_ms: Date.now() - t0 };
}
