import { Annotation } from "@langchain/langgraph";
import { z } from "zod";
import type { CompanyResult, KpiPoint } from "../agents/company.js";
import type { FlagReport } from "../agents/issue-flagger.js";
import type { ReportingPeriod } from "../agents/kpi-anomalies.js";
import type { PortfolioDataSource } from "../agents/metrics-collector.js";
import { AgentStepChannels, type AgentStepContext } from "../../../nodes/agent-step.js";
import { SupervisorChannels } from "../../../nodes/supervisor.js";

/** Version of this flow's state; bump when a channel changes shape. */
export const PORTFOLIO_MONITORING_STATE_VERSION = 1;

/** A company of the portfolio, as the input names it. */
export const PortfolioCompany = z.object({
  ticker: z.string().describe("Ticker symbol, e.g. AAL"),
  name: z.string().optional().describe("The company's name; default: the data source's"),
  sector: z.string().optional().describe("The company's sector; default: the data source's"),
});
export type PortfolioCompany = z.infer<typeof PortfolioCompany>;

/**
 * The graph's input: the companies to review. Where their data comes from is the run's context.
 * A zod schema, so the dev server serves it (with these descriptions) as the input's JSON Schema.
 */
export const PortfolioMonitoringInput = z.object({
  companies: z.array(PortfolioCompany).min(1).describe("The companies to review (at least one)"),
  title: z.string().optional().describe('The report\'s heading. Default: "Portfolio review"'),
  state_version: z.number().int().optional().describe("Set by the runtime, leave empty: the state version the run starts under"),
});
export type PortfolioMonitoringInput = z.infer<typeof PortfolioMonitoringInput>;

/** What the issue flagger did for one company. */
export type FlagOutcome = { status: "done"; report: FlagReport } | { status: "failed"; error: string };

const last = <T>(fallback: T) => Annotation<T>({ reducer: (_a, b) => b, default: () => fallback });

export const PortfolioMonitoringState = Annotation.Root({
  companies: Annotation<PortfolioCompany[]>,
  title: Annotation<string | undefined>,
  state_version: Annotation<number | undefined>,
  /** The issue flagger's outcome by ticker. */
  flags: Annotation<Record<string, FlagOutcome>>({ reducer: (a, b) => ({ ...a, ...b }), default: () => ({}) }),
  /** Every company's status and flags: the run's result. */
  results: last<CompanyResult[]>([]),
  report_path: last<string | null>(null),
  report_html_path: last<string | null>(null),
  ...AgentStepChannels,
  ...SupervisorChannels,
});
export type PortfolioMonitoringState = typeof PortfolioMonitoringState.State;
export type PortfolioMonitoringUpdate = typeof PortfolioMonitoringState.Update;

/** Where a finished report goes; the runtime writes files through its outbox. */
export interface PortfolioReportSink {
  /** Stores one file and returns where it is. Same name, same content: safe to repeat. */
  write(name: string, content: string): Promise<string>;
}

/** What a run is given through LangGraph's runtime context. All optional: a Studio run gets no data source. */
export type PortfolioMonitoringContext = AgentStepContext & {
  /** Where the metrics come from (flows/portfolio-monitoring/run/sources.ts). Default: none (every company data_unavailable). */
  source?: PortfolioDataSource;
  /** The fiscal year under review. Default: each company's latest. */
  year?: number;
  /** The period KPI series are resampled to. Default: week. */
  period?: ReportingPeriod;
  /** Only KPI anomalies at or after this ISO date are flagged (the review window). Default: all. */
  since?: string;
  /** Default: the report is kept in the Store under ["opsgraph", "reports"]. */
  reports?: PortfolioReportSink;
};

export type { KpiPoint };
export const REPORTS_NAMESPACE = ["opsgraph", "reports"];
