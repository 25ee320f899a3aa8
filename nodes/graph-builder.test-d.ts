import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { describe, expectTypeOf, it } from "vitest";
import type { Agent } from "./agent.js";
import { addAgentStep, AgentStepChannels, stepNodeNames } from "./agent-step.js";
import type { GraphBuilder } from "./graph-builder.js";
import { addSupervisor, SupervisorChannels, supervisorNodeNames, type RouterDecision, type RouterInput, type SupervisorWorker } from "./supervisor.js";

// Type tests (vitest typecheck): each `@ts-expect-error` marks a line that must not compile;
// if it compiled, tsc would report the directive as unused and this file would fail.

const State = Annotation.Root({ n: Annotation<number>, doubled: Annotation<number>, ...AgentStepChannels, ...SupervisorChannels });
type S = typeof State.State;
declare const doubler: Agent<number, unknown, number>;
declare const router: Agent<RouterInput, unknown, RouterDecision>;
declare const work: SupervisorWorker<unknown, unknown, "work">;

describe("GraphBuilder", () => {
  it("takes edges and routes to declared nodes only", () => {
    const g: GraphBuilder<S, "a" | "b", typeof State.Update> = new StateGraph(State, { nodes: [START, "a", "b"] });
    g.addNode("a", async (s: S) => ({ n: s.n + 1 }))
      .addNode("b", async () => ({}))
      .addEdge(START, "a")
      .addEdge("b", END);
    g.addConditionalEdges("a", (s) => (s.n > 1 ? "b" : END), ["b", END]);
    // @ts-expect-error a misspelt edge target
    g.addEdge("a", "bb");
    // @ts-expect-error a router returning a name that is not a node
    g.addConditionalEdges("a", (s: S) => (s.n > 1 ? "c" : END), ["b", END]);
    // @ts-expect-error a node returning a field the state does not have
    g.addNode("b", async () => ({ tripled: 3 }));
    expectTypeOf(g.addEdge).parameter(1).toEqualTypeOf<"a" | "b" | typeof END>();
  });

  it("rejects an agent step whose next, name or state is wrong", () => {
    const g = new StateGraph(State, { nodes: [START, ...stepNodeNames("doubler"), "finish"] });
    addAgentStep(g, { name: "doubler", agent: doubler, input: (s: S) => s.n, output: (doubled) => ({ doubled }), next: "finish" });
    addAgentStep(g, { name: "doubler", agent: doubler, input: (s: S) => s.n, output: (doubled) => ({ doubled }), next: END });
    // @ts-expect-error a misspelt next
    addAgentStep(g, { name: "doubler", agent: doubler, input: (s: S) => s.n, output: (doubled) => ({ doubled }), next: "finsh" });
    // @ts-expect-error a step whose nodes the graph does not declare
    addAgentStep(g, { name: "tripler", agent: doubler, input: (s: S) => s.n, output: (doubled) => ({ doubled }), next: "finish" });
    // @ts-expect-error an output into a field the state does not have
    addAgentStep(g, { name: "doubler", agent: doubler, input: (s: S) => s.n, output: (tripled) => ({ tripled }), next: "finish" });
  });

  it("rejects a supervisor whose next or workers are not nodes", () => {
    const g = new StateGraph(State, { nodes: [START, ...supervisorNodeNames([work]), "report"] });
    addSupervisor(g, { router, workers: [work], next: "report" });
    // @ts-expect-error a misspelt next
    addSupervisor(g, { router, workers: [work], next: "reprot" });
    const other: SupervisorWorker<unknown, unknown, "other"> = { ...work, name: "other" };
    // @ts-expect-error a worker the graph does not declare
    addSupervisor(g, { router, workers: [work, other], next: "report" });
  });
});
