// Over 300 lines: addSupervisor is one router (plan a round, dispatch, collect, decide again) whose nodes share the task records and the round budget; the worker step is agent-worker.ts.
import { Annotation, END, isGraphBubbleUp, Send, type AddNodeOptions, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import type { Agent, Attempt } from "./agent.js";
import {
  addAgentStep,
  countModelCalls,
  freshCursor,
  type AgentStepContext,
  type AgentStepState,
  type ExhaustedPolicy,
  type GraphBuilder,
  stepNodeNames,
  type StepNodeName,
} from "./agent-step.js";
import { budgetOf } from "./budget.js";

/** What a worker did with one task; the task board (`tasks`) keeps one per key. */
export interface TaskRecord {
  worker: string;
  /** The payload as the worker's schema parsed it. */
  payload: unknown;
  status: "done" | "failed";
  /** The worker's output (null when it failed or returned nothing). */
  output: unknown;
  /** Why it failed. */
  error: string | null;
  /** How many times the task was dispatched, this one included. */
  dispatches: number;
  /** The round of its last dispatch. */
  round: number;
  /** A line the router sees instead of the output, when the worker gives one. */
  summary: string | null;
}

/** A task as the router sees it: no output, only whether there was one. */
export type TaskView = Omit<TaskRecord, "output"> & { key: string; has_output: boolean };

/** What the router agent is asked each round. C: the flow's own facts (e.g. the tickers). */
export interface RouterInput<C = unknown> {
  round: number;
  workers: { name: string; description: string }[];
  tasks: TaskView[];
  context: C;
}

export const RouterTask = z.object({
  worker: z.string().describe("The name of the worker that runs the task, one of the workers listed"),
  payload: z.record(z.string(), z.unknown()).describe("The worker's input, matching that worker's input schema"),
});
export type RouterTask = z.infer<typeof RouterTask>;

/** The router's output each round: the next tasks, or finish. */
export const RouterDecision = z.object({
  finish: z.boolean().describe("True when nothing is left to do: the loop ends and no task is dispatched"),
  reason: z.string().describe("Why these tasks, or why finish, in one sentence"),
  tasks: z.array(RouterTask).describe("The tasks to run now, in parallel; empty when finishing"),
});
export type RouterDecision = z.infer<typeof RouterDecision>;

/** A task the dispatch accepted: what its worker node receives through `Send`. */
export interface DispatchedTask {
  key: string;
  worker: string;
  payload: unknown;
  /** Dispatch number of this task, from 1. */
  dispatch: number;
  round: number;
  /** Outputs of the done tasks the worker `needs`, in the order it named them. */
  inputs: unknown[];
}

/** One round of the loop as it happened: what the router asked and what the guardrails made of it. */
export interface DecisionRecord {
  round: number;
  finish: boolean;
  reason: string;
  /** The accepted tasks; their `inputs` travel only in the Sends (kept in state, they would grow every checkpoint). */
  dispatched: Omit<DispatchedTask, "inputs">[];
  rejected: { worker: string; payload: unknown; reason: string }[];
  skipped: { key: string; reason: string }[];
}

export interface SupervisorStop {
  reason: "finished" | "max_rounds" | "budget" | "cycle";
  note: string;
}

const last = <T>(fallback: T) => Annotation<T>({ reducer: (_a, b) => b, default: () => fallback });

/** The channels a flow with a supervisor includes in its state, next to AgentStepChannels (one supervisor per flow). */
export const SupervisorChannels = {
  /** The task board, by task key (worker + canonical JSON of the payload). */
  tasks: Annotation<Record<string, TaskRecord>>({ reducer: (a, b) => ({ ...a, ...b }), default: () => ({}) }),
  /** Rounds started: router calls asked for, not counting its retries. */
  rounds: last<number>(0),
  /** Every round's decision and what the guardrails did with it. */
  decisions: Annotation<DecisionRecord[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  /** The router's last answer, until the dispatch reads it. */
  supervisor_decision: last<RouterDecision | null>(null),
  /** Why the loop ended; null while it runs. */
  supervisor_stop: last<SupervisorStop | null>(null),
};

export interface SupervisorState extends AgentStepState {
  tasks: Record<string, TaskRecord>;
  rounds: number;
  decisions: DecisionRecord[];
  supervisor_decision: RouterDecision | null;
  supervisor_stop: SupervisorStop | null;
}

/** What a worker's `run` gets besides its payload. */
export interface WorkerJob {
  round: number;
  dispatch: number;
  /** Outputs of the done tasks named by the worker's `needs`, in that order. */
  inputs: unknown[];
  /** Hands attempts to the run's ledger (they count against the model-call budget). */
  ledger(attempts: readonly Attempt[]): void;
}

/** A worker the supervisor may dispatch tasks to: one graph node, run once per task. */
export interface SupervisorWorker<P = unknown, O = unknown, Name extends string = string> {
  /** The node's name and what the router calls it. */
  name: Name;
  /** What it does, for the router. */
  description: string;
  /** Its payload's schema: a task whose payload fails it is never dispatched. */
  input: z.ZodType<P>;
  /** Does the task: the return value is the output; a throw marks only this task failed. */
  run(payload: P, config: LangGraphRunnableConfig, job: WorkerJob): Promise<O>;
  /** Tasks that must be done before this one; their outputs arrive in `job.inputs`. */
  needs?(payload: P): { worker: string; payload: unknown }[];
  /** A short line about an output for the router, which never sees outputs. */
  summary?(output: O): string;
  /** The compiled graph `run` invokes, if any (agentWorker's agent step): declared on the node for drawings and state. */
  graph?: NonNullable<AddNodeOptions["subgraphs"]>[number];
}

/** JSON with sorted keys, so equal payloads give equal task keys. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A task's key on the board: the worker and its payload. */
export const taskKey = (worker: string, payload: unknown) => `${worker}:${canonicalJson(payload)}`;

/**
 * The guardrails, applied to whatever the router answered (a replaced router included):
 * only registered workers with payloads their schema accepts, whose needs are done; a done
 * task is not run again; a failed one at most `maxDispatches` times in all.
 */
export function planRound(
  decision: RouterDecision,
  workers: readonly SupervisorWorker[],
  tasks: Record<string, TaskRecord>,
  round: number,
  maxDispatches: number,
) {
  const record: DecisionRecord = { round, finish: decision.finish, reason: decision.reason, dispatched: [], rejected: [], skipped: [] };
  for (const { worker: name, payload: raw } of decision.tasks) {
    const worker = workers.find((w) => w.name === name);
    if (!worker) {
      record.rejected.push({ worker: name, payload: raw, reason: `no worker named "${name}"` });
      continue;
    }
    const parsed = worker.input.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      record.rejected.push({ worker: name, payload: raw, reason: `invalid payload: ${issue?.path.join(".") || "payload"}: ${issue?.message ?? ""}` });
      continue;
    }
    const key = taskKey(name, parsed.data);
    const done = tasks[key];
    if (decision.finish) record.skipped.push({ key, reason: "the router finished" });
    else if (record.dispatched.some((t) => t.key === key)) record.skipped.push({ key, reason: "asked twice this round" });
    else if (done?.status === "done") record.skipped.push({ key, reason: "already done" });
    else if (done && done.dispatches >= maxDispatches) record.skipped.push({ key, reason: `failed ${done.dispatches} times, the limit is ${maxDispatches}` });
    else {
      const needs = (worker.needs?.(parsed.data) ?? []).map((n) => tasks[taskKey(n.worker, n.payload)]);
      const missing = needs.findIndex((n) => n?.status !== "done");
      if (missing >= 0) {
        const need = worker.needs!(parsed.data)[missing]!;
        record.rejected.push({ worker: name, payload: parsed.data, reason: `needs ${taskKey(need.worker, need.payload)}, which is not done` });
        continue;
      }
      record.dispatched.push({ key, worker: name, payload: parsed.data, dispatch: (done?.dispatches ?? 0) + 1, round });
    }
  }
  return record;
}

// A re-dispatch of a failure carries a higher dispatch number, so it is progress, not a repeat.
const signature = (r: DecisionRecord) =>
  r.dispatched
    .map((t) => `${t.key}#${t.dispatch}`)
    .sort()
    .join("|");

export interface SupervisorSpec<S extends SupervisorState, C, M, Name extends string = string, Worker extends string = string, Next extends string = string> {
  /** The router's agent-step name (its key in `steps` and the ledger); the other nodes are named after it. */
  name?: Name;
  /** Picks the next tasks each round; its `rules` tier is the flow's deterministic plan. */
  router: Agent<RouterInput<C>, M, RouterDecision>;
  /** The workers tasks may go to; each is a node named after it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each worker has its own payload and output; only its name is checked here
  workers: SupervisorWorker<any, any, Worker>[];
  /** The flow's own facts the router sees (e.g. the tickers). */
  context?(state: S): C;
  /** Rounds (router decisions) at most; the next one stops the loop with "max_rounds". The run's context's `maxRounds` wins; default: nodes/budget.ts. */
  maxRounds?: number;
  /** Model calls of the whole run (workers' included) at which no more rounds start ("budget"). The run's context's `maxModelCalls` wins; default: nodes/budget.ts. */
  maxModelCalls?: number;
  /** Dispatches of one task at most, the first included: a failed task is re-run until then. */
  maxDispatches?: number;
  /** The router's policy when every tier failed. Default: dead_letter. */
  policy?: ExhaustedPolicy;
  /** The node after the loop ends, whatever the reason. */
  next: Next | typeof END;
}

/** The nodes a supervisor named Name adds (its workers' nodes besides). */
export type SupervisorNodeName<Name extends string> = `${Name}_round` | StepNodeName<Name> | `${Name}_dispatch`;

/** The nodes of a supervisor and its workers, to declare in `new StateGraph({ nodes })`. */
// `as Name`: as in supervisorNodes
export function supervisorNodeNames<Worker extends string, Name extends string = "supervisor">(
  workers: readonly { name: Worker }[],
  name: Name = "supervisor" as Name,
): (SupervisorNodeName<Name> | Worker)[] {
  const n = supervisorNodes(name);
  return [n.round, ...stepNodeNames(name), n.dispatch, ...workers.map((w) => w.name)];
}

/** The node names of a supervisor: enter the loop at `round`. */
// `as Name`: Name defaults to "supervisor", the default name (tsc cannot tie a default value to a default type argument)
export const supervisorNodes = <Name extends string = "supervisor">(name: Name = "supervisor" as Name) => ({
  round: `${name}_round` as const,
  router: name,
  dispatch: `${name}_dispatch` as const,
});

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300);

