// step_overhead_ratio and its breakdown, and critical_path_ratio: the real contract-review graph
// through ContractReviewRunner.review against a bare LangGraph graph (bench/bare-graph.ts), both
// in this process, on the same pool, the same PostgresSaver and the same scripted model server.
import path from "node:path";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type pg from "pg";
import type { ModelTier } from "../nodes/agent.js";
import type { Config } from "../runtime/config.js";
import { createModelTiers } from "../runtime/models/models.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { AGENTS, MODEL } from "../testing/scripted-contract.js";
import { buildBareGraph } from "./bare-graph.js";
import type { ModelServer } from "./model-server.js";
import { diff, meanOf, probePool, type ProbeSnapshot } from "./sql-probe.js";
import { BENCH_DATA_DIR, median, scriptedDocument, unionMs } from "./support.js";

export const AGENT_STEPS = AGENTS.length;

/** What a finished thread left in the checkpoint tables: rows and bytes (pg_column_size of the rows). */
export async function threadFootprint(pool: pg.Pool, threadId: string) {
  const { rows } = await pool.query<{ t: string; n: string; bytes: string }>(
    `SELECT 'checkpoints' AS t, count(*) AS n, coalesce(sum(pg_column_size(c.*)), 0) AS bytes FROM checkpoints c WHERE thread_id = $1
     UNION ALL SELECT 'checkpoint_blobs', count(*), coalesce(sum(pg_column_size(b.*)), 0) FROM checkpoint_blobs b WHERE thread_id = $1
     UNION ALL SELECT 'checkpoint_writes', count(*), coalesce(sum(pg_column_size(w.*)), 0) FROM checkpoint_writes w WHERE thread_id = $1`,
    [threadId],
  );
  const by = Object.fromEntries(rows.map((r) => [r.t, { rows: Number(r.n), bytes: Number(r.bytes) }])) as Record<
    "checkpoints" | "checkpoint_blobs" | "checkpoint_writes",
    { rows: number; bytes: number }
  >;
  return { ...by, bytes: rows.reduce((s, r) => s + Number(r.bytes), 0), rows: rows.reduce((s, r) => s + Number(r.n), 0) };
}
export type Footprint = Awaited<ReturnType<typeof threadFootprint>>;

interface Sample {
  ms: number;
  cpuMs: number;
  modelMs: number;
  sql: ProbeSnapshot;
  footprint: Footprint;
  /** opsgraph only: time inside graph.invoke, and the runner's getState calls. */
  invokeMs?: number;
  getState?: { n: number; ms: number };
}

function timedTiers(tiers: ModelTier[], intervals: [number, number][]): ModelTier[] {
  return tiers.map((t) => ({
    id: t.id,
    async invoke(call) {
      const t0 = performance.now();
      try {
        return await t.invoke(call);
      } finally {
        intervals.push([t0, performance.now()]);
      }
    },
  }));
}

/**
 * Wraps the runner's compiled graph (a private field: this is a profiler) to time graph.invoke and
 * count getState. Returns undefined when the runner's internals changed.
 */
function phaseProbe(runner: ContractReviewRunner) {
  const graph = (runner as unknown as { graph?: { invoke: (...a: unknown[]) => Promise<unknown>; getState: (...a: unknown[]) => Promise<unknown> } }).graph;
  if (!graph || typeof graph.invoke !== "function" || typeof graph.getState !== "function") return undefined;
  const acc = { invokeMs: 0, getStateN: 0, getStateMs: 0 };
  const invoke = graph.invoke.bind(graph);
  const getState = graph.getState.bind(graph);
  graph.invoke = async (...a) => {
    const t0 = performance.now();
    try {
      return await invoke(...a);
    } finally {
      acc.invokeMs += performance.now() - t0;
    }
  };
  graph.getState = async (...a) => {
    const t0 = performance.now();
    try {
      return await getState(...a);
    } finally {
      acc.getStateN++;
      acc.getStateMs += performance.now() - t0;
    }
  };
  return acc;
}

