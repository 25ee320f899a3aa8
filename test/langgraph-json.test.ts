import fs from "node:fs";
import path from "node:path";
import { CompiledStateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { stepNodes } from "../nodes/agent-step.js";

// Every entry of langgraph.json, as the langgraphjs dev server loads it: a compiled graph with
// no checkpointer or store of its own (the server injects both), whose drawing shows every
// agent step's resilience edges.

const ROOT = path.resolve(import.meta.dirname, "..");
const { graphs } = JSON.parse(fs.readFileSync(path.join(ROOT, "langgraph.json"), "utf8")) as { graphs: Record<string, string> };

// the agent steps each known flow draws; a portfolio worker's step is its node's declared
// subgraph, drawn (xray) as `<worker>_<step>`
const EXPECTED_STEPS: Record<string, string[]> = {
  contract_review: ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer"],
  portfolio_monitoring: ["supervisor", "analyse_kpis_analyse_kpis", "issue_flagger_issue_flagger"],
};

const SUFFIXES = ["_retry", "_fallback", "_escalate", "_dead_letter"];

async function load(spec: string): Promise<unknown> {
  const [file, symbol = "default"] = spec.split(":");
  const module = (await import(path.resolve(ROOT, file!))) as Record<string, unknown>;
  return module[symbol];
}

/** Nodes of a Mermaid drawing, and its edges (plain `-->` and conditional `-.->`) as "from -> to". */
function drawing(mermaid: string) {
  const nodes = new Set([...mermaid.matchAll(/^\s*([\w-]+)\(/gm)].map((m) => m[1]!));
  const edges = new Set([...mermaid.matchAll(/^\s*([\w-]+) (?:-->|-\.->) ([\w-]+);/gm)].map((m) => `${m[1]} -> ${m[2]}`));
  return { nodes, edges };
}

describe("langgraph.json", () => {
  it("registers contract_review and portfolio_monitoring", () => {
    expect(Object.keys(graphs)).toEqual(expect.arrayContaining(["contract_review", "portfolio_monitoring"]));
  });

  for (const [id, spec] of Object.entries(graphs)) {
    describe(id, () => {
      it("exports a compiled graph without a checkpointer or store of its own", async () => {
        const graph = await load(spec);
        expect(graph, spec).toBeInstanceOf(CompiledStateGraph);
        expect((graph as CompiledStateGraph<never, never>).checkpointer).toBeUndefined();
        expect((graph as CompiledStateGraph<never, never>).store).toBeUndefined();
      });

      it("draws every agent step with its retry, fallback, escalate and dead-letter edges", async () => {
        const graph = (await load(spec)) as CompiledStateGraph<never, never>;
        const { nodes, edges } = drawing((await graph.getGraphAsync({ xray: true })).drawMermaid());
        // a step is a node with any resilience node: each must have all four
        const steps = [...nodes].filter((n) => SUFFIXES.some((s) => nodes.has(`${n}${s}`)));
        expect(steps.length, `${id} draws no agent step`).toBeGreaterThan(0);
        if (EXPECTED_STEPS[id]) expect(steps.sort()).toEqual([...EXPECTED_STEPS[id]!].sort());
        for (const step of steps) {
          const n = stepNodes(step);
          for (const target of [n.retry, n.fallback, n.escalate, n.deadLetter]) expect(edges, `${id}: ${step} -> ${target}`).toContain(`${step} -> ${target}`);
          expect(edges).toContain(`${n.retry} -> ${step}`);
          expect(edges).toContain(`${n.fallback} -> ${step}`);
          // the end of the graph, or of the subgraph the step is drawn in
          expect(
            [...edges].some((e) => e.startsWith(`${n.deadLetter} -> `) && e.endsWith("__end__")),
            `${n.deadLetter} -> end`,
          ).toBe(true);
        }
      });
    });
  }
});
