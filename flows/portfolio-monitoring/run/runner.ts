import { createHash } from "node:crypto";
import { portfolioRecursionLimit } from "../graph/limits.js";
import type { LimitInputs } from "../../../nodes/budget.js";
import fs from "node:fs/promises";
import type { CompanyResult } from "../agents/company.js";
import { buildPortfolioMonitoringGraph, PORTFOLIO_MONITORING_STATE_VERSION, type PortfolioMonitoringState } from "../graph/index.js";
import { createCheckpointer, createStore } from "../../../runtime/db/checkpointer.js";
import { FlowRunner, type FlowGraph, type RunRecord, type RunRow, type RunStatus } from "../../../runtime/runs/flow-runner.js";
import { outboxReportSink } from "../../../runtime/queue/outbox.js";
import type { PortfolioInput } from "./input.js";
import { openPortfolioSource } from "./sources.js";
import type { FlowStateVersions } from "../../../runtime/db/state-version.js";

export const PORTFOLIO_MONITORING = "portfolio-monitoring";
/** Its agents: the supervisor and the workers it routes to. */
export const PORTFOLIO_AGENTS: readonly string[] = ["supervisor", "analyse_kpis", "issue_flagger"];

/** Version 1 is the first: nothing older to bring up to date. */
const VERSIONS: FlowStateVersions = {
  current: PORTFOLIO_MONITORING_STATE_VERSION,
  oldest: PORTFOLIO_MONITORING_STATE_VERSION,
  upgrade: () => ({}),
  asNode: "report",
};

/** A company in the run's result: what `--json` prints under `result.companies`. */
export type PortfolioCompanyResult = CompanyResult;

export interface PortfolioRequest {
  portfolio: PortfolioInput;
  /** Default: a hash of the portfolio and its source files' sizes and times (the same data is the same run). */
  requestId?: string;
}

/**
 * The default request id: the same portfolio on the same data is the same request. A source
 * file changed (new figures) makes it a new one; a schedule names each tick's run itself.
 */
async function defaultRequestId(portfolio: PortfolioInput): Promise<string> {
  const h = createHash("sha256").update(PORTFOLIO_MONITORING).update("\0").update(JSON.stringify(portfolio));
  for (const p of [portfolio.sources.fundamentals, portfolio.sources.companies, portfolio.sources.kpis]) {
    if (!p) continue;
    const st = await fs.stat(p).catch(() => undefined);
    h.update(`\0${p}:${st?.size ?? "-"}:${st?.mtimeMs ?? "-"}`);
  }
  return h.digest("hex").slice(0, 32);
}

/** Runs of the portfolio-monitoring flow: run now or submit to the queue; the rest is FlowRunner's. */
export class PortfolioRunner extends FlowRunner<PortfolioMonitoringState> {
  readonly flow = PORTFOLIO_MONITORING;
  protected readonly graph: FlowGraph;
  protected readonly versions = VERSIONS;
  readonly agentNames = PORTFOLIO_AGENTS;
  protected recursionLimit(inputs: LimitInputs) {
    return portfolioRecursionLimit(inputs);
  }

  constructor(deps: ConstructorParameters<typeof FlowRunner>[0]) {
    super(deps, createCheckpointer(deps.pool), createStore(deps.pool));
    // the compiled graph's own type, generic in its nodes, narrowed to what the runner calls (FlowGraph): LangGraph's CompiledStateGraph is not assignable to a structural subset of itself
    this.graph = buildPortfolioMonitoringGraph().compile({ checkpointer: this.checkpointer }) as unknown as FlowGraph;
  }

  protected flowContext(run: { run_id: string; thread_id: string; input: RunRow["input"] }) {
    const portfolio = run.input["portfolio"] as PortfolioInput;
    return {
      source: openPortfolioSource(portfolio.sources, { pool: this.deps.pool }),
      period: portfolio.period,
      ...(portfolio.year !== undefined ? { year: portfolio.year } : {}),
      // the report files go through the outbox: the report step run again writes nothing twice
      reports: outboxReportSink(this.outbox, this.deps.reportsDir, run),
    };
  }

  protected graphInput(input: RunRow["input"]) {
    const portfolio = input["portfolio"] as PortfolioInput;
    return {
      companies: portfolio.companies,
      title: `Portfolio review: ${portfolio.name}${portfolio.year ? `, fiscal ${portfolio.year}` : ""}`,
      state_version: PORTFOLIO_MONITORING_STATE_VERSION,
    };
  }

  protected result(s: PortfolioMonitoringState) {
    return {
      companies: s.results,
      report_path: s.report_path,
      report_html_path: s.report_html_path,
      supervisor: { rounds: s.rounds, stop: s.supervisor_stop },
      produced_by: s.produced_by ?? {},
    };
  }

  /** Reviews a portfolio now. The same request again answers from the stored run. */
  async review({ portfolio, requestId }: PortfolioRequest): Promise<RunRecord> {
    openPortfolioSource(portfolio.sources, { pool: this.deps.pool }); // a bad source is bad input, before any row is written
    return this.start(requestId ?? (await defaultRequestId(portfolio)), { portfolio });
  }

  /** Puts a portfolio review on the job queue: the same request twice is one run. */
  async submit({ portfolio, requestId }: PortfolioRequest): Promise<{ run_id: string; request_id: string; status: RunStatus; created: boolean }> {
    openPortfolioSource(portfolio.sources, { pool: this.deps.pool });
    return this.enqueue(requestId ?? (await defaultRequestId(portfolio)), { portfolio });
  }
}