export interface OverheadResult {
  runs: number;
  /** opsgraph ÷ bare LangGraph (LangGraph's PostgresSaver). */
  ratio: number;
  /** opsgraph ÷ bare LangGraph on opsgraph's saver: the overhead of everything but the saver. */
  ratioSameSaver: number;
  bareOurSaver: Summary;
  opsgraph: Summary;
  bare: Summary;
  bareExtra: Summary;
  bareLedger: Summary;
  bareWired: Summary;
  /** opsgraph only: median time inside graph.invoke, and outside it (the runner). */
  opsgraphInvokeMs: number | null;
  opsgraphGetState: { n: number; ms: number } | null;
  /** Bytes of one thread's checkpoints + blobs + writes / agent steps (opsgraph). */
  checkpointBytesPerStep: number;
  /**
   * opsgraph − bare, split: each the median over iterations of the difference between two
   * variants run in the same iteration (paired, so drift cancels; they need not add up exactly).
   */
  split: { total: number; extraSupersteps: number; channels: number; wiring: number; restOfInvoke: number | null; runner: number | null };
}

export interface Summary {
  ms: number;
  perStepMs: number;
  cpuMs: number;
  modelMs: number;
  sql: ProbeSnapshot;
  footprint: Footprint;
}

function summarize(samples: Sample[]): Summary {
  const ms = median(samples.map((s) => s.ms));
  return {
    ms,
    perStepMs: ms / AGENT_STEPS,
    cpuMs: median(samples.map((s) => s.cpuMs)),
    modelMs: median(samples.map((s) => s.modelMs)),
    sql: meanOf(samples.map((s) => s.sql)),
    footprint: samples.at(-1)!.footprint,
  };
}

async function timed(pool: pg.Pool, probe: ReturnType<typeof probePool>, intervals: [number, number][], fn: () => Promise<string>): Promise<Sample> {
  intervals.length = 0;
  const s0 = probe.snapshot();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const thread = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const sql = diff(s0, probe.snapshot());
  const modelMs = unionMs(intervals);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, modelMs, sql, footprint: await threadFootprint(pool, thread) };
}

/**
 * `runs` runs of each side (after `warmup` unmeasured ones), interleaved so that drift hits all
 * alike: opsgraph, bare, and three ablations of bare, each adding to the one before (three extra
 * no-op nodes; the agent-step channels; the agent-step wiring). The model server answers at once.
 */
