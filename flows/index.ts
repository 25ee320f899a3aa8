// The registry of flows, and what is derived from it: every agent, the schedulable flows, opening them all.
import type { FlowDefinition, ScheduleInputReader } from "../runtime/runs/flow-definition.js";
import type { RunnerDeps } from "../runtime/runs/flow-runner.js";
import type { FlowRunner } from "../runtime/runs/flow-runner.js";
import type { SchedulableFlow } from "../runtime/queue/schedules.js";
import { contractReviewFlow } from "./contract-review/flow.js";
import { portfolioFlow } from "./portfolio-monitoring/flow.js";
import { sourcingFlow } from "./sourcing/flow.js";

/**
 * The registry of flows: one line each. The CLI, the workers, the dev server's graphs and the
 * agent-chain check all read it; a new flow is its folder and its line here.
 */
export const FLOWS = {
  contractReview: contractReviewFlow,
  portfolio: portfolioFlow,
  sourcing: sourcingFlow,
} as const;

type Flows = typeof FLOWS;
const DEFINITIONS: readonly FlowDefinition<unknown, never>[] = Object.values(FLOWS);
/** Settings some flows take when opened (from the config), by name. */
export interface FlowSettings {
  reviewThreshold: number;
}
/** Each flow's own object, by its registry key. */
export type OpenedFlows = { [K in keyof Flows]: ReturnType<Flows[K]["open"]>["handle"] };

/** Every agent of the registry's flows: what an agent's own chain (OPSGRAPH_MODELS_<AGENT>) may name. */
export const FLOW_AGENTS: readonly string[] = DEFINITIONS.flatMap((f) => f.agents);
/** The flows `opsgraph schedule add` accepts. */
export const SCHEDULABLE_FLOWS: readonly string[] = DEFINITIONS.filter((f) => f.scheduleInput).map((f) => f.name);
/** How a schedulable flow's kept input is read (call after assertSchedulable). */
export const scheduleInputOf = (flow: string): ScheduleInputReader => DEFINITIONS.find((f) => f.name === flow && f.scheduleInput)!.scheduleInput!;

/** Opens every flow of the registry on the runtime's parts. */
export function openFlows(deps: RunnerDeps, settings: FlowSettings): { flows: OpenedFlows; runners: FlowRunner[]; schedules: SchedulableFlow<never>[] } {
  const flows = {} as Record<string, unknown>;
  const runners: FlowRunner[] = [];
  const schedules: SchedulableFlow<never>[] = [];
  for (const [key, def] of Object.entries(FLOWS)) {
    const opened = def.open(deps, settings);
    flows[key] = opened.handle;
    runners.push(...opened.runners);
    if (opened.schedule) schedules.push(opened.schedule);
  }
  // every key of FLOWS was set above, each to its own flow's handle
  return { flows: flows as OpenedFlows, runners, schedules };
}
