import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import type { TokenUsage } from "./agent.js";

/** The Store namespace of part answers: one namespace per task, one item per part (`0`, `1`, ...). */
// no "_" in a label: PostgresStore refuses LIKE wildcards in namespaces
export const PART_ANSWERS_NS = ["opsgraph", "part-answers"];

/** A model's answer to one part of a split input, as kept until its step's writes are saved. */
export interface PartAnswer {
  output: unknown;
  usage: TokenUsage;
  /** How long the call took (ms), for the ledger. */
  ms: number;
  /** The thread it belongs to (retention deletes it with the thread's checkpoints). */
  thread_id: string;
}

/**
 * The answers of a split input's parts (a long contract's chunks), kept in the Store as each
 * comes back. The parts are asked one after another inside one task, whose writes LangGraph
 * saves only when it returns: a worker killed after some parts were answered would lose them
 * with the task. The same task run again after the crash (same checkpoint, same task id) finds
 * them here and asks only the parts it lacks. Another task (a retry, a fallback) has another
 * id, so it never reuses an answer it should not.
 */
export class PartAnswers {
  private constructor(
    private readonly store: BaseStore,
    private readonly namespace: string[],
    private readonly threadId: string,
  ) {}

  /** For the task `config` runs, or undefined outside a graph run with a Store (nothing is kept). */
  static of(config: LangGraphRunnableConfig, store: BaseStore | undefined): PartAnswers | undefined {
    // LangGraph's CONFIG_KEY_TASK_ID, which its public API does not export
    const taskId = config.configurable?.["__pregel_task_id"] as string | undefined;
    const threadId = config.configurable?.["thread_id"] as string | undefined;
    if (!store || !taskId || !threadId) return undefined;
    return new PartAnswers(store, [...PART_ANSWERS_NS, taskId], threadId);
  }

  /** The answers this task has already got, by part index. A Store that fails answers none. */
  async load(parts: number): Promise<Map<number, PartAnswer>> {
    const items = await this.store.search(this.namespace, { limit: parts }).catch(() => []);
    // the Store's values are untyped records; these are the PartAnswers `save` put under this namespace
    return new Map(items.map((i) => [Number(i.key), i.value as PartAnswer]));
  }

  /** Keeps a part's answer. A failed put only means a crash would ask that part again, so it does not fail the step. */
  async save(part: number, answer: Omit<PartAnswer, "thread_id">): Promise<void> {
    await this.store.put(this.namespace, String(part), { ...answer, thread_id: this.threadId }, false).catch(() => {});
  }
}
