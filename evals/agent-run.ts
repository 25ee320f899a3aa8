import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import type { Agent, ModelTier } from "../nodes/agent.js";
import { addAgentStep, AgentStepChannels, countModelCalls, stepNodeNames } from "../nodes/agent-step.js";

const State = Annotation.Root({
  input: Annotation<unknown>,
  output: Annotation<unknown>({ reducer: (_a, b) => b, default: () => null }),
  ...AgentStepChannels,
});
type State = typeof State.State;

let n = 0;

/**
 * One agent as an agent step (the tiers, then rules; retry, fallback), as a flow runs it:
 * what an evaluation of one agent on the model path measures.
 */
export async function runAgentStep<I, O>(
  agent: Agent<I, unknown, O>,
  name: string,
  input: I,
  tiers: ModelTier[],
): Promise<{ output: O; model_calls: number; produced_by: string }> {
  const graph = new StateGraph(State, { nodes: [START, ...stepNodeNames(name)] });
  graph.addEdge(START, name);
  addAgentStep(graph, { name, agent, input: (s: State) => s.input as I, output: (output: O) => ({ output }), next: END });
  const state = (await graph
    .compile({ checkpointer: new MemorySaver() })
    .invoke({ input }, { configurable: { thread_id: `eval-agent-${++n}` }, context: { tiers } })) as State;
  if (state.halted) throw new Error(`${name}: ${state.halted.reason}`);
  return { output: state.output as O, model_calls: countModelCalls(state.attempts), produced_by: state.produced_by[name] ?? "rules" };
}
