import { DEFAULT_BUDGET, recursionLimitOf, type LimitInputs } from "../../../nodes/budget.js";

/**
 * Portfolio monitoring's worst case in supersteps: every round of the supervisor (its round
 * node, the router's agent step, the dispatch, the workers: each worker task runs its agent
 * step inside its own node), one more round that stops the loop, then flag dispatch, the
 * flaggers and the report.
 */
export const portfolioRecursionLimit = (inputs: LimitInputs) =>
  recursionLimitOf(inputs, { agentSteps: 1, plainSteps: 3, loops: (inputs.maxRounds ?? DEFAULT_BUDGET.maxRounds) + 1 }) + 3;
