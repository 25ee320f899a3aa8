import type { Command } from "commander";
import type { App } from "../app/app.js";
import { InputError } from "../runtime/errors.js";
import { loadTrace, type Span, type Trace } from "../runtime/observability/tracing.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

/** A line of the printed tree and the lines under it. */
interface Line {
  text: string;
  ms?: number;
  children: Line[];
}

const ms = (x: number) => `${Math.round(x)} ms`;
const usd = (x: number) => (x ? `$${x < 0.01 ? x.toFixed(4) : x.toFixed(3)}` : "$0");
const num = (v: unknown) => Number(v) || 0;
const duration = (s: Span) => s.end_ms - s.start_ms;

function outcomeLabel(a: Span): string {
  const { outcome, http_status, error_class } = a.attributes;
  if (outcome === "ok") return "ok";
  if (outcome === "skipped") return "breaker open";
  if (http_status) return String(http_status);
  return String(error_class ?? outcome);
}

function attemptLine(a: Span): Line {
  const at = a.attributes;
  const tokens = at.input_tokens !== null && at.input_tokens !== undefined ? `  ${num(at.input_tokens)}+${num(at.output_tokens)} tokens` : "";
  const wait = num(at.wait_ms) ? `, then waited ${ms(num(at.wait_ms))}` : "";
  const cost = num(at.cost_usd) ? `  ${usd(num(at.cost_usd))}` : "";
  return {
    text: `attempt ${num(at.attempt)} ${a.name} ${ms(duration(a))}  ${outcomeLabel(a)}${at.error_class && at.outcome !== "ok" ? ` ${String(at.error_class)}` : ""}${wait}${tokens}${cost}`,
    children: [],
  };
}

/** The nodes of one invocation, an agent step's nodes (attempt, retry, fallback...) grouped into one line with its attempts under it. */
function stepLines(nodes: Span[], childrenOf: Map<string, Span[]>): Line[] {
  const steps = new Map<string, Span[]>();
  for (const n of nodes) {
    const key = typeof n.attributes.agent === "string" ? n.attributes.agent : `node:${n.id}`;
    steps.set(key, [...(steps.get(key) ?? []), n]);
  }
  return [...steps.entries()].map(([key, group]) => {
    const start = Math.min(...group.map((n) => n.start_ms));
    const took = Math.max(...group.map((n) => n.end_ms)) - start;
    if (key.startsWith("node:"))
      return { text: `${group[0]!.name} ${ms(took)}${group[0]!.attributes.error ? `  ${String(group[0]!.attributes.error)}` : ""}`, ms: took, children: [] };
    // the agent's own executions show as their attempts; its other nodes (retry waits, fallback...) as themselves
    const parts = group.flatMap((n) => (n.name === key ? (childrenOf.get(n.id) ?? []) : [n])).sort((a, b) => a.start_ms - b.start_ms);
    const attempts = parts.filter((p) => p.kind === "attempt");
    const tiers = [...new Set(attempts.map((a) => a.name))].join(", ");
    const tokens = attempts.reduce((t, a) => t + num(a.attributes.input_tokens) + num(a.attributes.output_tokens), 0);
    const cost = attempts.reduce((t, a) => t + num(a.attributes.cost_usd), 0);
    const summary = [
      tiers,
      `${attempts.length} attempt${attempts.length === 1 ? "" : "s"} (${attempts.map(outcomeLabel).join(", ")})`,
      tokens ? `${tokens} tokens` : "",
      cost ? usd(cost) : "",
    ]
      .filter(Boolean)
      .join("  ");
    return {
      text: `${key} ${ms(took)}  ${summary}`,
      ms: took,
      children: parts.map((p) => (p.kind === "attempt" ? attemptLine(p) : { text: `${p.name} ${ms(duration(p))}`, children: [] })),
    };
  });
}

function render(lines: Line[], prefix: string, out: string[], slowest: Line | undefined) {
  lines.forEach((l, i) => {
    const last = i === lines.length - 1;
    out.push(`${prefix}${last ? "└─ " : "├─ "}${l.text}${l === slowest ? "   ← slowest" : ""}`);
    render(l.children, prefix + (last ? "   " : "│  "), out, slowest);
  });
}

/** Totals over the run's invocations. */
export function traceTotals(t: Trace) {
  const runs = t.spans.filter((s) => s.kind === "run");
  const total = (k: string) => runs.reduce((n, s) => n + num(s.attributes[k]), 0);
  return { input_tokens: total("input_tokens"), output_tokens: total("output_tokens"), cost_usd: total("cost_usd") };
}

/** The run's trace as a tree: one line per step with its duration, tiers, attempts, tokens and cost; the slowest step marked. */
export function formatTrace(t: Trace): string {
  const childrenOf = new Map<string, Span[]>();
  for (const s of t.spans) if (s.parent_id) childrenOf.set(s.parent_id, [...(childrenOf.get(s.parent_id) ?? []), s]);
  const runs = t.spans.filter((s) => s.kind === "run");
  const nodesOf = (run: Span) => (childrenOf.get(run.id) ?? []).filter((s) => s.kind === "node");
  // attempts no node reported sit directly under their run
  const looseAttempts = (run: Span) => (childrenOf.get(run.id) ?? []).filter((s) => s.kind === "attempt").map(attemptLine);
  let top: Line[];
  if (runs.length === 1) top = [...stepLines(nodesOf(runs[0]!), childrenOf), ...looseAttempts(runs[0]!)];
  else
    top = runs.map((r, i) => ({
      text: `invocation ${i + 1} ${ms(duration(r))}  ${String(r.attributes.status)}`,
      children: [...stepLines(nodesOf(r), childrenOf), ...looseAttempts(r)],
    }));
  const steps = runs.length === 1 ? top : top.flatMap((l) => l.children);
  const slowest = steps.filter((l) => l.ms !== undefined).reduce<Line | undefined>((a, b) => (!a || b.ms! > a.ms! ? b : a), undefined);
  const totals = traceTotals(t);
  const tokens = totals.input_tokens + totals.output_tokens;
  const head = `run ${t.run_id.slice(0, 8)} (${t.flow}, ${t.status}) ${(t.duration_ms / 1000).toFixed(1)} s, ${t.model_calls} model call${t.model_calls === 1 ? "" : "s"}${tokens ? `, ${tokens} tokens` : ""}, ${usd(totals.cost_usd)}`;
  const out = [head];
  if (runs.length === 0) out.push("└─ (no spans recorded for this run)");
  render(top, "", out, slowest);
  return out.join("\n");
}

/** `opsgraph trace <run_id> [--json]`. */
export function addTraceCommand(program: Command, withApp: WithApp) {
  program
    .command("trace")
    .description("Show a run's trace: every node and agent attempt with durations, tiers, retries, tokens and cost; the slowest step marked")
    .argument("<run_id>", "the run (or a unique prefix of its id)")
    .option("--json", "print { run_id, flow, status, ..., spans: [...] } as one JSON object", false)
    .action(async (runId: string, opts: { json: boolean }) => {
      const trace = await withApp((app) => loadTrace(app.db.pool, runId));
      if (!trace) throw new InputError(`run ${runId}: no such run`);
      process.stdout.write(opts.json ? JSON.stringify({ ...trace, ...traceTotals(trace) }) + "\n" : formatTrace(trace) + "\n");
    });
}
