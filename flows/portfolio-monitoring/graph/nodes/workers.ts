import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import type { CompanyMetrics } from "../../agents/company.js";
import { kpiAnalyst } from "../../agents/kpi-analyst.js";
import { collectMetrics } from "../../agents/metrics-collector.js";
import { ANALYSE, COLLECT } from "../../agents/router.js";
import { agentWorker } from "../../../../nodes/agent-worker.js";
import type { SupervisorWorker } from "../../../../nodes/supervisor.js";
import type { PortfolioMonitoringContext } from "../state.js";

const TickerTask = z.object({ ticker: z.string().describe("The company's ticker") });
type TickerTask = z.infer<typeof TickerTask>;

const contextOf = (config: LangGraphRunnableConfig) => (config.context ?? {}) as PortfolioMonitoringContext;

/** Gathers one company's fundamentals, peers and KPI series from the run's data source; null: no source has it. */
export const collectWorker: SupervisorWorker<TickerTask, CompanyMetrics | null, typeof COLLECT> = {
  name: COLLECT,
  description: "Collects one company's annual fundamentals, its sector peers' medians and its KPI series from the data source",
  input: TickerTask,
  async run({ ticker }, config) {
    const { source, year, period = "week" } = contextOf(config);
    if (!source) return null; // no data source in this run (a Studio run without one): data unavailable
    return collectMetrics(ticker, source, { period, ...(year ? { year } : {}) });
  },
  summary: (m) => (m ? `${m.annual.length} fiscal years, ${Object.keys(m.kpis).length} KPI series` : "no data"),
};

/** The KPI analyst, an agent step per company, on what the collector gathered. */
export const analyseWorker = agentWorker({
  name: ANALYSE,
  description: "Analyses one company's collected metrics: year-over-year changes, margins, liquidity, leverage, peers, KPI anomalies",
  agent: kpiAnalyst,
  input: TickerTask,
  needs: ({ ticker }) => [{ worker: COLLECT, payload: { ticker } }],
  prepare: (_payload, [metrics]) => ({ metrics: metrics as CompanyMetrics }),
  summary: (a) => `${a.findings.length} findings for ${a.focus_year ?? "no year"}`,
});
