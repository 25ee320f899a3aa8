import { stepNodes } from "../../nodes/agent-step.js";

/** A run's context as a client sends it (JSON), and the options every graph execution passes through. */
export type RunContext = Record<string, unknown>;
type StreamOptions = { context?: RunContext; runId?: string } & Record<string, unknown>;

/** What the graphs' nodes take from the context as objects: the server wires them, a JSON context cannot. */
export const WIRED_CONTEXT_KEYS = [
  "tiers",
  "agentTiers",
  "clock",
  "deadLetters",
  "agents",
  "reports",
  "notify",
  "publish",
  "store",
  "source",
  "costOf",
] as const;

/**
 * Gives every run of a compiled graph a context built from its own: `contextOf(own, runId)`.
 *
 * LangGraph replaces a bound context wholesale (`withConfig({ context })` is lost as soon as a
 * run passes a context of its own, and the dev server always passes the run's), so defaults
 * are merged per execution instead. `stream` is the one door every execution goes through
 * (`invoke`, `stream`, `streamEvents` of both versions), and the dev server keeps the instance
 * (it sets the checkpointer and store on it), so wrapping it there is enough.
 */
export function withRunContext<G extends { stream(input: never, options?: never): unknown }>(
  graph: G,
  contextOf: (own: RunContext, runId: string | undefined) => RunContext,
  /** The flow's worst case in supersteps for a run's context: the run's recursion limit, unless it asked for more. */
  limitOf?: (context: RunContext) => number,
): G {
  const stream = (graph.stream as (input: unknown, options?: StreamOptions) => unknown).bind(graph);
  const wrapped = (input: unknown, options?: StreamOptions) => {
    const context = contextOf(options?.context ?? {}, options?.runId);
    const asked = typeof options?.["recursionLimit"] === "number" ? (options["recursionLimit"] as number) : 0;
    return stream(input, { ...options, context, ...(limitOf ? { recursionLimit: Math.max(asked, limitOf(context)) } : {}) });
  };
  Object.defineProperty(graph, "stream", { value: wrapped, configurable: true, writable: true });
  return graph;
}

/** A run's own context without the keys the server wires (a JSON value there would be no tier, no source). */
export function plainSettings(own: RunContext): RunContext {
  return Object.fromEntries(Object.entries(own).filter(([k]) => !(WIRED_CONTEXT_KEYS as readonly string[]).includes(k)));
}

/** The agent steps of a compiled graph: the nodes that have a retry node. */
export function agentStepsOf(graph: { nodes: Record<string, unknown> }): string[] {
  return Object.keys(graph.nodes).filter((n) => stepNodes(n).retry in graph.nodes);
}
