// Over 300 lines: the supervisor router's cases (planning, dispatch, budgets, escalation, a crashed router) share one scripted graph and its fake clock.
import { Annotation, Command, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FakeClock } from "../testing/fake-clock.js";
import type { Agent, ModelTier, StructuredCall } from "./agent.js";
import { AgentStepChannels, type AgentStepContext, type GraphBuilder } from "./agent-step.js";
import { CircuitOpenError } from "./errors.js";
import { agentWorker } from "./agent-worker.js";
import {
  addSupervisor,
  RouterDecision,
  SupervisorChannels,
  supervisorNodes,
  taskKey,
  type RouterInput,
  type SupervisorSpec,
  type SupervisorWorker,
} from "./supervisor.js";

// The supervisor on a toy flow: items to process, workers that take `{ item }`, and a router
// whose rules run every worker on every item, re-run a failure once, then finish.
const Item = z.object({ item: z.string() });
type Context = { items: string[] };

const planner: Agent<RouterInput<Context>, RouterDecision, RouterDecision> = {
  name: "planner",
  version: 1,
  modelOutput: RouterDecision,
  output: RouterDecision,
  prompt: (input) => ({ system: "plan the next tasks", user: JSON.stringify(input) }),
  finish: (answer) => answer,
  rules(input) {
    const tasks = input.workers.flatMap((w) =>
      input.context.items
        .filter((item) => {
          const t = input.tasks.find((x) => x.key === taskKey(w.name, { item }));
          return !t || (t.status === "failed" && t.dispatches < 2);
        })
        .map((item) => ({ worker: w.name, payload: { item } })),
    );
    return { finish: tasks.length === 0, reason: tasks.length ? "work left" : "all done", tasks };
  },
};

/** A router that answers from a list, whatever it is asked (the last answer repeats), recording its inputs. */
function scriptedRouter(answers: RouterDecision[] | ((input: RouterInput<Context>) => RouterDecision)) {
  const inputs: RouterInput<Context>[] = [];
  const agent: Agent<unknown, unknown, unknown> = {
    ...(planner as Agent<unknown, unknown, unknown>),
    rules(input) {
      inputs.push(input as RouterInput<Context>);
      return typeof answers === "function" ? answers(input as RouterInput<Context>) : answers[Math.min(inputs.length, answers.length) - 1];
    },
  };
  return { agent, inputs };
}
const ask = (...items: string[]): RouterDecision => ({
  finish: false,
  reason: "scripted",
  tasks: items.map((item) => ({ worker: "fetch", payload: { item } })),
});
const FINISH: RouterDecision = { finish: true, reason: "scripted finish", tasks: [] };

/** A worker that records its payloads; `behave` decides what each call does. */
function worker(name: string, behave: (item: string, call: number) => Promise<unknown> | unknown = (item) => `${name}(${item})`) {
  const calls: string[] = [];
  const w: SupervisorWorker<{ item: string }> & { calls: string[] } = {
    name,
    description: `${name}es an item`,
    input: Item,
    calls,
    async run({ item }) {
      calls.push(item);
      return behave(item, calls.length);
    },
  };
  return w;
}

const State = Annotation.Root({
  items: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  reported: Annotation<boolean>({ reducer: (_a, b) => b, default: () => false }),
  ...AgentStepChannels,
  ...SupervisorChannels,
});
type State = typeof State.State;

type Options = Partial<SupervisorSpec<State, Context, RouterDecision>>;
function buildGraph(workers: SupervisorWorker[], options: Options = {}, entry?: (g: GraphBuilder<State, string, typeof State.Update>, round: string) => void) {
  const graph = new StateGraph(State, { nodes: [] as string[] }); // any node name: these tests build their graphs from lists
  const g: GraphBuilder<State, string, typeof State.Update> = graph;
  const { round } = supervisorNodes();
  g.addNode("report", async () => ({ reported: true })).addEdge("report", END);
  if (entry) entry(g, round);
  else g.addEdge(START, round);
  addSupervisor(g, { router: planner, workers, context: (s: State) => ({ items: s.items }), next: "report", ...options });
  return graph;
}

