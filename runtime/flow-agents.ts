import { SOURCING_STAGES } from "../graphs/sourcing/index.js";
import { PORTFOLIO_AGENTS } from "./portfolio-runner.js";
import { CONTRACT_REVIEW_AGENTS } from "./runs.js";

/** Every agent of the shipped flows: what an agent's own chain (OPSGRAPH_MODELS_<AGENT>) may name. */
export const FLOW_AGENTS: readonly string[] = [...CONTRACT_REVIEW_AGENTS, ...PORTFOLIO_AGENTS, ...SOURCING_STAGES.map((s) => s.name)];
