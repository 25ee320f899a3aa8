// What observers (metrics, traces, LangSmith) learn of runs: each invocation's tasks, callbacks, and end.
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { Attempt } from "../../nodes/agent.js";
import type { Logger } from "../observability/log.js";
import type { RunStatus } from "./run-types.js";

/** A run that has ended, or paused, or was handed back: what observers (metrics, traces) learn. */
export interface RunEnded {
  flow: string;
  run_id: string;
  thread_id: string;
  status: RunStatus;
  /** When this invocation started and how long it took (ms). */
  started_at: Date;
  duration_ms: number;
  /** The attempts made by this invocation (the ledger's new entries). */
  attempts: Attempt[];
  error: string | null;
}

/** A node's task of one invocation starting or ending, from LangGraph's own `tasks` stream (no callbacks). */
export interface TaskEvent {
  /** The task's id: its start and end share it. */
  id: string;
  /** The node's name. */
  name: string;
  phase: "start" | "end";
  /** When the runner received it: epoch ms with a sub-ms fraction. */
  at: number;
  /** end: the channel writes the node returned. */
  writes?: [string, unknown][];
  /** end: the error it raised, if any (an interrupt included). */
  error?: string;
}

/**
 * Watches runs: each invocation's tasks (node spans), LangChain callbacks (LangSmith), and each
 * invocation's end. Errors of an observer never fail a run.
 */
export interface RunObserver {
  /** Told of every task of one invocation of a run's graph, as it starts and ends. */
  tasks?(run: { flow: string; run_id: string; thread_id: string }): (e: TaskEvent) => void;
  /** LangChain callback handlers for one invocation (every runnable inside reports to them: costly; LangSmith only). */
  callbacks?(run: { flow: string; run_id: string; thread_id: string }): BaseCallbackHandler[];
  runEnded?(e: RunEnded): void | Promise<void>;
}

/** One invocation of a run, as observers are told of it. */
type Invocation = { flow: string; run_id: string; thread_id: string };

/** What `observers` attach to one invocation: LangChain callback handlers, and task listeners. */
export function observing(observers: readonly RunObserver[], run: Invocation): { callbacks: BaseCallbackHandler[]; listeners: ((e: TaskEvent) => void)[] } {
  return {
    callbacks: observers.flatMap((o) => o.callbacks?.(run) ?? []),
    listeners: observers.flatMap((o) => (o.tasks ? [o.tasks(run)] : [])),
  };
}

/** Tells every observer of an invocation's end; an observer that fails is logged, never fails the run. */
export async function tellRunEnded(observers: readonly RunObserver[], e: RunEnded, log?: Logger): Promise<void> {
  for (const o of observers) {
    try {
      await o.runEnded?.(e);
    } catch (err) {
      log?.warn({ err: String(err) }, "a run observer failed");
    }
  }
}

/** A graph that streams, as invokeTelling drives it. */
type StreamingGraph = { stream(input: unknown, config: RunnableConfig & { streamMode: string[] }): Promise<AsyncIterable<unknown>> };

/**
 * `graph.invoke`, telling `listeners` of each task as it starts and ends: the same run
 * streamed in `values` and `tasks` modes, its result built as invoke builds it (the last
 * values, with `__interrupt__` when it paused).
 */
export async function invokeTelling(graph: StreamingGraph, input: unknown, config: RunnableConfig, listeners: ((e: TaskEvent) => void)[]): Promise<unknown> {
  let latest: Record<string, unknown> | undefined;
  const interrupts: unknown[] = [];
  const stream = (await graph.stream(input, { ...config, streamMode: ["values", "tasks"] })) as AsyncIterable<[string, Record<string, unknown>]>;
  for await (const [mode, chunk] of stream) {
    if (mode === "values") {
      if (Array.isArray(chunk["__interrupt__"])) interrupts.push(...(chunk["__interrupt__"] as unknown[]));
      else latest = chunk;
      continue;
    }
    const at = performance.timeOrigin + performance.now();
    const end = "result" in chunk || "error" in chunk;
    const e: TaskEvent = { id: String(chunk["id"]), name: String(chunk["name"]), phase: end ? "end" : "start", at };
    if (end) {
      // { channel: value }, or { channel: { $writes: [...] } } when the task wrote a channel twice
      const result = (chunk["result"] ?? {}) as Record<string, unknown>;
      e.writes = Object.entries(result).flatMap(([channel, v]) =>
        v && typeof v === "object" && Array.isArray((v as { $writes?: unknown[] }).$writes)
          ? (v as { $writes: unknown[] }).$writes.map((w): [string, unknown] => [channel, w])
          : [[channel, v] as [string, unknown]],
      );
      if (chunk["error"]) e.error = String((chunk["error"] as { name?: string })?.name ?? chunk["error"]);
      if (Array.isArray(chunk["interrupts"]) && (chunk["interrupts"] as unknown[]).length) e.error ??= "interrupted";
    }
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // an observer never fails a run
      }
    }
  }
  return interrupts.length ? { ...latest, __interrupt__: interrupts } : latest;
}
