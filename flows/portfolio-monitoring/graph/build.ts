import { END, START, StateGraph } from "@langchain/langgraph";
import { portfolioRouter } from "../agents/router.js";
import type { GraphBuilder } from "../../../nodes/graph-builder.js";
import { addSupervisor, supervisorNodeNames, supervisorNodes, type SupervisorNodeName } from "../../../nodes/supervisor.js";
import { flagDispatch, flaggerGraph, ISSUE_FLAGGER, issueFlaggerNode, routeToFlagger } from "./nodes/flag.js";
import { report } from "./nodes/report.js";
import { analyseWorker, collectWorker } from "./nodes/workers.js";
import { PortfolioMonitoringInput, PortfolioMonitoringState, type PortfolioMonitoringUpdate } from "./state.js";

const WORKERS = [collectWorker, analyseWorker];

/** The graph's nodes: an edge to any other name fails `tsc`. */
export type PortfolioMonitoringNode = SupervisorNodeName<"supervisor"> | (typeof WORKERS)[number]["name"] | "flag_dispatch" | typeof ISSUE_FLAGGER | "report";

/**
 * Portfolio monitoring, the supervisor-worker pattern:
 * supervisor (router agent step) ⇄ workers per company (collect_metrics, analyse_kpis, in
 * parallel with Send) → issue_flagger per company (in parallel) → report.
 */
export function buildPortfolioMonitoringGraph(opts: { maxRounds?: number; maxModelCalls?: number } = {}) {
  // `nodes` only types the builder (LangGraph does not read it at run time)
  const nodes: (PortfolioMonitoringNode | typeof START)[] = [START, ...supervisorNodeNames(WORKERS), "flag_dispatch", ISSUE_FLAGGER, "report"];
  const graph = new StateGraph({ stateSchema: PortfolioMonitoringState, input: PortfolioMonitoringInput, nodes });
  const g: GraphBuilder<PortfolioMonitoringState, PortfolioMonitoringNode, PortfolioMonitoringUpdate> = graph;
  const supervisor = supervisorNodes();
  g.addEdge(START, supervisor.round);
  addSupervisor(g, {
    router: portfolioRouter,
    workers: WORKERS,
    context: (s: PortfolioMonitoringState) => ({ tickers: s.companies.map((c) => c.ticker) }),
    // the run's context (maxRounds, maxModelCalls) wins over these; unset, nodes/budget.ts's defaults
    ...(opts.maxRounds ? { maxRounds: opts.maxRounds } : {}),
    ...(opts.maxModelCalls ? { maxModelCalls: opts.maxModelCalls } : {}),
    next: "flag_dispatch",
  });
  g.addNode("flag_dispatch", flagDispatch)
    .addConditionalEdges("flag_dispatch", routeToFlagger, [ISSUE_FLAGGER, "report"])
    .addNode(ISSUE_FLAGGER, issueFlaggerNode, { subgraphs: [flaggerGraph] })
    .addEdge(ISSUE_FLAGGER, "report")
    .addNode("report", report)
    .addEdge("report", END);
  return graph;
}
