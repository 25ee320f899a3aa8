import { Annotation } from "@langchain/langgraph";
import { z } from "zod";
import { CompanyProfile, RawCompany } from "../agents/company.js";
import { FitAssessment } from "../agents/fit-analyst.js";
import type { OutreachDraft } from "../agents/outreach-writer.js";
import { Thesis } from "../agents/thesis.js";
import { AgentStepChannels } from "../../../nodes/agent-step.js";

/** Version of this flow's state; bump when a channel changes shape. */
export const SOURCING_STATE_VERSION = 1;

const last = <T>(fallback: T) => Annotation<T>({ reducer: (_a, b) => b, default: () => fallback });

/**
 * What a stage (or the whole flow, in Studio) starts from; each stage reads its part.
 * A zod schema, so the dev server serves it (with these descriptions) as the input's JSON Schema.
 */
export const SourcingInput = z.object({
  company: RawCompany.nullable().optional().describe("The raw listing (the company profiler's input)"),
  thesis: Thesis.nullable().optional().describe("The thesis to score against, parsed; or give thesis_text"),
  thesis_text: z.string().nullable().optional().describe("Studio: the thesis as written (Markdown), read when thesis is not given"),
  profile: CompanyProfile.nullable().optional().describe("A later stage's input: the company profiler's profile"),
  fit: FitAssessment.nullable().optional().describe("A later stage's input: the fit analyst's assessment"),
  fund: z.string().nullable().optional().describe("Who writes the outreach (default: the thesis's fund)"),
  state_version: z.number().int().optional().describe("Set by the runtime, leave empty: the state version the run starts under"),
});
export type SourcingInput = z.infer<typeof SourcingInput>;

export const SourcingState = Annotation.Root({
  company: last<RawCompany | null>(null),
  thesis: last<Thesis | null>(null),
  thesis_text: last<string | null>(null),
  profile: last<CompanyProfile | null>(null),
  fit: last<FitAssessment | null>(null),
  fund: last<string | null>(null),
  state_version: last<number | undefined>(undefined),
  draft: last<OutreachDraft | null>(null),
  ...AgentStepChannels,
});
export type SourcingState = typeof SourcingState.State;
