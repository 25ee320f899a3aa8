import { END, START, StateGraph } from "@langchain/langgraph";
import { parseThesis } from "../agents/thesis.js";
import { stepNodeNames, type StepNodeName } from "../../../nodes/agent-step.js";
import type { GraphBuilder } from "../../../nodes/graph-builder.js";
import { afterFit, fitStage, outreachStage, profilerStage, type SourcingStage, type SourcingStageName } from "./stages.js";
import { SourcingInput, SourcingState } from "./state.js";

type SourcingUpdate = typeof SourcingState.Update;

/** Studio's graph's nodes: an edge to any other name fails `tsc`. */
export type SourcingNode = "read_thesis" | StepNodeName<SourcingStageName> | "route_fit";

/**
 * One stage as a graph of its own: its agent step, start to end. The runtime runs it once
 * per event it handles, in a thread of its own (the event id is the thread's key).
 */
export function buildStageGraph<Name extends SourcingStageName>(stage: SourcingStage<SourcingStage["subscribes"], Name>) {
  // `nodes` only types the builder (LangGraph does not read it at run time); typed as Studio's
  // graph's, so both compile to one type (app/studio.ts serves them alike), the builder below as the stage's
  const nodes: (SourcingNode | typeof START)[] = [START, ...stepNodeNames(stage.name)];
  const graph = new StateGraph({ stateSchema: SourcingState, input: SourcingInput, nodes });
  const g: GraphBuilder<SourcingState, StepNodeName<Name>, SourcingUpdate> = graph;
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
  // `nodes` only types the builder (LangGraph does not read it at run time)
  const nodes: (SourcingNode | typeof START)[] = [
    START,
    "read_thesis",
    ...stepNodeNames(profilerStage.name),
    ...stepNodeNames(fitStage.name),
    "route_fit",
    ...stepNodeNames(outreachStage.name),
  ];
  const graph = new StateGraph({ stateSchema: SourcingState, input: SourcingInput, nodes });
  const g: GraphBuilder<SourcingState, SourcingNode, SourcingUpdate> = graph;
  g.addNode("read_thesis", readThesis).addEdge(START, "read_thesis").addEdge("read_thesis", profilerStage.name);
  profilerStage.addStep(g, fitStage.name);
  fitStage.addStep(g, "route_fit");
  g.addNode("route_fit", async () => ({})).addConditionalEdges("route_fit", afterFit, [outreachStage.name, END]);
  outreachStage.addStep(g, END);
  return graph;
}
