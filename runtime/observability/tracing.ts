import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { Attempt } from "../../nodes/agent.js";
import { countModelCalls } from "../../nodes/agent-step.js";
import { InputError } from "../errors.js";
import type { RunEnded, RunObserver, TaskEvent } from "../runs/flow-runner.js";
import type { Logger } from "./log.js";
import { createLangSmithTracing, type LangSmithSettings } from "./langsmith.js";
import { OtlpExporter, type OtlpTarget } from "./otlp.js";
import { costOf, DEFAULT_PRICES, type PriceTable } from "../models/prices.js";

export type SpanKind = "run" | "node" | "attempt";
export type SpanAttributes = Record<string, string | number | boolean | null>;

/** One span of a run's trace: an invocation of its graph (`run`), a node's execution, or an agent attempt. Times in epoch ms. */
export interface Span {
  id: string;
  parent_id: string | null;
  kind: SpanKind;
  name: string;
  start_ms: number;
  end_ms: number;
  attributes: SpanAttributes;
}

/** A node's execution, as the callback handler saw it. */
export interface NodeRecord {
  id: string;
  name: string;
  start_ms: number;
  end_ms?: number;
  /** The ledger entries the node returned. */
  attempts?: Attempt[];
  error?: string;
}

const spanId = () => randomBytes(8).toString("hex");

/**
 * Times the nodes of one invocation of a graph from LangGraph's `tasks` stream (the runner's
 * TaskEvents): a task's start and end, and the ledger entries it returned. No LangChain
 * callbacks: with a handler attached, every runnable inside a node reports to it, which cost
 * more than the whole trace.
 */
export class NodeSpanCollector {
  readonly nodes = new Map<string, NodeRecord>();

  readonly listen = (e: TaskEvent) => {
    if (e.phase === "start") {
      this.nodes.set(e.id, { id: spanId(), name: e.name, start_ms: e.at });
      return;
    }
    const node = this.nodes.get(e.id);
    if (!node) return;
    node.end_ms = e.at;
    if (e.error) node.error = e.error === "GraphInterrupt" ? "interrupted" : e.error;
    const attempts = e.writes?.filter(([channel]) => channel === "attempts").flatMap(([, v]) => (Array.isArray(v) ? (v as Attempt[]) : []));
    if (attempts?.length) node.attempts = attempts;
  };
}

const attemptKey = (a: Attempt) => `${a.agent}\0${a.tier}\0${a.attempt}\0${a.outcome}\0${a.ms}`;

/**
 * The spans of one invocation: its run span, a span per node execution, and a span per
 * attempt of the ledger under the node that made it. The ledger has no start times: an
 * attempt ends where the next one of its node starts, the last at its node's end.
 */
export function buildSpans(e: RunEnded, nodes: Iterable<NodeRecord>, prices: PriceTable = DEFAULT_PRICES, chainOf?: (agent: string) => string): Span[] {
  const start = e.started_at.getTime();
  const end = start + e.duration_ms;
  const runSpan: Span = { id: spanId(), parent_id: null, kind: "run", name: e.flow, start_ms: start, end_ms: end, attributes: {} };
  const spans: Span[] = [runSpan];
  // the ledger is the truth: a node's returned attempts count only as far as the ledger has them
  const unplaced = new Map<string, number>();
  for (const a of e.attempts) unplaced.set(attemptKey(a), (unplaced.get(attemptKey(a)) ?? 0) + 1);
  const take = (a: Attempt) => {
    const n = unplaced.get(attemptKey(a)) ?? 0;
    if (n > 0) unplaced.set(attemptKey(a), n - 1);
    return n > 0;
  };
  const agents = new Set(e.attempts.map((a) => a.agent));
  const attemptSpan = (a: Attempt, parent: string, endMs: number): Span => {
    const cost = a.tokens ? costOf(a.tier, a.tokens, prices) : 0;
    return {
      id: spanId(),
      parent_id: parent,
      kind: "attempt",
      name: a.tier,
      start_ms: endMs - a.ms,
      end_ms: endMs,
      attributes: {
        agent: a.agent,
        tier: a.tier,
        attempt: a.attempt,
        outcome: a.outcome,
        error_class: a.error_class ?? null,
        http_status: a.status ?? null,
        wait_ms: a.wait_ms ?? null,
        input_tokens: a.tokens?.input_tokens ?? null,
        output_tokens: a.tokens?.output_tokens ?? null,
        cost_usd: cost || null,
      },
    };
  };
  for (const n of [...nodes].sort((a, b) => a.start_ms - b.start_ms)) {
    const nodeEnd = n.end_ms ?? end;
    const agent = agents.has(n.name) ? n.name : [...agents].find((a) => n.name.startsWith(`${a}_`));
    spans.push({
      id: n.id,
      parent_id: runSpan.id,
      kind: "node",
      name: n.name,
      start_ms: n.start_ms,
      end_ms: nodeEnd,
      // an agent's step names the chain it was configured with ("a > b > rules"): the flows' or its own
      attributes: { ...(agent ? { agent } : {}), ...(agent && chainOf ? { tiers: chainOf(agent) } : {}), ...(n.error ? { error: n.error } : {}) },
    });
    let cursor = nodeEnd;
    const mine = (n.attempts ?? []).filter(take);
    for (const a of mine.reverse()) {
      const s = attemptSpan(a, n.id, cursor);
      s.start_ms = Math.max(s.start_ms, n.start_ms);
      spans.push(s);
      cursor = s.start_ms;
    }
  }
  // attempts no node reported (no callbacks ran): under the run, ending at its end
  for (const a of e.attempts) if (take(a)) spans.push(attemptSpan(a, runSpan.id, end));
  const attemptSpans = spans.filter((s) => s.kind === "attempt");
  const sum = (k: string) => attemptSpans.reduce((t, s) => t + (Number(s.attributes[k]) || 0), 0);
  runSpan.attributes = {
    flow: e.flow,
    status: e.status,
    error: e.error,
    model_calls: countModelCalls(e.attempts),
    input_tokens: sum("input_tokens"),
    output_tokens: sum("output_tokens"),
    cost_usd: sum("cost_usd"),
  };
  return spans;
}

