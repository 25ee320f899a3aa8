// The runs' shapes: a run's status, its record and row, what resume answers, an execution's config.
import type { RunControl } from "@langchain/langgraph";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { Attempt } from "../../nodes/agent.js";
import type { AgentStepContext } from "../../nodes/agent-step.js";
import { InputError } from "../errors.js";
import type { FENCE_KEY } from "./fencing.js";
import type { VersionedGraph } from "../db/state-version.js";
import type { TierOrders } from "../models/tier-stats.js";

export type RunStatus = "queued" | "running" | "completed" | "awaiting_review" | "failed" | "dead_lettered";

/** A dead letter its run cannot be retried in place from (a worker task's, or a refused event's with no run). */
export class NotRetryableError extends InputError {
  override name = "NotRetryableError";
}

/** A run as the CLI prints it (`--json`): one object per run. */
export interface RunRecord {
  run_id: string;
  thread_id: string;
  request_id: string;
  flow: string;
  status: RunStatus;
  /** HTTP requests made to model providers by this invocation, retries included. */
  model_calls: number;
  tiers_used: string[];
  /** Per agent, the tiers that produced its outputs (`rules` among them when it answered). */
  tiers_used_by_agent?: Record<string, string[]>;
  duration_ms: number;
  result?: unknown;
  error?: string;
  /** True when the answer came from a finished run of the same request, with no work done. */
  cached?: boolean;
  /** The attempt ledger: every model, rules and person call of the run. */
  attempts?: Attempt[];
  /** The worker executing it, while running from the queue. */
  worker_id?: string;
  /** With OPSGRAPH_ADAPTIVE_TIERS: per agent, the order its tiers were tried in (rules last) and why, fixed when the run started. */
  tier_order?: TierOrders;
}

/** What `resume` answers: a human review's decision, or an escalated agent's output. */
export interface ResumeAnswer {
  decision?: "approve" | "reject";
  note?: string;
  /** The output of an escalated agent, supplied by a person. */
  output?: unknown;
}

/** A row of opsgraph_runs. `input` is the flow's own (what a queued run starts from). */
export interface RunRow extends Omit<RunRecord, "result" | "error" | "cached" | "worker_id" | "tier_order" | "tiers_used_by_agent"> {
  result: unknown;
  error: string | null;
  input: Record<string, unknown>;
  worker_id: string | null;
  tier_order: TierOrders | null;
  tiers_used_by_agent: Record<string, string[]> | null;
}

export type RunConfig = {
  /** FENCE_KEY: the execution's fencing token, which the checkpointer's writes carry. */
  configurable: { thread_id: string; [FENCE_KEY]?: number };
  context: AgentStepContext & Record<string, unknown>;
  durability: "sync";
  /** The flow's own worst case (see recursionLimit): LangGraph's default of 25 never stops a run. */
  recursionLimit: number;
  control?: RunControl;
  callbacks?: BaseCallbackHandler[];
  /** Aborted when the execution loses its lease. */
  signal?: AbortSignal;
};

/** A worker that holds the runs it executes by a lease it renews itself (an event consumer), not by the queue's claim. */
export interface LeaseHolder {
  workerId: string;
  leaseMs: number;
}

/** A run as an execution's config is built from it. */
export type RunRef = { run_id: string; thread_id: string; input: RunRow["input"] };

/** A compiled flow graph, as the runner drives it. */
export interface FlowGraph extends VersionedGraph {
  nodes: Record<string, unknown>;
  invoke(input: unknown, config: RunnableConfig): Promise<unknown>;
  stream(input: unknown, config: RunnableConfig & { streamMode: string[] }): Promise<AsyncIterable<unknown>>;
  getState(config: RunnableConfig): Promise<{
    values: unknown;
    next: readonly string[];
    config?: { configurable?: { checkpoint_id?: string } };
    tasks: readonly { name: string; result?: unknown; interrupts: readonly { value?: unknown }[] }[];
  }>;
}
