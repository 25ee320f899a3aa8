import { fitAnalyst, type FitAssessment } from "../../flows/sourcing/agents/fit-analyst.js";
import type { ModelTier } from "../../nodes/agent.js";
import { runAgentStep } from "../agent-run.js";
import { readStartupsCsv } from "../../flows/sourcing/run/ingest.js";
import { runExperiment, type ExperimentResult } from "../experiment.js";
import { auc, fitInputOf, outcomeOf, readThesisFile } from "../sourcing.js";

/**
 * Deal sourcing's back-test: the fit score (profiler and fit analyst, rules tier: the stages'
 * own code) of every startup that had exited or died by 2014, against that outcome, as AUC.
 * The status never reaches the scorer (the discovery event leaves it out).
 */
export async function sourcingSuite(o: { data: string; thesisFile: string; name: string; upload: boolean; tiers?: ModelTier[] }): Promise<ExperimentResult> {
  const thesis = await readThesisFile(o.thesisFile);
  const rows = await readStartupsCsv(o.data);
  const labelled = rows.flatMap((row, i) => {
    const status = outcomeOf(row);
    return status ? [{ i, exited: status === "Exited" }] : [];
  });
  return runExperiment({
    name: o.name,
    upload: o.upload,
    examples: labelled.map((l) => ({ inputs: { row: l.i }, reference: { exited: l.exited } })),
    async target({ row }: { row: number }) {
      const input = fitInputOf(rows[row]!, thesis, o.data);
      if (!input) return { score: null, model_calls: 0 };
      if (!o.tiers?.length) return { score: fitAnalyst.rules(input).score, model_calls: 0 };
      // the model path: the fit analyst as an agent step on the tiers
      const run = await runAgentStep(fitAnalyst as never, "fit_analyst", input, o.tiers);
      return { score: (run.output as FitAssessment).score, model_calls: run.model_calls };
    },
    summary(outputs: { score: number | null; model_calls: number }[], references: { exited: boolean }[]) {
      const pos: number[] = [];
      const neg: number[] = [];
      outputs.forEach((out, k) => {
        if (out?.score === null || out?.score === undefined) return;
        (references[k]!.exited ? pos : neg).push(out.score);
      });
      return {
        auc: auc(pos, neg),
        exited: pos.length,
        dead: neg.length,
        errors: labelled.length - pos.length - neg.length,
        model_calls: outputs.filter(Boolean).reduce((n, x) => n + x.model_calls, 0),
      };
    },
  });
}
