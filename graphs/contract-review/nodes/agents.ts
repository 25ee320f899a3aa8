import { clauseExtractor } from "../../../agents/contract-review/clause-extractor.js";
import { riskAnalyst } from "../../../agents/contract-review/risk-analyst.js";
import { summarizer } from "../../../agents/contract-review/summarizer.js";
import { termsAnalyst } from "../../../agents/contract-review/terms-analyst.js";
import { runAgentStep } from "../../../nodes/agent-step.js";
import { contextOf, type Config } from "../context.js";
import type { ContractReviewState, ContractReviewUpdate } from "../state.js";
import { loadText } from "./ingest.js";

export async function extractClauses(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const text = await loadText(state, config);
  const step = await runAgentStep(clauseExtractor, { text, start: 0, end: text.length }, contextOf(config));
  return { clauses: step.output, attempts: step.attempts };
}

export async function analyzeRisks(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const ctx = contextOf(config);
  const step = await runAgentStep(riskAnalyst, { clauses: state.clauses!, playbook: ctx.playbook }, ctx);
  return { risks: step.output, attempts: step.attempts };
}

export async function analyzeTerms(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const text = await loadText(state, config);
  const step = await runAgentStep(termsAnalyst, { text, clauses: state.clauses! }, contextOf(config));
  return { terms: step.output, attempts: step.attempts };
}

export async function summarize(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const input = { source: state.source ?? "contract", clauses: state.clauses!, risks: state.risks!, terms: state.terms! };
  const step = await runAgentStep(summarizer, input, contextOf(config));
  return { summary: step.output, attempts: step.attempts };
}