let thread = 0;
async function run(
  workers: SupervisorWorker[],
  { items = ["a"], options = {}, ctx = {} }: { items?: string[]; options?: Options; ctx?: Partial<AgentStepContext> } = {},
) {
  const graph = buildGraph(workers, options).compile({ checkpointer: new MemorySaver() });
  const config = { configurable: { thread_id: `t${++thread}` }, context: { clock: new FakeClock(), ...ctx } };
  const state = (await graph.invoke({ items }, config)) as State;
  return { graph, config, state };
}

/** A model tier that answers per agent from a script; agents with no script find its breaker open (no call made). */
function agentTier(id: string, scripts: Record<string, (unknown | Error)[]>) {
  const calls: StructuredCall<unknown>[] = [];
  const tier: ModelTier = {
    id,
    async invoke<M>(call: StructuredCall<M>) {
      const script = scripts[call.agent];
      if (!script) throw new CircuitOpenError(id);
      calls.push(call as StructuredCall<unknown>);
      const next = script.shift();
      if (next === undefined) throw new Error(`${id}: ${call.agent}'s script ran out`);
      if (next instanceof Error) throw next;
      return { output: call.schema.parse(next), usage: { input_tokens: 10, output_tokens: 2 } };
    },
  };
  return { tier, calls, callsBy: (agent: string) => calls.filter((c) => c.agent === agent) };
}
const http = (status: number) => Object.assign(new Error(`${status} from provider`), { status });

// A doubling agent, for workers that are agent steps.
const Doubled = z.object({ value: z.number().describe("Twice the number") });
const doubler: Agent<{ n: number }, z.infer<typeof Doubled>, number> = {
  name: "doubler",
  version: 1,
  modelOutput: Doubled,
  output: z.number(),
  prompt: ({ n }) => ({ system: "double it", user: String(n) }),
  finish: (a) => a.value,
  rules: ({ n }) => n * 2,
};
const N = z.object({ n: z.number() });
const numbersRouter = (numbers: number[]) =>
  scriptedRouter((input) => {
    const tasks = numbers.filter((n) => !input.tasks.some((t) => t.key === taskKey("double", { n }))).map((n) => ({ worker: "double", payload: { n } }));
    return { finish: tasks.length === 0, reason: "numbers", tasks };
  });

