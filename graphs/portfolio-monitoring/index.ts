import { buildPortfolioMonitoringGraph } from "./graph.js";

export { buildPortfolioMonitoringGraph } from "./graph.js";
export * from "./state.js";

/** The compiled graph langgraph.json points at; the dev server gives it a checkpointer and a store. */
export const graph = buildPortfolioMonitoringGraph().compile();
