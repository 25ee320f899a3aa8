import { SOURCING_STAGES } from "./sourcing/graph/index.js";
import { PORTFOLIO_AGENTS } from "./portfolio-monitoring/run/runner.js";
import { CONTRACT_REVIEW_AGENTS } from "./contract-review/run/runner.js";

/** Every agent of the shipped flows: what an agent's own chain (OPSGRAPH_MODELS_<AGENT>) may name. */
export const FLOW_AGENTS: readonly string[] = [...CONTRACT_REVIEW_AGENTS, ...PORTFOLIO_AGENTS, ...SOURCING_STAGES.map((s) => s.name)];