describe("supervisor", () => {
  it("draws the round, the router's resilience edges, the dispatch and every worker", () => {
    const mermaid = buildGraph([worker("fetch"), worker("parse")])
      .compile()
      .getGraph()
      .drawMermaid();
    for (const edge of [
      "__start__ --> supervisor_round",
      "supervisor_round -.-> supervisor;",
      "supervisor -.-> supervisor_retry",
      "supervisor -.-> supervisor_fallback",
      "supervisor -.-> supervisor_dead_letter",
      "supervisor -.-> supervisor_dispatch",
      "supervisor_dispatch -.-> fetch",
      "supervisor_dispatch -.-> parse",
      "supervisor_dispatch -.-> report",
      "fetch --> supervisor_round",
      "parse --> supervisor_round",
    ]) {
      expect(mermaid).toContain(edge);
    }
  });

  it("dispatches, merges every worker's result on the board and finishes with a recorded reason", async () => {
    const fetch = worker("fetch");
    const { state } = await run([fetch], { items: ["a", "b", "c"] });
    expect(fetch.calls.sort()).toEqual(["a", "b", "c"]);
    expect(state.tasks[taskKey("fetch", { item: "b" })]).toMatchObject({
      worker: "fetch",
      payload: { item: "b" },
      status: "done",
      output: "fetch(b)",
      dispatches: 1,
      round: 1,
    });
    expect(state.supervisor_stop).toEqual({ reason: "finished", note: "all done" });
    expect(state.rounds).toBe(2);
    expect(state.reported).toBe(true);
  });

  it("runs the tasks of a round concurrently: all in flight at once, in about one latency", async () => {
    const latency = 200;
    let inFlight = 0;
    let most = 0;
    const slow = (name: string) =>
      worker(name, async (item) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, latency));
        inFlight--;
        return item;
      });
    const workers = ["w1", "w2", "w3", "w4"].map(slow);
    const t0 = Date.now();
    const { state } = await run(workers);
    const elapsed = Date.now() - t0;
    expect(state.decisions[0]!.dispatched).toHaveLength(4);
    expect(most).toBe(4);
    expect(elapsed).toBeLessThan(2 * latency); // one after the other: 4 × 200 ms
  });

  it("asks the router once per round, after every worker of the round, however long each took", async () => {
    const router = scriptedRouter((input) => planner.rules(input));
    const delays: Record<string, number> = { a: 60, b: 0, c: 25 };
    const fetch = worker("fetch", async (item) => new Promise((r) => setTimeout(() => r(item), delays[item])));
    const { state } = await run([fetch], { items: ["a", "b", "c"], ctx: { agents: { supervisor: router.agent } } });
    expect(router.inputs).toHaveLength(2);
    expect(router.inputs[1]!.tasks.map((t) => `${t.key}:${t.status}`).sort()).toEqual([
      'fetch:{"item":"a"}:done',
      'fetch:{"item":"b"}:done',
      'fetch:{"item":"c"}:done',
    ]);
    expect(state.rounds).toBe(2);
  });

  it("starts round 1 only once every branch leading into the supervisor has arrived (the deferred loop head)", async () => {
    const router = scriptedRouter((input) => planner.rules(input));
    const fetch = worker("fetch");
    const graph = buildGraph([fetch], {}, (g, round) => {
      g.addNode("short", async () => ({ items: ["x"] }))
        .addNode("long1", async () => ({}))
        .addNode("long2", async () => ({ items: ["y"] }))
        .addEdge(START, "short")
        .addEdge(START, "long1")
        .addEdge("long1", "long2")
        .addEdge("short", round)
        .addEdge("long2", round);
    }).compile({ checkpointer: new MemorySaver() });
    const state = (await graph.invoke({}, { configurable: { thread_id: "deferred" }, context: { agents: { supervisor: router.agent } } })) as State;
    expect(router.inputs[0]!.context.items.sort()).toEqual(["x", "y"]);
    expect(state.decisions[0]!.dispatched.map((t) => t.payload)).toEqual([{ item: "x" }, { item: "y" }]);
    expect(router.inputs).toHaveLength(2);
  });

  it("never dispatches to an unknown worker or with a payload its schema rejects, even from a replaced router", async () => {
    const fetch = worker("fetch");
    const rogue = scriptedRouter([
      {
        finish: false,
        reason: "rogue",
        tasks: [
          { worker: "rm_rf", payload: { item: "a" } },
          { worker: "fetch", payload: { item: 3 } },
          { worker: "fetch", payload: { item: "a" } },
        ],
      },
      FINISH,
    ]);
    const { state } = await run([fetch], { ctx: { agents: { supervisor: rogue.agent } } });
    expect(fetch.calls).toEqual(["a"]);
    expect(state.decisions[0]!.rejected).toEqual([
      { worker: "rm_rf", payload: { item: "a" }, reason: 'no worker named "rm_rf"' },
      { worker: "fetch", payload: { item: 3 }, reason: expect.stringMatching(/^invalid payload: item: /) },
    ]);
    expect(Object.keys(state.tasks)).toEqual([taskKey("fetch", { item: "a" })]);
    expect(state.supervisor_stop?.reason).toBe("finished");
  });

  it("does not dispatch a task that is already done", async () => {
    const fetch = worker("fetch");
    const router = scriptedRouter([ask("a"), ask("a", "b"), FINISH]);
    const { state } = await run([fetch], { ctx: { agents: { supervisor: router.agent } } });
    expect(fetch.calls).toEqual(["a", "b"]);
    expect(state.decisions[1]!.skipped).toEqual([{ key: taskKey("fetch", { item: "a" }), reason: "already done" }]);
  });

  it("re-dispatches a failed task, at most maxDispatches times in all", async () => {
    const fetch = worker("fetch", () => {
      throw new Error("source down");
    });
    const router = scriptedRouter([ask("a")]); // asks for it forever
    const { state } = await run([fetch], { ctx: { agents: { supervisor: router.agent } } });
    expect(fetch.calls).toEqual(["a", "a"]);
    expect(state.tasks[taskKey("fetch", { item: "a" })]).toMatchObject({ status: "failed", error: "source down", dispatches: 2, round: 2 });
    expect(state.decisions[2]!.skipped).toEqual([{ key: taskKey("fetch", { item: "a" }), reason: "failed 2 times, the limit is 2" }]);

    const once = worker("fetch", () => {
      throw new Error("source down");
    });
    await run([once], { options: { maxDispatches: 1 }, ctx: { agents: { supervisor: scriptedRouter([ask("a")]).agent } } });
    expect(once.calls).toEqual(["a"]);
  });

  it("stops at the same decision twice in a row (nothing dispatchable, no finish), recording why", async () => {
    const router = scriptedRouter([{ finish: false, reason: "thinking", tasks: [] }]);
    const { state } = await run([worker("fetch")], { ctx: { agents: { supervisor: router.agent } } });
    expect(router.inputs).toHaveLength(2);
    expect(state.supervisor_stop).toEqual({
      reason: "cycle",
      note: "round 2 repeats round 1: nothing dispatchable, without finishing; the router said: thinking",
    });
    expect(state.reported).toBe(true);
  });

  it("stops after maxRounds rounds when the router never finishes", async () => {
    const fetch = worker("fetch");
    const router = scriptedRouter((input) => ask(`i${input.round}`)); // something new every round
    const { state } = await run([fetch], { options: { maxRounds: 3 }, ctx: { agents: { supervisor: router.agent } } });
    expect(fetch.calls).toEqual(["i1", "i2", "i3"]);
    expect(state.supervisor_stop).toEqual({ reason: "max_rounds", note: "3 rounds run, the limit is 3" });
    expect(state.rounds).toBe(3);
    expect(state.reported).toBe(true);
  });

  it("stops before asking the router once the run's model calls, workers' included, reach the budget", async () => {
    const model = agentTier("m:one", {
      supervisor: [ask("x"), ask("y"), ask("z")].map((d) => ({ ...d, tasks: d.tasks.map(() => ({ worker: "double", payload: { n: 1 } })) })),
      double: [{ value: 2 }, { value: 4 }],
    });
    const double = agentWorker({ name: "double", description: "doubles n", agent: doubler, input: N });
    const { state } = await run([double], { options: { maxModelCalls: 2 }, ctx: { tiers: [model.tier] } });
    expect(model.callsBy("supervisor")).toHaveLength(1);
    expect(model.callsBy("double")).toHaveLength(1);
    expect(state.supervisor_stop).toEqual({ reason: "budget", note: "2 model calls made, the budget is 2" });
    expect(state.rounds).toBe(1);
  });

  it("starts the router on its first tier again each round", async () => {
    const model = agentTier("m:one", { supervisor: [http(401), FINISH] });
    const { state } = await run([worker("fetch")], { ctx: { tiers: [model.tier] } });
    expect(state.attempts.filter((a) => a.agent === "supervisor").map((a) => `${a.tier}:${a.outcome}`)).toEqual(["m:one:error", "rules:ok", "m:one:ok"]);
    expect(state.decisions.map((d) => d.finish)).toEqual([false, true]);
  });

  it("marks only the task whose worker threw as failed, and the run finishes", async () => {
    const fetch = worker("fetch", (item) => {
      if (item === "b") throw new Error("b is broken");
      return item;
    });
    const { state } = await run([fetch], { items: ["a", "b"] });
    expect(state.tasks[taskKey("fetch", { item: "a" })]).toMatchObject({ status: "done", output: "a", error: null, dispatches: 1 });
    expect(state.tasks[taskKey("fetch", { item: "b" })]).toMatchObject({ status: "failed", output: null, error: "b is broken", dispatches: 2 });
    expect(state.supervisor_stop?.reason).toBe("finished");
    expect(state.halted).toBeNull();
    expect(state.reported).toBe(true);
  });

  it("runs an agent worker as an agent step: its retry is in the run's ledger", async () => {
    const model = agentTier("m:one", { double: [http(503), { value: 42 }] });
    const clock = new FakeClock();
    const double = agentWorker({ name: "double", description: "doubles n", agent: doubler, input: N });
    const { state } = await run([double], { ctx: { tiers: [model.tier], clock, agents: { supervisor: numbersRouter([21]).agent } } });
    expect(state.tasks[taskKey("double", { n: 21 })]).toMatchObject({ status: "done", output: 42 });
    expect(state.attempts.filter((a) => a.agent === "double").map((a) => `${a.tier}#${a.attempt}:${a.outcome}`)).toEqual(["m:one#1:error", "m:one#2:ok"]);
    expect(clock.slept).toHaveLength(1);
  });

  it("runs tasks of one agent worker in parallel, each on its own subgraph state", async () => {
    const double = agentWorker({ name: "double", description: "doubles n", agent: doubler, input: N });
    const { state } = await run([double], { ctx: { agents: { supervisor: numbersRouter([1, 2, 3]).agent } } });
    expect(state.decisions[0]!.dispatched).toHaveLength(3);
    expect([1, 2, 3].map((n) => state.tasks[taskKey("double", { n })]?.output)).toEqual([2, 4, 6]);
    expect(state.attempts.filter((a) => a.agent === "double")).toHaveLength(3);
  });

  it("fails the task of an agent worker that was dead-lettered, not the run", async () => {
    const broken = {
      ...doubler,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const double = agentWorker({ name: "double", description: "doubles n", agent: doubler, input: N });
    const { state } = await run([double], {
      options: { maxDispatches: 1 },
      ctx: { agents: { supervisor: numbersRouter([1]).agent, double: broken }, deadLetters: { put: async () => {} } },
    });
    expect(state.tasks[taskKey("double", { n: 1 })]).toMatchObject({ status: "failed", error: "double dead-lettered" });
    expect(state.attempts.filter((a) => a.agent === "double").map((a) => `${a.tier}:${a.error}`)).toEqual(["rules:rules crashed"]);
    expect(state.halted).toBeNull();
    expect(state.supervisor_stop?.reason).toBe("finished");
  });

  it("lets an agent worker's escalation pause the run, and the person's output complete the task", async () => {
    const broken = {
      ...doubler,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const double = agentWorker({ name: "double", description: "doubles n", agent: doubler, input: N, policy: "escalate" });
    const { graph, config } = await run([double], { ctx: { agents: { supervisor: numbersRouter([5]).agent, double: broken } } });
    const paused = await graph.getState(config, { subgraphs: true });
    expect(paused.tasks[0]!.interrupts[0]!.value).toMatchObject({ kind: "escalation", agent: "double" });
    const state = (await graph.invoke(new Command({ resume: { output: 10 } }), config)) as State;
    expect(state.tasks[taskKey("double", { n: 5 })]).toMatchObject({ status: "done", output: 10 });
    expect(state.supervisor_stop?.reason).toBe("finished");
  });

  it("does not run a finished worker again when an interrupted round resumes", async () => {
    const controller = new AbortController();
    let release: () => void = () => {};
    const fastDone = new Promise<void>((r) => (release = r));
    const fast = worker("fast", (item) => {
      release();
      return item;
    });
    // The first call hangs like a slow request until the run dies, then fails as an aborted request does.
    const slow = worker("slow", (item, call) =>
      call === 1 ? new Promise((_r, reject) => controller.signal.addEventListener("abort", () => reject(new Error("aborted")))) : item,
    );
    const graph = buildGraph([fast, slow]).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "crash" }, context: {} };
    const first = graph.invoke({ items: ["a"] }, { ...config, signal: controller.signal });
    await fastDone;
    await new Promise((r) => setTimeout(r, 20)); // let the fast worker's writes be saved
    controller.abort();
    await expect(first).rejects.toThrow();
    const state = (await graph.invoke(null, config)) as State;
    expect(fast.calls).toEqual(["a"]);
    expect(slow.calls).toEqual(["a", "a"]);
    expect(
      Object.values(state.tasks)
        .map((t) => `${t.worker}:${t.status}`)
        .sort(),
    ).toEqual(["fast:done", "slow:done"]);
    expect(state.supervisor_stop?.reason).toBe("finished");
  });
});
