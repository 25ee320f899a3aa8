import { Annotation } from "@langchain/langgraph";
import { z } from "zod";
import type { ClauseExtraction } from "../agents/clause-extractor.js";
import type { Playbook } from "../agents/playbook.js";
import type { RiskReport } from "../agents/risk-analyst.js";
import type { Summary } from "../agents/summarizer.js";
import type { TermsReport } from "../agents/terms-analyst.js";
import { AgentStepChannels, type AgentStepContext } from "../../../nodes/agent-step.js";

/**
 * Version of this flow's state; bump when a channel changes shape, and teach `upgrade.ts` the
 * way from the previous version (what each version was is written there).
 */
export const CONTRACT_REVIEW_STATE_VERSION = 2;

/** What a person answers at the human-review interrupt. */
export const ReviewAnswer = z.object({
  decision: z.enum(["approve", "reject"]).describe("Approve the contract, or reject it"),
  note: z.string().optional().describe("Why, for the record"),
});
export type ReviewAnswer = z.infer<typeof ReviewAnswer>;

export interface Decision {
  decision: "approved" | "rejected";
  by: "auto" | "person";
  note: string | null;
  risk_score: number;
  threshold: number;
}

/**
 * The graph's input, as Studio users paste it: the contract's text, or a stored document's key.
 * A zod schema, so the dev server serves it (with these descriptions) as the input's JSON Schema.
 */
export const ContractReviewInput = z.object({
  text: z.string().optional().describe("The contract's text. Moved into the Store by ingest; the state keeps only its key"),
  source: z.string().optional().describe("Where the text came from (a file name), shown in the report"),
  document_ref: z.string().optional().describe("Key of a document already in the Store (the CLI stores the file before the run)"),
  state_version: z
    .number()
    .int()
    .optional()
    .describe("Set by the runtime, leave empty: the state version the run starts under, with a stored document (ingest is then skipped)"),
});
export type ContractReviewInput = z.infer<typeof ContractReviewInput>;

const last = <T>(fallback: T) => Annotation<T>({ reducer: (_a, b) => b, default: () => fallback });

export const ContractReviewState = Annotation.Root({
  text: Annotation<string | undefined>,
  source: Annotation<string | undefined>,
  document_ref: Annotation<string | undefined>,
  state_version: last<number>(CONTRACT_REVIEW_STATE_VERSION),
  chars: last<number>(0),
  clauses: last<ClauseExtraction | null>(null),
  risks: last<RiskReport | null>(null),
  terms: last<TermsReport | null>(null),
  summary: last<Summary | null>(null),
  decision: last<Decision | null>(null),
  report_path: last<string | null>(null),
  ...AgentStepChannels,
});
export type ContractReviewState = typeof ContractReviewState.State;
export type ContractReviewUpdate = typeof ContractReviewState.Update;

/** Where a finished report goes; the runtime writes files, tests may keep them in memory. */
export interface ReportSink {
  /** Stores the report and returns where it is (a path). Same name, same content: safe to repeat. */
  write(name: string, markdown: string): Promise<string>;
}

/** What a run of this flow is given through LangGraph's runtime context. All optional: Studio runs use the defaults. */
export type ContractReviewContext = AgentStepContext & {
  /** Default: DEFAULT_PLAYBOOK. */
  playbook?: Playbook;
  /** A risk score at or over this pauses for a person. Default 60. */
  reviewThreshold?: number;
  /** Approve without asking a person, whatever the score. Default false. */
  autoApprove?: boolean;
  /** Default: the report is kept in the Store under ["opsgraph", "reports"]. */
  reports?: ReportSink;
  /**
   * Told once the report is written (`contract.reviewed`). `key` names the event: the same
   * key again (the report step run again) must not repeat the side effect. Default: none.
   */
  notify?: (event: ContractReviewedEvent) => Promise<void>;
  /**
   * Writes the report and tells of it as one side effect, `event` built from the path written
   * (the runtime's outbox: one statement for both). When set, the report step uses it instead of
   * `reports` and `notify`. Returns where the report is.
   */
  publish?: (report: { name: string; markdown: string }, event: (report_path: string) => ContractReviewedEvent) => Promise<string>;
};

/** What `notify` receives when a review is done: never the contract's text. */
export interface ContractReviewedEvent {
  kind: "contract.reviewed";
  /** `<thread_id>:contract.reviewed` */
  key: string;
  payload: {
    run_id?: string;
    thread_id: string;
    source: string;
    decision: Decision["decision"] | null;
    risk_score: number | null;
    report_path: string;
  };
}

export const DOCUMENTS_NAMESPACE = ["opsgraph", "documents"];
export const REPORTS_NAMESPACE = ["opsgraph", "reports"];
export const DEFAULT_REVIEW_THRESHOLD = 60;
