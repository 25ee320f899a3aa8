import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidOutputError, type Agent, type ModelTier, type StructuredCall } from "./agent.js";
import { RULES_TIER, runAgentStep } from "./agent-step.js";

// A toy agent: doubles a number; the model answers { value }, rules compute it.
const Answer = z.object({ value: z.number() });
const doubler: Agent<number, z.infer<typeof Answer>, number> = {
  name: "doubler",
  version: 1,
  modelOutput: Answer,
  prompt: (n) => ({ system: "double it", user: String(n) }),
  finish: (a, n) => {
    if (a.value !== n * 2) throw new InvalidOutputError([`${a.value} is not twice ${n}`]);
    return a.value;
  },
  rules: (n) => n * 2,
};

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

describe("agent step", () => {
  it("takes the first tier's valid answer and never runs the rules", async () => {
    const t1 = scriptedTier("m:one", [{ value: 8 }]);
    const step = await runAgentStep(doubler, 4, { tiers: [t1] });
    expect(step).toMatchObject({ output: 8, tier: "m:one" });
    expect(step.attempts).toEqual([expect.objectContaining({ agent: "doubler", tier: "m:one", outcome: "ok", tokens: { input_tokens: 10, output_tokens: 2 } })]);
  });

  it("falls to the next tier when a tier fails, and to rules when every tier fails", async () => {
    const t1 = scriptedTier("m:one", [Object.assign(new Error("boom"), { status: 500 })]);
    const t2 = scriptedTier("m:two", [Object.assign(new Error("unauthorised"), { status: 401 })]);
    const step = await runAgentStep(doubler, 4, { tiers: [t1, t2] });
    expect(step).toMatchObject({ output: 8, tier: RULES_TIER });
    expect(step.attempts.map((a) => [a.tier, a.outcome])).toEqual([["m:one", "error"], ["m:two", "error"], [RULES_TIER, "ok"]]);
    expect(step.attempts[0]!.error).toBe("500 boom");
  });

  it("repairs an invalid answer once, showing the model what was wrong", async () => {
    const t1 = scriptedTier("m:one", [{ value: 7 }, { value: 8 }]);
    const step = await runAgentStep(doubler, 4, { tiers: [t1] });
    expect(step).toMatchObject({ output: 8, tier: "m:one" });
    expect(t1.calls[1]!.user).toContain("7 is not twice 4");
    expect(step.attempts.map((a) => a.outcome)).toEqual(["invalid", "ok"]);
  });

  it("moves on after one failed repair, and treats a schema violation as invalid output", async () => {
    const t1 = scriptedTier("m:one", [{ value: "eight" }, { value: 9 }]);
    const t2 = scriptedTier("m:two", [{ value: 8 }]);
    const step = await runAgentStep(doubler, 4, { tiers: [t1, t2] });
    expect(step.tier).toBe("m:two");
    expect(step.attempts.map((a) => `${a.tier}:${a.outcome}`)).toEqual(["m:one:invalid", "m:one:invalid", "m:two:ok"]);
  });

  it("runs rules alone when no model is configured", async () => {
    const step = await runAgentStep(doubler, 21, { tiers: [] });
    expect(step).toMatchObject({ output: 42, tier: RULES_TIER });
  });

  it("stops, without falling back, when the run is cancelled", async () => {
    const controller = new AbortController();
    const tier: ModelTier = {
      id: "m:slow",
      invoke: async () => {
        controller.abort(new Error("cancelled"));
        throw new Error("aborted");
      },
    };
    await expect(runAgentStep(doubler, 1, { tiers: [tier], signal: controller.signal })).rejects.toThrow("cancelled");
  });
});
