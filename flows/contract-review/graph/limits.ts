import { recursionLimitOf, type LimitInputs } from "../../../nodes/budget.js";

/**
 * Contract review's worst case in supersteps: its four agent steps one after another (risk and
 * terms run side by side, counted as if they did not), and ingest, decide, report and the join.
 */
export const contractReviewRecursionLimit = (inputs: LimitInputs) => recursionLimitOf(inputs, { agentSteps: 4, plainSteps: 4 });
