import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FakeClock } from "../testing/fake-clock.js";
import { withRunContext } from "../runtime/runs/run-defaults.js";
import type { Agent, Attempt, ModelTier, StructuredCall } from "./agent.js";
import { addAgentStep, AgentStepChannels, countModelCalls, type AgentStepContext, type GraphBuilder } from "./agent-step.js";
import { agentStepSupersteps, budgetOf, DEFAULT_BUDGET, recursionLimitOf } from "./budget.js";

// Budgets and limits on a chain of three agents (first → second → third), in memory, on a fake
// clock: a tier that "takes" time moves the clock on, as a call that times out would.
const Answer = z.object({ value: z.number() });
const agentNamed = (name: string): Agent<number, z.infer<typeof Answer>, number> => ({
  name,
  version: 1,
  modelOutput: Answer,
  output: z.number(),
  prompt: (n) => ({ system: "add one", user: String(n) }),
  finish: (a) => a.value,
  rules: (n) => n + 1,
});
const AGENTS = ["first", "second", "third"] as const;

const State = Annotation.Root({ n: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }), ...AgentStepChannels });
type State = typeof State.State;

function chain() {
  const graph = new StateGraph(State, { nodes: [] as string[] }); // any node name: these tests build their graphs from lists
  const g: GraphBuilder<State, string, typeof State.Update> = graph;
  g.addEdge(START, AGENTS[0]);
  AGENTS.forEach((name, i) =>
    addAgentStep(g, { name, agent: agentNamed(name), input: (s: State) => s.n, output: (n: number) => ({ n }), next: AGENTS[i + 1] ?? END }),
  );
  return graph.compile({ checkpointer: new MemorySaver() });
}

/** A tier that fails every call (as a 500 would) after `ms` of the fake clock, or answers when `ok`. */
function tier(id: string, clock: FakeClock, o: { ms?: number; ok?: boolean; usage?: number } = {}): ModelTier & { calls: number } {
  return {
    id,
    calls: 0,
    async invoke<M>(call: StructuredCall<M>) {
      this.calls++;
      clock.advance(o.ms ?? 0);
      if (!o.ok) throw Object.assign(new Error("500 from provider"), { status: 500 });
      return { output: call.schema.parse({ value: 1 }), usage: { input_tokens: o.usage ?? 10, output_tokens: 0 } };
    },
  };
}

async function run(tiers: ModelTier[], clock: FakeClock, ctx: Partial<AgentStepContext> = {}, recursionLimit?: number) {
  const config = { configurable: { thread_id: "t" }, context: { tiers, clock, ...ctx }, ...(recursionLimit ? { recursionLimit } : {}) };
  return (await chain().invoke({ n: 0 }, config)) as State;
}

const limit = (tiers: number) => recursionLimitOf({ tiers }, { agentSteps: AGENTS.length, plainSteps: 0 });
const of = (attempts: Attempt[], agent: string, tierId?: string) => attempts.filter((a) => a.agent === agent && (tierId === undefined || a.tier === tierId));
/** What a step lost to failures: failed calls and backoff waits. */
const lost = (attempts: Attempt[], agent: string) =>
  of(attempts, agent)
    .filter((a) => a.outcome !== "ok")
    .reduce((t, a) => t + a.ms + (a.wait_ms ?? 0), 0);

