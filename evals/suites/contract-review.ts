import type { ClauseFinding } from "../../flows/contract-review/agents/clause-rules.js";
import type { ModelTier } from "../../nodes/agent.js";
import { countModelCalls } from "../../nodes/agent-step.js";
import { compileForEval, reviewForEval } from "../contract-review.js";
import { loadCuadSplit, scoreCuad } from "../cuad.js";
import { runExperiment, type ExperimentResult } from "../experiment.js";

/**
 * Contract review on a CUAD-format folder: the whole graph (auto-approved, in memory) per
 * contract, scored on clause detection (per-category F1, macro over the 12 core categories)
 * and evidence overlap.
 */
export async function contractReviewSuite(o: { data: string; tiers: ModelTier[]; name: string; upload: boolean }): Promise<ExperimentResult> {
  const contracts = await loadCuadSplit(o.data);
  const byId = new Map(contracts.map((c) => [c.id, c]));
  const graph = compileForEval();
  return runExperiment({
    name: o.name,
    upload: o.upload,
    examples: contracts.map((c) => ({ inputs: { id: c.id }, reference: { id: c.id } })),
    async target({ id }: { id: string }) {
      const c = byId.get(id)!;
      const state = await reviewForEval(graph, c, o.tiers, `eval:${o.name}:${c.id}`);
      return { id, categories: state.clauses?.categories ?? [], model_calls: countModelCalls(state.attempts) };
    },
    summary(outputs: { id: string; categories: ClauseFinding[]; model_calls: number }[]) {
      const done = outputs.filter((x) => x?.categories);
      const score = scoreCuad(contracts, new Map(done.map((x) => [x.id, x.categories])));
      const tps = Object.values(score.per_category).filter((c) => c.tp > 0);
      return {
        macro_f1: score.macro_f1,
        macro_f1_all: score.macro_f1_all,
        evidence_overlap: tps.reduce((s, c) => s + c.evidence_overlap, 0) / Math.max(1, tps.length),
        errors: contracts.length - done.length,
        model_calls: done.reduce((s, x) => s + x.model_calls, 0),
      };
    },
  });
}
