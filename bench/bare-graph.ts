// The baseline of step_overhead_ratio: a bare LangGraph StateGraph with contract review's four
// agents as four plain nodes, in the same shape (clause_extractor → risk_analyst ‖ terms_analyst
// → summarizer), compiled with a PostgresSaver (the bench gives LangGraph's own; the default is
// opsgraph's, runtime/db/checkpointer.ts) and invoked with `durability: "sync"`. Each node does the
// agent's own work as a plain LangGraph user writes it: `agent.prompt(input)`, the same HTTP
// request as opsgraph's tier (same model options, `withStructuredOutput(agent.modelOutput, { name,
// method: "jsonSchema", includeRaw: true })`, same messages), `modelOutput.parse`, `agent.finish`. What it does not
// have is what opsgraph adds: no Store (the text is in state), no tiers, breakers, timeouts,
// attempt ledger, step cursors or resilience edges, no ingest/decide/report nodes, no run row,
// thread lock or getState.
//
// The options add back, one at a time, parts of what opsgraph's graph has, with no work in
// them, so that the difference can be split (ablations): three more supersteps, the agent-step
// channels, and the agent-step wiring (four never-taken resilience nodes per agent and the
// conditional edges to them, the join as a deferred node).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI } from "@langchain/openai";
import type pg from "pg";
import { clauseExtractor, type ClauseExtraction } from "../flows/contract-review/agents/clause-extractor.js";
import { DEFAULT_PLAYBOOK } from "../flows/contract-review/agents/playbook.js";
import { riskAnalyst, type RiskReport } from "../flows/contract-review/agents/risk-analyst.js";
import { summarizer, type Summary } from "../flows/contract-review/agents/summarizer.js";
import { termsAnalyst, type TermsReport } from "../flows/contract-review/agents/terms-analyst.js";
import type { Agent } from "../nodes/agent.js";
import { AgentStepChannels, freshCursor, stepNodes } from "../nodes/agent-step.js";
import { createCheckpointer } from "../runtime/db/checkpointer.js";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";

const BareState = Annotation.Root({
  text: Annotation<string>,
  source: Annotation<string>,
  clauses: Annotation<ClauseExtraction | null>,
  risks: Annotation<RiskReport | null>,
  terms: Annotation<TermsReport | null>,
  summary: Annotation<Summary | null>,
  noop: Annotation<number>,
});
/** The ablation with opsgraph's agent-step channels: the same state plus steps, attempts, produced_by, halted. */
const LedgerState = Annotation.Root({ ...BareState.spec, ...AgentStepChannels });
type S = typeof BareState.State;
type NodeFn = (s: S) => Promise<Partial<S>>;

export interface BareGraphOptions {
  pool: pg.Pool;
  baseURL: string;
  model: string;
  /** Ablation: this many extra no-op nodes (each its own superstep and checkpoint), before and after the agents, as ingest, decide and report are in opsgraph. */
  extraNodes?: number;
  /** Ablation: the state also has opsgraph's agent-step channels, and each agent node writes its cursor, its attempt and its tier to them, as an agent step does. */
  ledger?: boolean;
  /** Ablation: each agent is wired as `addAgentStep` wires it (nodes/agent-step.ts): conditional edges to its next nodes and to four no-op resilience nodes (retry, fallback, escalate, dead letter) that are never taken; the join is a deferred node. */
  resilience?: boolean;
  /** Told the start and end (performance.now()) of every model call. */
  onModelCall?: (t0: number, t1: number) => void;
  /** Default: the runtime's (createCheckpointer). */
  checkpointer?: BaseCheckpointSaver;
}

