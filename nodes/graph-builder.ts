import type { AddNodeOptions, END, LangGraphRunnableConfig, Send, START } from "@langchain/langgraph";

/** A node: `(input, config) => update`. Its input is the state, or what a `Send` carried to it. */
export type NodeFn<I, W> = (input: I, config: LangGraphRunnableConfig) => Promise<W>;

/** Where a router sends the run: one node, several (in parallel), the end, or `Send`s. */
export type Route<N extends string> = N | typeof END | (N | typeof END)[] | Send[];

/** A router: reads the state, names what runs next. */
export type Router<S, N extends string> = (state: S, config: LangGraphRunnableConfig) => Route<N>;

/**
 * The part of LangGraph's StateGraph a graph is built through, typed by the graph: S its state,
 * N the literal union of its node names (declared up front with `new StateGraph({ nodes })`, so
 * an edge may point at a node added later), W what a node may return. A StateGraph is one as it
 * is, without a cast; an edge to a name outside N, or a node reading another state, fails `tsc`.
 * Members are function-typed properties, not methods, so N is checked both ways (a graph whose
 * nodes lack a name some step adds is not one).
 */
export interface GraphBuilder<S, N extends string, W = Partial<S>> {
  /** I: the state, or for a node `Send` reaches, what the Send carries. */
  addNode: <I = S>(name: N, fn: NodeFn<I, W>, options?: { defer?: boolean; subgraphs?: AddNodeOptions["subgraphs"] }) => GraphBuilder<S, N, W>;
  addEdge: (from: typeof START | N | N[], to: N | typeof END) => GraphBuilder<S, N, W>;
  addConditionalEdges: (from: typeof START | N, path: Router<S, N>, ends: (N | typeof END)[]) => GraphBuilder<S, N, W>;
}
