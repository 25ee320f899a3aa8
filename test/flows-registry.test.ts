import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FLOW_AGENTS, FLOWS, SCHEDULABLE_FLOWS, scheduleInputOf } from "../flows/index.js";

// The registry of flows is what the CLI, the workers and the dev server read: each flow in it
// is served by langgraph.json, its agents are the ones an agent's own chain may name.

const ROOT = path.resolve(import.meta.dirname, "..");
const graphs = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, "langgraph.json"), "utf8")) as { graphs: Record<string, string> }).graphs);

describe("the registry of flows", () => {
  it("names each shipped flow once, and langgraph.json serves a graph of each", () => {
    const names = Object.values(FLOWS).map((f) => f.name);
    expect(names).toEqual(["contract-review", "portfolio-monitoring", "sourcing"]);
    for (const name of names) expect(graphs).toContain(name.replace(/-/g, "_"));
  });

  it("lists every flow's agents, each once", () => {
    expect([...FLOW_AGENTS].sort()).toEqual([
      "analyse_kpis",
      "clause_extractor",
      "company_profiler",
      "fit_analyst",
      "issue_flagger",
      "outreach_writer",
      "risk_analyst",
      "summarizer",
      "supervisor",
      "terms_analyst",
    ]);
    expect(new Set(FLOW_AGENTS).size).toBe(FLOW_AGENTS.length);
  });

  it("schedules only the flows that say how their input is read", async () => {
    expect(SCHEDULABLE_FLOWS).toEqual(["portfolio-monitoring"]);
    const reader = scheduleInputOf("portfolio-monitoring");
    expect(reader.summary(await reader.read(path.join(ROOT, "samples", "portfolio.yaml")))).toBe("20 companies");
    await expect(reader.read(path.join(ROOT, "samples", "thesis.md"))).rejects.toThrow();
  });
});
