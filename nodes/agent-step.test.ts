import { Annotation, Command, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FakeClock } from "../testing/fake-clock.js";
import { InvalidOutputError, type Agent, type ModelTier, type StructuredCall } from "./agent.js";
import { abandonedBy, addAgentStep, AgentStepChannels, type AgentStepContext, type GraphBuilder } from "./agent-step.js";
import type { DeadLetterEntry } from "./dead-letter.js";
import { CircuitOpenError } from "./errors.js";

// The agent step on a one-agent graph with in-memory parts: a toy agent that doubles a number.
const Answer = z.object({ value: z.number() });
const doubler: Agent<number, z.infer<typeof Answer>, number> = {
  name: "doubler",
  version: 1,
  modelOutput: Answer,
  output: z.number(),
  prompt: (n) => ({ system: "double it", user: String(n) }),
  finish: (a, n) => {
    if (a.value !== n * 2) throw new InvalidOutputError([`${a.value} is not twice ${n}`]);
    return a.value;
  },
  rules: (n) => n * 2,
};

const State = Annotation.Root({
  n: Annotation<number>,
  doubled: Annotation<number | null>({ reducer: (_a, b) => b, default: () => null }),
  done: Annotation<boolean>({ reducer: (_a, b) => b, default: () => false }),
  ...AgentStepChannels,
});
type State = typeof State.State;

function buildGraph(policy: "escalate" | "dead_letter" = "dead_letter") {
  const graph = new StateGraph(State, { nodes: [] as string[] }); // any node name: these tests build their graphs from lists
  const g: GraphBuilder<State, string, typeof State.Update> = graph;
  g.addNode("finish", async () => ({ done: true }))
    .addEdge(START, "doubler")
    .addEdge("finish", END);
  addAgentStep(g, {
    name: "doubler",
    agent: doubler,
    input: (s: State) => s.n,
    output: (doubled) => ({ doubled }),
    next: "finish",
    policy,
    inputRef: (s: State) => ({ n: s.n }),
  });
  return graph.compile({ checkpointer: new MemorySaver() });
}

/** A tier that plays back a script: each entry an answer or an error to throw. */
function scriptedTier(id: string, script: (unknown | Error)[]): ModelTier & { calls: StructuredCall<unknown>[] } {
  const calls: StructuredCall<unknown>[] = [];
  return {
    id,
    calls,
    async invoke<M>(call: StructuredCall<M>) {
      calls.push(call as StructuredCall<unknown>);
      const next = script.shift();
      if (next === undefined) throw new Error(`${id}: script ran out`);
      if (next instanceof Error) throw next;
      return { output: call.schema.parse(next), usage: { input_tokens: 10, output_tokens: 2 } };
    },
  };
}
const http = (status: number) => Object.assign(new Error(`${status} from provider`), { status });

async function run(tiers: ModelTier[], ctx: Partial<AgentStepContext> = {}, policy?: "escalate" | "dead_letter") {
  const graph = buildGraph(policy);
  const clock = new FakeClock();
  const config = { configurable: { thread_id: "t" }, context: { tiers, clock, ...ctx } };
  const state = (await graph.invoke({ n: 4 }, config)) as State;
  return { graph, clock, config, state };
}

