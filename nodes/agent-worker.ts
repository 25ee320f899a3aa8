import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import type { z } from "zod";
import type { Agent } from "./agent.js";
import { addAgentStep, AgentStepChannels, stepNodeNames, type ExhaustedPolicy } from "./agent-step.js";
import type { SupervisorWorker } from "./supervisor.js";

const last = <T>(fallback: T) => Annotation<T>({ reducer: (_a, b) => b, default: () => fallback });

const AgentWorkerState = Annotation.Root({ input: Annotation<unknown>, output: last<unknown>(null), ...AgentStepChannels });

export interface AgentWorkerSpec<P, I, M, O, Name extends string = string> {
  /** The worker's name; also the agent step's name in the ledger and in the run's `agents` overrides. */
  name: Name;
  description: string;
  agent: Agent<I, M, O>;
  /** The payload's schema. */
  input: z.ZodType<P>;
  /** The agent's input from the payload and the outputs of its `needs`. Default: the payload itself. */
  prepare?(payload: P, inputs: unknown[]): I;
  needs?(payload: P): { worker: string; payload: unknown }[];
  summary?(output: O): string;
  /** When every tier failed: dead_letter (the task fails) or escalate (a person answers). Default: dead_letter. */
  policy?: ExhaustedPolicy;
}

/**
 * A worker that runs an agent as an agent step (retry, fallback, escalate, dead letter) in a
 * one-agent subgraph. The subgraph has no checkpointer of its own: invoked with the worker
 * node's config, it checkpoints under the parent's, and sees its context and store.
 */
export function agentWorker<P, I, M, O, Name extends string>({
  name,
  description,
  agent,
  input,
  prepare,
  needs,
  summary,
  policy = "dead_letter",
}: AgentWorkerSpec<P, I, M, O, Name>): SupervisorWorker<P, O, Name> & Required<Pick<SupervisorWorker, "graph">> {
  type State = typeof AgentWorkerState.State;
  const graph = new StateGraph(AgentWorkerState, { nodes: [START, ...stepNodeNames(name)] });
  graph.addEdge(START, name);
  addAgentStep(graph, {
    name,
    agent,
    input: (s: State) => s.input as I,
    output: (output: O) => ({ output }),
    next: END,
    policy,
    inputRef: (s: State) => s.input,
  });
  const subgraph = graph.compile();
  return {
    name,
    description,
    input,
    graph: subgraph,
    ...(needs ? { needs } : {}),
    ...(summary ? { summary } : {}),
    async run(payload, config, job) {
      // checkpointed when it exits (or pauses for a person), not after every step: the task's
      // result is saved by the parent as soon as it returns, so a finished call is not repeated,
      // and 20 tasks in parallel do not each write a checkpoint per step
      const state = (await subgraph.invoke({ input: prepare ? prepare(payload, job.inputs) : payload }, { ...config, durability: "exit" })) as State;
      job.ledger(state.attempts);
      if (state.halted) throw new Error(`${name} ${state.halted.reason.replace("_", "-")}${state.halted.note ? `: ${state.halted.note}` : ""}`);
      return state.output as O;
    },
  };
}
