import { buildContractReviewGraph } from "./build.js";

export { buildContractReviewGraph } from "./build.js";
export * from "./state.js";

/** Compiled without a checkpointer: the langgraphjs dev server and Studio inject their own. */
export const graph = buildContractReviewGraph().compile();
graph.name = "contract_review";