describe("agent step", () => {
  it("draws the ok, retry, fallback, escalate and dead-letter edges", () => {
    const mermaid = buildGraph().getGraph().drawMermaid();
    for (const edge of [
      "doubler -.-> finish",
      "doubler -.-> doubler_retry",
      "doubler -.-> doubler_fallback",
      "doubler -.-> doubler_escalate",
      "doubler -.-> doubler_dead_letter",
      "doubler_retry --> doubler",
      "doubler_fallback --> doubler",
      "doubler_dead_letter --> __end__",
    ]) {
      expect(mermaid).toContain(edge);
    }
  });

  it("takes the first tier's valid answer and never runs the rules", async () => {
    const { state } = await run([scriptedTier("m:one", [{ value: 8 }])]);
    expect(state).toMatchObject({ doubled: 8, done: true, produced_by: { doubler: "m:one" } });
    expect(state.attempts).toEqual([expect.objectContaining({ tier: "m:one", outcome: "ok", tokens: { input_tokens: 10, output_tokens: 2 } })]);
  });

  it("retries transient errors on the same tier with backoff 1 s then 2 s (plus jitter)", async () => {
    const { state, clock } = await run([scriptedTier("m:one", [http(503), http(429), { value: 8 }])]);
    expect(state.produced_by.doubler).toBe("m:one");
    expect(state.attempts.map((a) => `${a.attempt}:${a.outcome}`)).toEqual(["1:error", "2:error", "3:ok"]);
    expect(clock.slept).toHaveLength(2);
    expect(clock.slept[0]).toBeGreaterThanOrEqual(1000);
    expect(clock.slept[0]).toBeLessThanOrEqual(1200);
    expect(clock.slept[1]).toBeGreaterThanOrEqual(2000);
    expect(clock.slept[1]).toBeLessThanOrEqual(2400);
    expect(state.attempts[0]!.wait_ms).toBe(clock.slept[0]);
  });

  it("gives up on a tier after 5 attempts and falls back, having waited at most 30 s", async () => {
    const t1 = scriptedTier("m:one", [http(500), http(500), http(500), http(500), http(500)]);
    const { state, clock } = await run([t1]);
    expect(t1.calls).toHaveLength(5);
    expect(state.produced_by.doubler).toBe("rules");
    expect(clock.totalSlept).toBeLessThanOrEqual(30_000);
    expect(clock.slept).toHaveLength(4);
  });

  it("goes straight to the next tier on a non-retryable error", async () => {
    const t1 = scriptedTier("m:one", [http(401)]);
    const t2 = scriptedTier("m:two", [{ value: 8 }]);
    const { state, clock } = await run([t1, t2]);
    expect(state.produced_by.doubler).toBe("m:two");
    expect(t1.calls).toHaveLength(1);
    expect(clock.slept).toEqual([]);
  });

  it("repairs an invalid answer once, showing the model what was wrong, then falls back", async () => {
    const repaired = scriptedTier("m:one", [{ value: 7 }, { value: 8 }]);
    expect((await run([repaired])).state.produced_by.doubler).toBe("m:one");
    expect(repaired.calls[1]!.user).toContain("7 is not twice 4");

    const stubborn = scriptedTier("m:one", [{ value: 7 }, { value: "eight" }]);
    const { state } = await run([stubborn]);
    expect(state.produced_by.doubler).toBe("rules");
    expect(state.attempts.map((a) => `${a.tier}:${a.outcome}`)).toEqual(["m:one:invalid", "m:one:invalid", "rules:ok"]);
  });

  it("skips a tier whose breaker is open without calling it", async () => {
    const open: ModelTier = {
      id: "m:open",
      invoke: async () => {
        throw new CircuitOpenError("m:open");
      },
    };
    const { state, clock } = await run([open]);
    expect(state.attempts.map((a) => `${a.tier}:${a.outcome}`)).toEqual(["m:open:skipped", "rules:ok"]);
    expect(clock.slept).toEqual([]);
  });

  it("dead-letters the step when every tier failed, with the whole error chain, and ends the run", async () => {
    const letters: DeadLetterEntry[] = [];
    const broken = {
      ...doubler,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const { state } = await run([scriptedTier("m:one", [http(401)])], {
      agents: { doubler: broken },
      deadLetters: { put: async (e) => void letters.push(e) },
      runId: "r1",
      flow: "toy",
    });
    expect(state.halted).toMatchObject({ reason: "dead_lettered", agent: "doubler" });
    expect(state.done).toBe(false);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ run_id: "r1", thread_id: "t", flow: "toy", node: "doubler", agent: "doubler", input_ref: { n: 4 } });
    expect(letters[0]!.errors.map((a) => `${a.tier}:${a.error}`)).toEqual(["m:one:401 from provider", "rules:rules crashed"]);
  });

  it("escalates to a person when every tier failed: the person's output goes on, marked as theirs", async () => {
    const broken = {
      ...doubler,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const { graph, config } = await run([], { agents: { doubler: broken } }, "escalate");
    const paused = await graph.getState(config);
    expect(paused.tasks[0]!.interrupts[0]!.value).toMatchObject({ kind: "escalation", agent: "doubler" });
    await graph.invoke(new Command({ resume: { output: "eight" } }), config);
    const askedAgain = await graph.getState(config);
    expect(askedAgain.tasks[0]!.interrupts[0]!.value).toMatchObject({
      kind: "escalation",
      problem: expect.stringContaining("does not match doubler's schema"),
    });
    const state = (await graph.invoke(new Command({ resume: { output: 8 } }), config)) as State;
    expect(state).toMatchObject({ doubled: 8, done: true, produced_by: { doubler: "person" } });
  });

  it("ends the run when the person rejects it at the escalation", async () => {
    const broken = {
      ...doubler,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const { graph, config } = await run([], { agents: { doubler: broken } }, "escalate");
    const state = (await graph.invoke(new Command({ resume: { reject: true, note: "not worth it" } }), config)) as State;
    expect(state.halted).toEqual({ reason: "rejected", agent: "doubler", note: "not worth it" });
    expect(state.done).toBe(false);
  });
});

describe("agent step with the run's tier order", () => {
  it("tries the tiers in the order the run's context gives for this agent", async () => {
    const one = scriptedTier("m:one", [{ value: 8 }]);
    const two = scriptedTier("m:two", [{ value: 8 }]);
    const { state } = await run([one, two], { tierOrder: { doubler: ["m:two", "m:one", "rules"] } });
    expect(state.produced_by.doubler).toBe("m:two");
    expect(one.calls).toHaveLength(0);
    expect(state.steps.doubler!.order).toEqual(["m:two", "m:one", "rules"]);
  });

  it("keeps the configured order for an agent the tier order does not name, and records no order", async () => {
    const one = scriptedTier("m:one", [{ value: 8 }]);
    const { state } = await run([one, scriptedTier("m:two", [])], { tierOrder: { someone_else: ["m:two", "m:one"] } });
    expect(state.produced_by.doubler).toBe("m:one");
    expect(state.steps.doubler!.order).toBeUndefined();
  });

  it("goes on in the order the step started with when the run's order changes mid-step (a resume with new stats)", async () => {
    const graph = new StateGraph(State, { nodes: [] as string[] }); // any node name: these tests build their graphs from lists
    const g: GraphBuilder<State, string, typeof State.Update> = graph;
    g.addNode("finish", async () => ({ done: true }))
      .addEdge(START, "doubler")
      .addEdge("finish", END);
    addAgentStep(g, { name: "doubler", agent: doubler, input: (s: State) => s.n, output: (doubled) => ({ doubled }), next: "finish" });
    const compiled = graph.compile({ checkpointer: new MemorySaver(), interruptBefore: ["doubler_fallback" as never] });
    const one = scriptedTier("m:one", [{ value: 8 }]);
    const two = scriptedTier("m:two", [http(401)]);
    const three = scriptedTier("m:three", [{ value: 8 }]);
    const clock = new FakeClock();
    const config = (order: string[]) => ({ configurable: { thread_id: "t" }, context: { tiers: [one, two, three], clock, tierOrder: { doubler: order } } });
    await compiled.invoke({ n: 4 }, config(["m:two", "m:three", "m:one"]));
    // paused before falling back from m:two; the run resumes with an order that would put m:one second
    const state = (await compiled.invoke(null, config(["m:one", "m:two", "m:three"]))) as State;
    expect(state.attempts.map((a) => `${a.tier}:${a.outcome}`)).toEqual(["m:two:error", "m:three:ok"]);
    expect(one.calls).toHaveLength(0);
  });

  it("counts another agent as having given up on a tier by its own order's index of it", () => {
    const failed = { agent: "other", tier: "m:one", attempt: 1, outcome: "error" as const, error_class: "transient", ms: 5 };
    // the other agent tried m:one second (index 1) and is now on its third tier: it gave up on m:one
    const cursor = { tier: 2, attempt: 1, waited_ms: 0, repaired: false, route: "call" as const, wait_ms: 0, repair_note: null };
    const state = { steps: { other: { ...cursor, order: ["m:two", "m:one", "m:three"] } }, attempts: [failed], produced_by: {}, halted: null };
    expect(abandonedBy(state, "doubler", 2, "m:one")).toBe(1);
    // the other agent is on m:one's index (1) of its own order: still trying it, not given up
    expect(abandonedBy({ ...state, steps: { other: { ...cursor, tier: 1, order: ["m:two", "m:one", "m:three"] } } }, "doubler", 0, "m:one")).toBe(0);
  });
});