export async function measureStepOverhead(opts: {
  pool: pg.Pool;
  config: Config;
  server: ModelServer;
  runs: number;
  warmup?: number;
}): Promise<OverheadResult> {
  const { pool, config, server, runs, warmup = 3 } = opts;
  await server.setLatency(0);
  const probe = probePool(pool);
  const intervals: [number, number][] = [];
  const runner = new ContractReviewRunner({
    pool,
    tiers: timedTiers(createModelTiers(config), intervals),
    reportsDir: path.join(BENCH_DATA_DIR, "reports"),
    reviewThreshold: 60,
  });
  const phases = phaseProbe(runner);
  const modelName = MODEL.slice("openai:".length);
  const onCall = (t0: number, t1: number) => intervals.push([t0, t1]);
  // bare LangGraph checkpoints with LangGraph's own PostgresSaver; opsgraph's saver (one statement a save) is measured on bare too
  const stock = new PostgresSaver(pool);
  const bare = buildBareGraph({ pool, baseURL: config.openai.baseURL!, model: modelName, onModelCall: onCall, checkpointer: stock });
  const bareOurSaver = buildBareGraph({ pool, baseURL: config.openai.baseURL!, model: modelName, onModelCall: onCall });
  const bareExtra = buildBareGraph({ pool, baseURL: config.openai.baseURL!, model: modelName, extraNodes: 3, onModelCall: onCall, checkpointer: stock });
  const bareLedger = buildBareGraph({
    pool,
    baseURL: config.openai.baseURL!,
    model: modelName,
    extraNodes: 3,
    ledger: true,
    onModelCall: onCall,
    checkpointer: stock,
  });
  const bareWired = buildBareGraph({
    pool,
    baseURL: config.openai.baseURL!,
    model: modelName,
    extraNodes: 3,
    ledger: true,
    resilience: true,
    onModelCall: onCall,
    checkpointer: stock,
  });
  const samples = {
    opsgraph: [] as Sample[],
    bare: [] as Sample[],
    bareOurSaver: [] as Sample[],
    bareExtra: [] as Sample[],
    bareLedger: [] as Sample[],
    bareWired: [] as Sample[],
  };
  let k = 0;
  for (let i = 0; i < warmup + runs; i++) {
    const keep = i >= warmup;
    const before = phases ? { ...phases } : undefined;
    const o = await timed(pool, probe, intervals, async () => {
      const run = await runner.review({ document: scriptedDocument(), autoApprove: true });
      if (run.status !== "completed" || run.model_calls !== AGENT_STEPS)
        throw new Error(`bench: opsgraph run ended ${run.status} with ${run.model_calls} model calls: ${run.error ?? ""}`);
      return run.thread_id;
    });
    if (phases && before) {
      o.invokeMs = phases.invokeMs - before.invokeMs;
      o.getState = { n: phases.getStateN - before.getStateN, ms: phases.getStateMs - before.getStateMs };
    }
    for (const [graph, into] of [
      [bare, samples.bare],
      [bareOurSaver, samples.bareOurSaver],
      [bareExtra, samples.bareExtra],
      [bareLedger, samples.bareLedger],
      [bareWired, samples.bareWired],
    ] as const) {
      const doc = scriptedDocument();
      const s = await timed(pool, probe, intervals, async () => {
        const thread_id = `bench-bare:${doc.sha256}:${k++}`;
        const out = (await (graph as typeof bare).invoke({ text: doc.text, source: doc.source }, { configurable: { thread_id }, durability: "sync" })) as {
          summary?: unknown;
        };
        if (!out.summary) throw new Error("bench: bare graph ended without a summary");
        return thread_id;
      });
      if (keep) into.push(s);
    }
    if (keep) samples.opsgraph.push(o);
  }
  const sent = await server.takeRequests();
  const expected = (warmup + runs) * 6;
  for (const a of AGENTS) if (sent[a] !== expected) throw new Error(`bench: ${a} got ${sent[a] ?? 0} model requests, expected ${expected}`);
  const ops = summarize(samples.opsgraph);
  const b = summarize(samples.bare);
  return {
    runs,
    ratio: ops.perStepMs / b.perStepMs,
    ratioSameSaver: ops.perStepMs / summarize(samples.bareOurSaver).perStepMs,
    bareOurSaver: summarize(samples.bareOurSaver),
    opsgraph: ops,
    bare: b,
    bareExtra: summarize(samples.bareExtra),
    bareLedger: summarize(samples.bareLedger),
    bareWired: summarize(samples.bareWired),
    opsgraphInvokeMs: phases ? median(samples.opsgraph.map((s) => s.invokeMs!)) : null,
    opsgraphGetState: phases ? { n: median(samples.opsgraph.map((s) => s.getState!.n)), ms: median(samples.opsgraph.map((s) => s.getState!.ms)) } : null,
    checkpointBytesPerStep: ops.footprint.bytes / AGENT_STEPS,
    split: {
      total: paired(samples.opsgraph, samples.bare),
      extraSupersteps: paired(samples.bareExtra, samples.bare),
      channels: paired(samples.bareLedger, samples.bareExtra),
      wiring: paired(samples.bareWired, samples.bareLedger),
      restOfInvoke: phases ? median(samples.opsgraph.map((s, i) => s.invokeMs! - samples.bareWired[i]!.ms)) : null,
      runner: phases ? median(samples.opsgraph.map((s) => s.ms - s.invokeMs!)) : null,
    },
  };
}

const paired = (a: Sample[], b: Sample[]) => median(a.map((s, i) => s.ms - b[i]!.ms));

/** One run at a time at `latencyMs` a call: its latency over the critical path's model time (3 calls). */
export async function measureCriticalPath(opts: { pool: pg.Pool; config: Config; server: ModelServer; runs: number; latencyMs: number }) {
  const { pool, config, server, runs, latencyMs } = opts;
  await server.setLatency(latencyMs);
  const runner = new ContractReviewRunner({ pool, tiers: createModelTiers(config), reportsDir: path.join(BENCH_DATA_DIR, "reports"), reviewThreshold: 60 });
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const run = await runner.review({ document: scriptedDocument(), autoApprove: true });
    if (run.status !== "completed") throw new Error(`bench: run ended ${run.status}: ${run.error ?? ""}`);
    if (i > 0) times.push(performance.now() - t0); // the first warms up
  }
  await server.takeRequests();
  const criticalPathMs = 3 * latencyMs;
  return { ms: median(times), ratio: median(times) / criticalPathMs, criticalPathMs };
}