/**
 * Adds a supervisor loop to a graph; the flow enters at `supervisorNodes(name).round`:
 *
 *   supervisor_round ──▶ supervisor ──ok──▶ supervisor_dispatch ──Send×n──▶ worker … ──▶ supervisor_round
 *     (deferred: after    (agent step: retry,   (guardrails)        └──finish / stop──▶ next
 *      every worker;       fallback, escalate,
 *      limits)             dead letter)
 */
export function addSupervisor<S extends SupervisorState, C, M, Worker extends string, Next extends string = never, Name extends string = "supervisor">(
  graph: GraphBuilder<S, NoInfer<SupervisorNodeName<Name> | Worker | Exclude<Next, typeof END>>, Partial<S> | Partial<SupervisorState>>,
  spec: SupervisorSpec<S, C, M, Name, Worker, Next>,
): void {
  // `as Name`: as in supervisorNodes, the default value of the default type argument
  const { name = "supervisor" as Name, router, workers, context, maxDispatches = 2, policy } = spec;
  // for a generic Next tsc cannot see that Next ⊆ Exclude<Next, END> | END, the nodes the graph declares
  const next = spec.next as Exclude<Next, typeof END> | typeof END;
  const nodes = supervisorNodes(name);
  // the run's context, then the flow's own setting, then the one default
  const limitsOf = (config: LangGraphRunnableConfig) => {
    const own = (config.context ?? {}) as AgentStepContext;
    return budgetOf({ maxRounds: own.maxRounds ?? spec.maxRounds, maxModelCalls: own.maxModelCalls ?? spec.maxModelCalls });
  };

  async function round(state: S, config: LangGraphRunnableConfig): Promise<Partial<SupervisorState>> {
    if (state.halted) return {};
    const { maxRounds, maxModelCalls } = limitsOf(config);
    if (state.rounds >= maxRounds) return { supervisor_stop: { reason: "max_rounds", note: `${state.rounds} rounds run, the limit is ${maxRounds}` } };
    const calls = countModelCalls(state.attempts);
    if (calls >= maxModelCalls) return { supervisor_stop: { reason: "budget", note: `${calls} model calls made, the budget is ${maxModelCalls}` } };
    // A new round starts the router on its first tier again.
    return { rounds: state.rounds + 1, steps: { [name]: freshCursor() }, supervisor_decision: null };
  }

  function routerInput(state: S): RouterInput<C> {
    const tasks = Object.entries(state.tasks).map(([key, { output, ...t }]) => ({ key, ...t, has_output: output !== null && output !== undefined }));
    return {
      round: state.rounds,
      workers: workers.map((w) => ({ name: w.name, description: w.description })),
      tasks,
      context: context ? context(state) : (undefined as C),
    };
  }

  async function dispatch(state: S): Promise<Partial<SupervisorState>> {
    const decision = state.supervisor_decision ?? { finish: false, reason: "no decision", tasks: [] };
    const record = planRound(decision, workers, state.tasks, state.rounds, maxDispatches);
    if (decision.finish) return { decisions: [record], supervisor_stop: { reason: "finished", note: decision.reason } };
    const previous = state.decisions.at(-1);
    if (previous && !previous.finish && signature(previous) === signature(record)) {
      const what = record.dispatched.length ? `the same tasks (${signature(record)})` : "nothing dispatchable";
      const note = `round ${record.round} repeats round ${previous.round}: ${what}, without finishing; the router said: ${decision.reason}`;
      return { decisions: [{ ...record, dispatched: [] }], supervisor_stop: { reason: "cycle", note } };
    }
    return { decisions: [record] };
  }

  function afterDispatch(state: S): typeof next | typeof nodes.round | Send[] {
    if (state.supervisor_stop) return next;
    const dispatched = state.decisions.at(-1)?.dispatched ?? [];
    // One Send per task: they all run in the next superstep, in parallel.
    const inputsOf = (t: (typeof dispatched)[number]) => {
      const worker = workers.find((w) => w.name === t.worker);
      return (worker?.needs?.(t.payload) ?? []).map((n) => state.tasks[taskKey(n.worker, n.payload)]?.output);
    };
    return dispatched.length
      ? dispatched.map((task) => new Send(task.worker, { supervisor_task: { ...task, inputs: inputsOf(task) } satisfies DispatchedTask }))
      : nodes.round;
  }

  const workerNode = (worker: SupervisorWorker) =>
    async function (arg: { supervisor_task: DispatchedTask }, config: LangGraphRunnableConfig): Promise<Partial<SupervisorState>> {
      const { key, payload, dispatch, round, inputs } = arg.supervisor_task;
      const attempts: Attempt[] = [];
      const base = { worker: worker.name, payload, dispatches: dispatch, round };
      try {
        const output = (await worker.run(payload, config, { round, dispatch, inputs, ledger: (a) => void attempts.push(...a) })) ?? null;
        return { tasks: { [key]: { ...base, status: "done", output, error: null, summary: worker.summary?.(output) ?? null } }, attempts };
      } catch (e) {
        // An interrupt or a cancelled run is not the task's failure: let LangGraph handle it.
        if (isGraphBubbleUp(e) || config.signal?.aborted) throw e;
        return { tasks: { [key]: { ...base, status: "failed", output: null, error: messageOf(e), summary: null } }, attempts };
      }
    };

  graph
    .addNode(nodes.round, round, { defer: true })
    .addConditionalEdges(nodes.round, (state: S) => (state.halted ? END : state.supervisor_stop ? next : nodes.router), [nodes.router, next, END]);
  addAgentStep(graph, {
    name,
    agent: router,
    input: routerInput,
    output: (supervisor_decision: RouterDecision) => ({ supervisor_decision }) as Partial<S>,
    next: nodes.dispatch,
    ...(policy ? { policy } : {}),
    inputRef: (s: S) => ({ round: s.rounds }),
  });
  graph.addNode(nodes.dispatch, dispatch).addConditionalEdges(nodes.dispatch, afterDispatch, [...workers.map((w) => w.name), nodes.round, next]);
  // a worker's own graph (an agent step) is declared, so the drawing (xray) shows its retry, fallback, escalate and dead-letter edges
  for (const worker of workers)
    graph.addNode(worker.name, workerNode(worker), worker.graph ? { subgraphs: [worker.graph] } : undefined).addEdge(worker.name, nodes.round);
}
