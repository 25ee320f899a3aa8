import { END, START, StateGraph } from "@langchain/langgraph";
import { portfolioRouter } from "../agents/router.js";
import type { GraphBuilder } from "../../../nodes/agent-step.js";
import { addSupervisor, supervisorNodes } from "../../../nodes/supervisor.js";
import { flagDispatch, flaggerGraph, ISSUE_FLAGGER, issueFlaggerNode, routeToFlagger } from "./nodes/flag.js";
import { report } from "./nodes/report.js";
import { analyseWorker, collectWorker } from "./nodes/workers.js";
import { PortfolioMonitoringInput, PortfolioMonitoringState } from "./state.js";

/**
 * Portfolio monitoring, the supervisor-worker pattern:
 * supervisor (router agent step) ⇄ workers per company (collect_metrics, analyse_kpis, in
 * parallel with Send) → issue_flagger per company (in parallel) → report.
 */
export function buildPortfolioMonitoringGraph(opts: { maxRounds?: number; maxModelCalls?: number } = {}) {
  const graph = new StateGraph({ stateSchema: PortfolioMonitoringState, input: PortfolioMonitoringInput });
  const g = graph as unknown as GraphBuilder;
  const supervisor = supervisorNodes();
  g.addEdge(START, supervisor.round);
  addSupervisor(g, {
    router: portfolioRouter as never,
    workers: [collectWorker, analyseWorker] as never,
    context: (s: PortfolioMonitoringState) => ({ tickers: s.companies.map((c) => c.ticker) }),
    // the run's context (maxRounds, maxModelCalls) wins over these; unset, nodes/budget.ts's defaults
    ...(opts.maxRounds ? { maxRounds: opts.maxRounds } : {}),
    ...(opts.maxModelCalls ? { maxModelCalls: opts.maxModelCalls } : {}),
    next: "flag_dispatch",
  });
  g.addNode("flag_dispatch", flagDispatch as never)
    .addConditionalEdges("flag_dispatch", routeToFlagger as never, [ISSUE_FLAGGER, "report"])
    .addNode(ISSUE_FLAGGER, issueFlaggerNode as never, { subgraphs: [flaggerGraph] })
    .addEdge(ISSUE_FLAGGER, "report")
    .addNode("report", report as never)
    .addEdge("report", END);
  return graph;
}