export function buildBareGraph({
  pool,
  baseURL,
  model,
  extraNodes = 0,
  ledger = false,
  resilience = false,
  onModelCall,
  checkpointer = createCheckpointer(pool),
}: BareGraphOptions) {
  const chat = new ChatOpenAI({ model, apiKey: "sk-bench", maxRetries: 0, temperature: 0, configuration: { baseURL, logLevel: "off" } });
  const node = <I, M, O>(agent: Agent<I, M, O>, input: (s: S) => I, output: (o: O) => Partial<S>): NodeFn => {
    const structured = chat.withStructuredOutput(agent.modelOutput as never, { name: agent.name, method: "jsonSchema", includeRaw: true });
    return async (s) => {
      const i = input(s);
      const { system, user } = agent.prompt(i);
      const t0 = performance.now();
      const { parsed } = (await structured.invoke([
        { role: "system", content: system },
        { role: "user", content: user },
      ])) as { parsed: unknown };
      const t1 = performance.now();
      onModelCall?.(t0, t1);
      const out = output(agent.finish(agent.modelOutput.parse(parsed), i));
      if (!ledger) return out;
      return {
        ...out,
        steps: { [agent.name]: { ...freshCursor(), route: "ok" } },
        attempts: [{ agent: agent.name, tier: `openai:${model}`, attempt: 1, outcome: "ok", ms: t1 - t0, tokens: { input_tokens: 0, output_tokens: 0 } }],
        produced_by: { [agent.name]: `openai:${model}` },
      } as Partial<S>;
    };
  };
  const before = Math.ceil(extraNodes / 3);
  const pre = Array.from({ length: before }, (_, i) => `pre_${i}`);
  const post = Array.from({ length: extraNodes - before }, (_, i) => `post_${i}`);
  const agents: { name: string; fn: NodeFn; next: string[] }[] = [
    {
      name: "clause_extractor",
      fn: node(
        clauseExtractor,
        (s) => ({ text: s.text, start: 0, end: s.text.length }),
        (clauses) => ({ clauses }),
      ),
      next: ["risk_analyst", "terms_analyst"],
    },
    {
      name: "risk_analyst",
      fn: node(
        riskAnalyst,
        (s) => ({ clauses: s.clauses!, playbook: DEFAULT_PLAYBOOK }),
        (risks) => ({ risks }),
      ),
      next: ["summarizer"],
    },
    {
      name: "terms_analyst",
      fn: node(
        termsAnalyst,
        (s) => ({ text: s.text, clauses: s.clauses! }),
        (terms) => ({ terms }),
      ),
      next: ["summarizer"],
    },
    {
      name: "summarizer",
      fn: node(
        summarizer,
        (s) => ({ source: s.source, clauses: s.clauses!, risks: s.risks!, terms: s.terms! }),
        (summary) => ({ summary }),
      ),
      next: [post[0] ?? END],
    },
  ];

  const g = new StateGraph(ledger ? (LedgerState as unknown as typeof BareState) : BareState);
  const b = g as unknown as {
    addNode(n: string, f: NodeFn, o?: { defer?: boolean }): void;
    addEdge(from: string | string[], to: string): void;
    addConditionalEdges(from: string, path: () => string | string[], ends: string[]): void;
  };
  const noop: NodeFn = async (s) => ({ noop: (s.noop ?? 0) + 1 });
  // before the agents: START → pre_0 → … → clause_extractor; after: summarizer → post_0 → … → END
  let at: string = START;
  for (const n of pre) {
    b.addNode(n, noop);
    b.addEdge(at, n);
    at = n;
  }
  b.addEdge(at, "clause_extractor");
  post.forEach((n, i) => {
    b.addNode(n, noop);
    b.addEdge(n, post[i + 1] ?? END);
  });

  if (!resilience) {
    for (const a of agents) b.addNode(a.name, a.fn);
    b.addEdge("clause_extractor", "risk_analyst");
    b.addEdge("clause_extractor", "terms_analyst");
    b.addEdge(["risk_analyst", "terms_analyst"], "summarizer");
    b.addEdge("summarizer", agents[3]!.next[0]!);
  } else {
    for (const a of agents) {
      const n = stepNodes(a.name);
      const route = a.next.length === 1 ? a.next[0]! : a.next;
      b.addNode(a.name, a.fn, a.name === "summarizer" ? { defer: true } : undefined);
      for (const r of [n.retry, n.fallback, n.escalate, n.deadLetter]) b.addNode(r, async () => ({}));
      b.addConditionalEdges(a.name, () => route, [...a.next, n.retry, n.fallback, n.escalate, n.deadLetter, END]);
      b.addEdge(n.retry, a.name);
      b.addEdge(n.fallback, a.name);
      b.addConditionalEdges(n.escalate, () => route, [...a.next, END]);
      b.addEdge(n.deadLetter, END);
    }
  }
  return g.compile({ checkpointer });
}