describe("run budgets and recursion limits", () => {
  it("a flow's derived limit lets three failing tiers end on rules, where LangGraph's default of 25 stops the run", async () => {
    const clock = new FakeClock();
    const tiers = ["m:a", "m:b", "m:c"].map((id) => tier(id, clock));
    await expect(run(tiers, clock)).rejects.toThrow(/Recursion limit of 25/);
    const state = await run(
      ["m:a", "m:b", "m:c"].map((id) => tier(id, clock)),
      new FakeClock(),
      {},
      limit(3),
    );
    expect(state.n).toBe(3);
    expect(state.produced_by).toEqual({ first: "rules", second: "rules", third: "rules" });
    // the worst case of one step: five attempts and a repair per tier, each followed by its retry or fallback node
    expect(agentStepSupersteps(3)).toBe(2 * 3 * 6 + 3);
  });

  it("one time budget per step across all tiers: failed calls and waits together, then each tier once, then rules", async () => {
    const clock = new FakeClock();
    // every call takes 3 s before failing (a timeout), on each of three tiers
    const tiers = ["m:a", "m:b", "m:c"].map((id) => tier(id, clock, { ms: 3_000 }));
    const state = await run(tiers, clock, { maxModelCalls: 1_000 }, limit(3));
    const first = of(state.attempts, "first");
    // the first step spends its budget on m:a (no wait is taken whose next call would pass it), then gives m:b and m:c one call each, with no wait
    expect(lost(state.attempts, "first")).toBeLessThanOrEqual(DEFAULT_BUDGET.stepBudgetMs + 2 * 3_000);
    expect(lost(state.attempts, "first")).toBeGreaterThan(DEFAULT_BUDGET.stepBudgetMs - 10_000);
    // every tier had its chance in this step, and its last one was given no wait it could not afford
    for (const id of ["m:a", "m:b", "m:c"]) expect(of(first, "first", id).length).toBeGreaterThanOrEqual(1);
    expect(of(first, "first", "m:c").at(-1)!.wait_ms).toBe(0);
    // the second agent: every tier was given up on by the first, so one call each, no backoff
    const second = of(state.attempts, "second").filter((a) => a.tier !== "rules");
    expect(second.map((a) => [a.tier, a.outcome, a.wait_ms])).toEqual([
      ["m:a", "error", 0],
      ["m:b", "error", 0],
      ["m:c", "error", 0],
    ]);
    // the third: two agents gave up on each tier, so none is called
    expect(of(state.attempts, "third").map((a) => [a.tier, a.outcome, a.error_class])).toEqual([
      ["m:a", "skipped", "abandoned"],
      ["m:b", "skipped", "abandoned"],
      ["m:c", "skipped", "abandoned"],
      ["rules", "ok", undefined],
    ]);
    expect(clock.now() - Date.UTC(2026, 0, 1)).toBeLessThan(DEFAULT_BUDGET.stepBudgetMs + 6 * 3_000);
  });

  it("a tier that answered another agent since it failed is retried with backoff as usual", async () => {
    const clock = new FakeClock();
    let calls = 0;
    // fails the first agent's five calls, then answers
    const flaky: ModelTier = {
      id: "m:a",
      async invoke<M>(call: StructuredCall<M>) {
        if (++calls <= 5) throw Object.assign(new Error("500"), { status: 500 });
        return { output: call.schema.parse({ value: 1 }), usage: { input_tokens: 1, output_tokens: 0 } };
      },
    };
    const state = await run([flaky], clock, {}, limit(1));
    expect(state.produced_by).toEqual({ first: "rules", second: "m:a", third: "m:a" });
  });

  it("the run's model-call budget, from its context, sends the remaining agents to rules", async () => {
    const clock = new FakeClock();
    const a = tier("m:a", clock, { ok: true });
    const state = await run([a], clock, { maxModelCalls: 2 }, limit(1));
    expect(a.calls).toBe(2);
    expect(countModelCalls(state.attempts)).toBe(2);
    expect(state.produced_by).toEqual({ first: "m:a", second: "m:a", third: "rules" });
    expect(of(state.attempts, "third")[0]).toMatchObject({
      tier: "m:a",
      outcome: "skipped",
      error_class: "budget",
      error: expect.stringMatching(/model-call budget of 2/),
    });
  });

  it("the run's cost cap, priced by the context's costOf, sends the remaining agents to rules", async () => {
    const clock = new FakeClock();
    const a = tier("m:a", clock, { ok: true, usage: 1_000_000 });
    // $1 per call; a cap of $1.5 allows two
    const state = await run([a], clock, { maxCostUsd: 1.5, costOf: (x) => (x.tokens?.input_tokens ?? 0) / 1_000_000 }, limit(1));
    expect(a.calls).toBe(2);
    expect(of(state.attempts, "third")[0]).toMatchObject({ outcome: "skipped", error_class: "budget", error: expect.stringMatching(/cost cap of \$1.5/) });
  });

  it("reads budgets from a context over the one set of defaults, ignoring what is not a positive number", () => {
    expect(budgetOf(undefined)).toEqual(DEFAULT_BUDGET);
    expect(budgetOf({ maxRounds: 3, maxModelCalls: -1, maxCostUsd: 2, stepBudgetMs: "x" as never })).toEqual({
      ...DEFAULT_BUDGET,
      maxRounds: 3,
      maxCostUsd: 2,
    });
  });

  it("a graph served to the dev server runs with its flow's limit unless the run asked for more", async () => {
    const seen: unknown[] = [];
    const graph = { stream: (_input: never, options?: never) => void seen.push((options as { recursionLimit?: number } | undefined)?.recursionLimit) };
    const served = withRunContext(
      graph,
      (own) => own,
      (ctx) => 100 + Number(ctx["maxRounds"] ?? 0),
    );
    served.stream({} as never, { context: { maxRounds: 5 } } as never);
    served.stream({} as never, { recursionLimit: 25 } as never);
    served.stream({} as never, { recursionLimit: 1_000 } as never);
    expect(seen).toEqual([105, 100, 1_000]);
  });
});
