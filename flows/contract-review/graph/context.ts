import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import { DEFAULT_PLAYBOOK } from "../agents/playbook.js";
import { storeOfRun } from "../../../nodes/agent-step.js";
import { DEFAULT_REVIEW_THRESHOLD, type ContractReviewContext } from "./state.js";

export type Config = LangGraphRunnableConfig<ContractReviewContext>;

/** The run's context with defaults filled in: a Studio run gets rules only and the default playbook. */
export function contextOf(config: Config) {
  const c = config.context ?? {};
  return {
    playbook: c.playbook ?? DEFAULT_PLAYBOOK,
    reviewThreshold: c.reviewThreshold ?? DEFAULT_REVIEW_THRESHOLD,
    autoApprove: c.autoApprove ?? false,
    reports: c.reports,
    notify: c.notify,
    publish: c.publish,
    runId: c.runId,
  };
}

export function storeOf(config: Config): BaseStore {
  const store = storeOfRun(config);
  if (!store) throw new Error("contract-review needs a Store for the contract's text (compile the graph with a store, or give one in the context)");
  return store;
}
