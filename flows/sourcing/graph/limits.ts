import { recursionLimitOf, type LimitInputs } from "../../../nodes/budget.js";

/** One sourcing stage (the bus runs each alone): its agent step. */
export const sourcingStageRecursionLimit = (inputs: LimitInputs) => recursionLimitOf(inputs, { agentSteps: 1, plainSteps: 0 });

/** Every stage for one company (Studio's chain): read_thesis, three agent steps, route_fit. */
export const sourcingRecursionLimit = (inputs: LimitInputs) => recursionLimitOf(inputs, { agentSteps: 3, plainSteps: 2 });
