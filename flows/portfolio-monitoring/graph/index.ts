import { buildPortfolioMonitoringGraph } from "./build.js";

export { buildPortfolioMonitoringGraph } from "./build.js";
export * from "./state.js";

/** The compiled graph langgraph.json points at; the dev server gives it a checkpointer and a store. */
export const graph = buildPortfolioMonitoringGraph().compile();
