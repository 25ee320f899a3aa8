import { buildContractReviewGraph } from "./graph.js";

export { buildContractReviewGraph } from "./graph.js";
export * from "./state.js";

/** Compiled without a checkpointer: the langgraphjs dev server and Studio inject their own. */
export const graph = buildContractReviewGraph().compile();
graph.name = "contract_review";
