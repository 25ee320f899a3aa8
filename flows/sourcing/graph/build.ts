import { END, START, StateGraph } from "@langchain/langgraph";
import { parseThesis } from "../agents/thesis.js";
import type { GraphBuilder } from "../../../nodes/agent-step.js";
import { afterFit, fitStage, outreachStage, profilerStage, type SourcingStage } from "./stages.js";
import { SourcingInput, SourcingState } from "./state.js";

/**
 * One stage as a graph of its own: its agent step, start to end. The runtime runs it once
 * per event it handles, in a thread of its own (the event id is the thread's key).
 */
export function buildStageGraph(stage: SourcingStage) {
  const graph = new StateGraph({ stateSchema: SourcingState, input: SourcingInput });
  const g = graph as unknown as GraphBuilder;
  g.addEdge(START, stage.name);
  stage.addStep(g, END);
  return graph;
}

/** Studio: reads the thesis as written when only its text is given. */
async function readThesis(s: SourcingState): Promise<Partial<SourcingState>> {
  if (s.thesis || !s.thesis_text) return {};
  return { thesis: parseThesis(s.thesis_text) };
}

/**
 * Every stage for one company in one thread, for Studio: the same stage steps the bus runs
 * one event at a time, chained here in the order their events would chain them.
 *   read_thesis → company_profiler → fit_analyst → outreach_writer (a fit) | end
 */
export function buildSourcingGraph() {
  const graph = new StateGraph({ stateSchema: SourcingState, input: SourcingInput });
  const g = graph as unknown as GraphBuilder;
  g.addNode("read_thesis", readThesis as never).addEdge(START, "read_thesis").addEdge("read_thesis", profilerStage.name);
  profilerStage.addStep(g, fitStage.name);
  fitStage.addStep(g, "route_fit");
  g.addNode("route_fit", (async () => ({})) as never).addConditionalEdges("route_fit", afterFit as never, [outreachStage.name, END]);
  outreachStage.addStep(g, END);
  return graph;
}
