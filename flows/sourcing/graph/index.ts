import { buildSourcingGraph } from "./build.js";

export { buildSourcingGraph, buildStageGraph } from "./build.js";
export * from "./events.js";
export * from "./stages.js";
export * from "./state.js";

/** The compiled graph langgraph.json points at: every stage for one company in one thread. */
export const graph = buildSourcingGraph().compile();