/** Writes an invocation's spans in one statement. */
export async function saveSpans(pool: pg.Pool, run: { run_id: string; thread_id: string }, spans: Span[]): Promise<void> {
  await pool.query(
    `INSERT INTO opsgraph_spans (span_id, parent_id, run_id, thread_id, kind, name, start_at, end_at, attributes)
     SELECT s.id, s.parent_id, $1, $2, s.kind, s.name, to_timestamp(s.start_ms / 1000.0), to_timestamp(s.end_ms / 1000.0), s.attributes
     FROM jsonb_to_recordset($3::jsonb) AS s(id text, parent_id text, kind text, name text, start_ms float8, end_ms float8, attributes jsonb)`,
    [run.run_id, run.thread_id, JSON.stringify(spans)],
  );
}

/** A run's stored trace: its row's summary and every span of every invocation, in start order. */
export interface Trace {
  run_id: string;
  thread_id: string;
  flow: string;
  status: string;
  duration_ms: number;
  model_calls: number;
  spans: Span[];
}

/** The trace of a run, by its id or a unique prefix of it; undefined when there is no such run. */
export async function loadTrace(pool: pg.Pool, runId: string): Promise<Trace | undefined> {
  const id = runId.trim().toLowerCase();
  const whole = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
  if (!whole && !/^[0-9a-f-]{4,}$/.test(id)) throw new InputError(`run ${runId}: not a run id (give the id, or at least its first 4 characters)`);
  const { rows: runs } = await pool.query<Omit<Trace, "spans">>(
    `SELECT run_id::text, thread_id, flow, status, duration_ms, model_calls FROM opsgraph_runs
     WHERE ${whole ? "run_id = $1::uuid" : "run_id::text LIKE $1 || '%'"} ORDER BY run_id LIMIT 2`,
    [id],
  );
  if (runs.length === 0) return undefined;
  if (runs.length > 1) throw new InputError(`run ${runId}: more than one run starts with this; give more of the id`);
  const run = runs[0]!;
  const { rows } = await pool.query<Span>(
    `SELECT span_id AS id, parent_id, kind, name, extract(epoch FROM start_at) * 1000 AS start_ms, extract(epoch FROM end_at) * 1000 AS end_ms, attributes
     FROM opsgraph_spans WHERE run_id = $1 ORDER BY start_at, kind DESC`,
    [run.run_id],
  );
  return { ...run, spans: rows.map((s) => ({ ...s, start_ms: Number(s.start_ms), end_ms: Number(s.end_ms) })) };
}

export interface TracingOptions {
  pool: pg.Pool;
  prices?: PriceTable;
  /** Exports each invocation's spans over OTLP/HTTP. */
  otlp?: OtlpTarget;
  /** Traces runs to LangSmith (LANGSMITH_TRACING=true). */
  langsmith?: LangSmithSettings;
  log?: Logger;
  /** An agent's configured chain, rules last (OPSGRAPH_MODELS, or its own OPSGRAPH_MODELS_<AGENT>): on its steps' spans. */
  chainOf?: (agent: string) => string;
}

export interface Tracing extends RunObserver {
  /** Waits for exports in flight (bounded), then abandons them: a dead collector never holds the process. */
  close(boundMs?: number): Promise<void>;
}

/**
 * Traces runs: a span for every invocation, node and agent attempt, stored with the run at
 * the end of each invocation (one INSERT), exported over OTLP when configured; and, when
 * on, LangSmith's tracer attached to each invocation.
 */
export function createTracing(opts: TracingOptions): Tracing {
  const { pool, prices = DEFAULT_PRICES, log } = opts;
  const collectors = new Map<string, NodeSpanCollector>();
  const otlp = opts.otlp ? new OtlpExporter(opts.otlp, (e) => log?.warn({ err: String(e) }, "OTLP export failed")) : undefined;
  const langsmith = opts.langsmith ? createLangSmithTracing(opts.langsmith) : undefined;
  return {
    tasks(run) {
      const collector = new NodeSpanCollector();
      collectors.set(run.run_id, collector); // one invocation of a run at a time: the thread's lock
      return collector.listen;
    },
    ...(langsmith ? { callbacks: (run: { flow: string; run_id: string; thread_id: string }) => [langsmith.tracer(run)] } : {}),
    async runEnded(e) {
      const collector = collectors.get(e.run_id);
      collectors.delete(e.run_id);
      const spans = buildSpans(e, collector?.nodes.values() ?? [], prices, opts.chainOf);
      await saveSpans(pool, e, spans);
      // the run's uuid is its trace id: every invocation of a run is one trace
      otlp?.export(e.run_id.replace(/-/g, ""), spans);
    },
    async close(boundMs = 2_000) {
      await Promise.all([otlp?.close(boundMs), langsmith?.close(boundMs)]);
    },
  };
}
