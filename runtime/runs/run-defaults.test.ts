import { Annotation, END, START, StateGraph, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { plainSettings, withRunContext } from "./run-defaults.js";

// A graph whose one node reports the context it ran with.
function contextReporter() {
  const State = Annotation.Root({ seen: Annotation<Record<string, unknown>> });
  return new StateGraph(State)
    .addNode("report", (_s: unknown, config: LangGraphRunnableConfig) => ({ seen: { ...(config.context as Record<string, unknown>) } }))
    .addEdge(START, "report")
    .addEdge("report", END)
    .compile();
}

const tier = { id: "openai:gpt-4.1-mini", invoke: async () => ({ output: null, usage: { input_tokens: 0, output_tokens: 0 } }) };

describe("withRunContext", () => {
  it("keeps the defaults when a run passes a partial context of its own (a bound context would be replaced)", async () => {
    const bound = contextReporter().withConfig({ context: { tiers: [tier], reviewThreshold: 60 } });
    expect((await bound.invoke({}, { context: { autoApprove: true } })).seen).toEqual({ autoApprove: true });

    const graph = withRunContext(contextReporter(), (own) => ({ tiers: [tier], reviewThreshold: 60, ...plainSettings(own) }));
    const { seen } = await graph.invoke({}, { context: { autoApprove: true, reviewThreshold: 10 } });
    expect(seen).toEqual({ tiers: [tier], reviewThreshold: 10, autoApprove: true });
  });

  it("gives a run without a context the defaults, through stream and streamEvents too", async () => {
    const graph = withRunContext(contextReporter(), (_own, runId) => ({ tiers: [tier], runId }));
    const updates = [];
    for await (const u of await graph.stream({}, { streamMode: "updates" })) updates.push(u);
    expect(updates).toEqual([{ report: { seen: { tiers: [tier], runId: undefined } } }]);
    const runId = "0199a2c4-0000-7000-8000-000000000001";
    let seen: unknown;
    for await (const e of graph.streamEvents({}, { version: "v2", runId }))
      if (e.event === "on_chain_end" && e.name === "report") seen = (e.data.output as { seen: unknown }).seen;
    expect(seen).toEqual({ tiers: [tier], runId });
  });

  it("never lets a JSON context replace what the server wires (tiers, a data source)", () => {
    expect(plainSettings({ tiers: [{ id: "x" }], source: "a.csv", year: 2014, sources: { fundamentals: "a.csv" } })).toEqual({
      year: 2014,
      sources: { fundamentals: "a.csv" },
    });
  });
});
