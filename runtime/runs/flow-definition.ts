import type { SchedulableFlow } from "../queue/schedules.js";
import type { FlowRunner, RunnerDeps } from "./flow-runner.js";

/** What opening a flow gives the composition root. */
export interface OpenedFlow<H> {
  /** The flow's own object, for its own commands (`run contract-review`, `sourcing ingest`). */
  handle: H;
  /** Its runners: a worker executes their runs; `resume`, `runs` and `dlq` find them by flow. */
  runners: FlowRunner[];
  /** How a schedule's tick submits a run of it, when it can be scheduled. */
  schedule?: SchedulableFlow<never>;
}

/**
 * A flow as the registry (flows/index.ts) knows it: its name, its agents and how to open it on
 * the runtime's parts. The runtime knows flows only through this shape.
 */
export interface FlowDefinition<H, S = object> {
  /** The name its runs and dead letters carry (a flow with stages: `<name>.<stage>` too). */
  name: string;
  /** Its agents: what an agent's own chain (OPSGRAPH_MODELS_<AGENT>) may name. */
  agents: readonly string[];
  /** How `opsgraph schedule add` reads the input a schedule keeps; absent: not schedulable. */
  scheduleInput?: ScheduleInputReader;
  open(deps: RunnerDeps, settings: S): OpenedFlow<H>;
}

/** A schedulable flow's input: read once from a file, kept with the schedule. */
export interface ScheduleInputReader {
  read(file: string): Promise<unknown>;
  /** A few words on a kept input, for `schedule add`'s line ("12 companies"). */
  summary(input: unknown): string;
}
