import type { FlowDefinition } from "../../runtime/runs/flow-definition.js";
import { CONTRACT_REVIEW, CONTRACT_REVIEW_AGENTS, ContractReviewRunner } from "./run/runner.js";

/** Contract review in the registry: one runner; not scheduled (a contract is reviewed when it comes). */
export const contractReviewFlow: FlowDefinition<ContractReviewRunner, { reviewThreshold: number }> = {
  name: CONTRACT_REVIEW,
  agents: CONTRACT_REVIEW_AGENTS,
  open(deps, { reviewThreshold }) {
    const runner = new ContractReviewRunner({ ...deps, reviewThreshold });
    return { handle: runner, runners: [runner] };
  },
};
