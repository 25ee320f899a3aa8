// `npm run bench`: durable contract-review runs on the bench's own embedded PostgreSQL
// (.opsgraph/bench; DATABASE_URL when set), the model being testing/scripted-openai.ts in a child
// process (bench/model-server-main.ts) with the scripted answers of testing/scripted-contract.ts.
// Over 300 lines: one benchmark whose measures (per-run latency, checkpoint size, runs per minute, the longest contract) share one database and one model server.
// Prints one table, or with --json one object.
//
//   npm run bench -- [--json] [--data DIR] [--repeat N] [--runs N] [--overhead-runs N]
//                    [--latency-ms MS] [--pg-clients N] [--pg-seconds S]
//
// What each figure is and how it is measured: bench/README.md.
import { createHash } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { extractClausesByRules } from "../flows/contract-review/agents/clause-rules.js";
import { loadCuadSplit } from "../evals/cuad.js";
import { openApp } from "../app/app.js";
import { createModelTiers } from "../runtime/models/models.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { startModelServer } from "./model-server.js";
import { AGENT_STEPS, measureCriticalPath, measureStepOverhead, threadFootprint, type Summary } from "./overhead.js";
import { connectionOf, measurePostgresCeiling } from "./postgres-ceiling.js";
import { cores, startLoadMeter } from "./procs.js";
import { totalOf, type ProbeSnapshot } from "./sql-probe.js";
import { BENCH_DATA_DIR, benchConfig, median } from "./support.js";
import { clearQueue, measureMemory, measureQueuedLatency, measureThroughput, measureWritesPerRun, type ThroughputResult } from "./throughput.js";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "../shared/datasets/cuad/dev" },
    repeat: { type: "string", default: "5" },
    runs: { type: "string", default: "80" },
    "overhead-runs": { type: "string", default: "60" },
    "latency-ms": { type: "string", default: "200" },
    "pg-clients": { type: "string", default: "16" },
    "pg-seconds": { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const num = (k: keyof typeof values) => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${k}: must be a whole number of at least 1`);
  return n;
};
const repeat = num("repeat");
const runsPerMeasurement = num("runs");
const overheadRuns = num("overhead-runs");
const latencyMs = num("latency-ms");
const WORKERS = [1, 2, 4];
const WORKER_CONCURRENCY = 8;
const MEMORY_RUNS = 100;
const MEMORY_POOL = 150;

const rows: [string, string][] = [];
const section = (title: string) => rows.push([`— ${title}`, ""]);
const row = (k: string, v: string) => rows.push([k, v]);
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const signed = (x: number) => `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(1)}`;
const started = performance.now();
/** Says how much of the machine other processes used meanwhile, when it is enough to skew a figure. */
const loadNote = (l: { otherShare: number } | undefined) =>
  l && l.otherShare >= 0.05 ? `  [other processes used ${(l.otherShare * 100).toFixed(0)}% of the CPU meanwhile]` : "";

const server = await startModelServer(0);
const config = benchConfig(server.url);
// the one app of this process: a second Database opened and closed in the same process would
// unregister this process from the embedded server's keeper (its pg-clients/<pid> file is per process)
const app = await openApp(config, { queue: true, concurrency: WORKER_CONCURRENCY });
const pool = app.db.pool;
const out: Record<string, unknown> = { database: app.db.where, cores: cores() };
try {
  await clearQueue(pool);

  // ---- the rules tier on the longest CUAD dev contract, the clause rules, the breaker
  progress("rules tier on CUAD");
  const contracts = await loadCuadSplit(values.data!);
  const longest = contracts.reduce((a, b) => (b.text.length > a.text.length ? b : a));
  const rules = new ContractReviewRunner({ pool, tiers: [], reportsDir: path.join(BENCH_DATA_DIR, "reports"), reviewThreshold: 60 });
  const times: number[] = [];
  let bytes = 0;
  let rulesFootprint = 0;
  for (let i = 0; i < repeat; i++) {
    const text = longest.text;
    const document = {
      text,
      source: `${longest.id}.txt`,
      path: longest.id,
      bytes: Buffer.byteLength(text),
      sha256: createHash("sha256").update(text).digest("hex"),
      format: "txt" as const,
    };
    const t0 = performance.now();
    const run = await rules.review({ document, requestId: `bench-${Date.now()}-${i}`, autoApprove: true });
    times.push(performance.now() - t0);
    if (run.status !== "completed") throw new Error(`bench run ended ${run.status}: ${run.error ?? ""}`);
    bytes = await rules.checkpointBytes(run.thread_id);
    rulesFootprint = (await threadFootprint(pool, run.thread_id)).bytes;
  }
  const t0 = performance.now();
  for (const c of contracts) extractClausesByRules(c.text);
  const all = performance.now() - t0;
  const chars = contracts.reduce((n, c) => n + c.text.length, 0);
  const [tier] = createModelTiers({
    modelTiers: [{ provider: "openai", model: "bench", id: "openai:bench" }],
    openai: { apiKey: "x", baseURL: "http://127.0.0.1:1/v1", structuredOutput: "jsonSchema" },
    modelTimeoutMs: 1000,
  });
  for (let i = 0; i < 5; i++) tier!.breaker.failure();
  const skips = 10_000;
  const s0 = performance.now();
  for (let i = 0; i < skips; i++) await tier!.invoke({ agent: "bench", schema: z.object({}), system: "", user: "" }).catch(() => undefined);
  const refusalUs = ((performance.now() - s0) / skips) * 1000;
  section("rules tier (no model)");
  row(`rules-tier review of ${longest.id} (${longest.text.length.toLocaleString("en")} chars), PostgreSQL, median of ${repeat}`, `${f0(median(times))} ms`);
  row("latest checkpoint of that run (with its blobs)", `${f1(bytes / 1024)} KiB`);
  row("all its checkpoints + blobs + writes", `${f1(rulesFootprint / 1024)} KiB (${f0(rulesFootprint / AGENT_STEPS)} B per agent step)`);
  row(`clause rules over ${contracts.length} contracts (${(chars / 1e6).toFixed(2)} M chars)`, `${f0(all)} ms (${f1(chars / 1e6 / (all / 1000))} M chars/s)`);
  row(`open breaker refusing a call (mean of ${skips.toLocaleString("en")})`, `${f1(refusalUs)} µs`);
  Object.assign(out, {
    rules_review_ms: median(times),
    rules_checkpoint_kib: bytes / 1024,
    rules_thread_bytes: rulesFootprint,
    clause_rules_mchars_per_s: chars / 1e6 / (all / 1000),
    breaker_refusal_us: refusalUs,
  });

  // ---- step overhead: opsgraph against a bare LangGraph graph, zero model latency
  progress(`step overhead (${overheadRuns} runs a side)`);
  const ovLoad = startLoadMeter(BENCH_DATA_DIR, () => [server.pid]);
  const ov = await measureStepOverhead({ pool, config, server, runs: overheadRuns });
  const ovOther = ovLoad();
  const sqlOf = (s: Summary) => totalOf(s.sql);
  const cat = (s: ProbeSnapshot, ...names: string[]) =>
    names.reduce((t, n) => ({ n: t.n + (s.byCategory[n]?.n ?? 0), ms: t.ms + (s.byCategory[n]?.ms ?? 0) }), { n: 0, ms: 0 });
  const o = ov.opsgraph;
  const invokeMs = ov.opsgraphInvokeMs;
  const gs = ov.opsgraphGetState;
  section(`step overhead: one run at a time, the model answering at once, median of ${overheadRuns} runs each (bench/README.md: what each side does)`);
  row("step_overhead_ratio (ms per agent step, opsgraph / bare LangGraph)", `${f2(ov.ratio)}  (target ≤ 1.3)${loadNote(ovOther)}`);
  row("  opsgraph / bare on opsgraph's saver (all but the saver)", `${f2(ov.ratioSameSaver)} (bare on opsgraph's saver: ${f1(ov.bareOurSaver.ms)} ms/run)`);
  row(
    `opsgraph: ContractReviewRunner.review, ${AGENT_STEPS} agent steps`,
    `${f1(o.ms)} ms/run = ${f1(o.perStepMs)} ms/step; CPU ${f1(o.cpuMs)} ms; model calls ${f1(o.modelMs)} ms`,
  );
  row(
    `bare: ${AGENT_STEPS}-node StateGraph, LangGraph's PostgresSaver, sync`,
    `${f1(ov.bare.ms)} ms/run = ${f1(ov.bare.perStepMs)} ms/step; CPU ${f1(ov.bare.cpuMs)} ms; model calls ${f1(ov.bare.modelMs)} ms`,
  );
  const sp = ov.split;
  row("  opsgraph − bare, split by ablation (paired medians):", `${signed(sp.total)} ms/run`);
  row("  3 more supersteps (ingest, decide, report as no-ops)", `${signed(sp.extraSupersteps)} ms`);
  row("  agent-step channels (steps, attempts, produced_by)", `${signed(sp.channels)} ms`);
  row("  agent-step wiring (16 never-taken resilience nodes, edges)", `${signed(sp.wiring)} ms`);
  if (sp.restOfInvoke !== null) {
    row("  rest of graph.invoke (Store, report + outbox, tiers, real work)", `${signed(sp.restOfInvoke)} ms (graph.invoke ${f1(invokeMs!)} ms in all)`);
    row("  runner outside graph.invoke", `${signed(sp.runner!)} ms (${gs!.n} getState ${f1(gs!.ms)} ms, run rows, thread lock, document put)`);
  }
  const stmt = (s: Summary) => `${f0(sqlOf(s).n)} statements (${f1(sqlOf(s).ms)} ms), ${f0(s.sql.commits)} commits`;
  row("  SQL per run: opsgraph", stmt(o));
  row("  SQL per run: bare", stmt(ov.bare));
  const cp = (s: Summary) => cat(s.sql, "checkpoint_put", "checkpoint_blob_put", "checkpoint_writes_put", "begin_commit");
  row(
    "  checkpoint saving (put, blobs, writes, BEGIN/COMMIT)",
    `opsgraph ${f0(cp(o).n)} statements (${f1(cp(o).ms)} ms), bare ${f0(cp(ov.bare).n)} (${f1(cp(ov.bare).ms)} ms)`,
  );
  const other = (names: string[], label: string) => {
    const c = cat(o.sql, ...names);
    if (c.n > 0) row(`  opsgraph ${label}`, `${f1(c.n)} statements, ${f1(c.ms)} ms`);
  };
  other(["checkpoint_read"], "checkpoint reads (getState)");
  other(["store_read", "store_write"], "Store reads and writes");
  other(["run_row", "thread_lock"], "run row and thread lock");
  other(["outbox"], "outbox (report, notification)");
  row("  checkpoints per thread: opsgraph / bare", `${o.footprint.checkpoints.rows} / ${ov.bare.footprint.checkpoints.rows}`);
  out.step_overhead_ratio = ov.ratio;
  out.step_overhead_ratio_same_saver = ov.ratioSameSaver;
  out.step_overhead = {
    runs: overheadRuns,
    opsgraph: {
      ms: o.ms,
      per_step_ms: o.perStepMs,
      cpu_ms: o.cpuMs,
      model_ms: o.modelMs,
      graph_invoke_ms: invokeMs,
      get_state: gs,
      sql: o.sql,
      checkpoints: o.footprint.checkpoints.rows,
    },
    bare: {
      ms: ov.bare.ms,
      per_step_ms: ov.bare.perStepMs,
      cpu_ms: ov.bare.cpuMs,
      model_ms: ov.bare.modelMs,
      sql: ov.bare.sql,
      checkpoints: ov.bare.footprint.checkpoints.rows,
    },
    bare_on_opsgraph_saver: { ms: ov.bareOurSaver.ms, per_step_ms: ov.bareOurSaver.perStepMs, sql: ov.bareOurSaver.sql },
    bare_plus_3_nodes_ms: ov.bareExtra.ms,
    bare_plus_3_nodes_and_agent_step_channels_ms: ov.bareLedger.ms,
    bare_plus_3_nodes_channels_and_agent_step_wiring_ms: ov.bareWired.ms,
    split_ms: {
      total: sp.total,
      extra_supersteps: sp.extraSupersteps,
      agent_step_channels: sp.channels,
      agent_step_wiring: sp.wiring,
      rest_of_graph_invoke: sp.restOfInvoke,
      runner_outside_invoke: sp.runner,
    },
    other_cpu_share: ovOther?.otherShare ?? null,
  };

  // ---- checkpoint bytes per agent step
  out.checkpoint_bytes_per_step = ov.checkpointBytesPerStep;
  section("checkpoints of one finished run (scripted model, all supersteps kept)");
  const fp = o.footprint;
  row(
    "checkpoint_bytes_per_step (checkpoints + blobs + writes / 4)",
    `${f0(ov.checkpointBytesPerStep)} B (${fp.checkpoints.rows} checkpoints ${f1(fp.checkpoints.bytes / 1024)} KiB, ${fp.checkpoint_blobs.rows} blobs ${f1(fp.checkpoint_blobs.bytes / 1024)} KiB, ${fp.checkpoint_writes.rows} writes ${f1(fp.checkpoint_writes.bytes / 1024)} KiB)`,
  );
  row("  the bare graph's, for comparison", `${f0(ov.bare.footprint.bytes / AGENT_STEPS)} B per step`);

  // ---- critical path
  progress("critical path");
  const critLoad = startLoadMeter(BENCH_DATA_DIR, () => [server.pid]);
  const crit = await measureCriticalPath({ pool, config, server, runs: 10, latencyMs });
  const critOther = critLoad();
  const queued = await measureQueuedLatency({ pool, app, server, runs: 10, latencyMs });
  section(`critical path: one run at a time, every model call ${latencyMs} ms, median of 10`);
  row(
    `critical_path_ratio (run latency / ${crit.criticalPathMs} ms of model time)`,
    `${f2(crit.ratio)} (${f0(crit.ms)} ms, ContractReviewRunner.review)${loadNote(critOther)}`,
  );
  row("  through the queue (submit → completed, 1 idle worker)", `${f2(queued.ratio)} (${f0(queued.ms)} ms; the worker polls every 500 ms when idle)`);
  out.critical_path_ratio = crit.ratio;
  out.critical_path = {
    ms: crit.ms,
    critical_path_ms: crit.criticalPathMs,
    queued_ms: queued.ms,
    queued_ratio: queued.ratio,
    other_cpu_share: critOther?.otherShare ?? null,
  };

  // ---- rows written per run, through the queue
  progress("writes per run");
  const writes = await measureWritesPerRun({ app, server, runs: 10 });

  // ---- throughput
  const tp: ThroughputResult[] = [];
  for (const n of WORKERS) {
    progress(`throughput, ${n} worker${n > 1 ? "s" : ""}`);
    tp.push(await measureThroughput({ pool, app, server, workers: n, concurrency: WORKER_CONCURRENCY, runs: runsPerMeasurement, latencyMs }));
  }

  // ---- memory
  progress(`memory, ${MEMORY_RUNS} runs at once`);
  const mem = await measureMemory({ pool, app, server, runs: MEMORY_RUNS, latencyMs, maxConnections: MEMORY_POOL });

  // ---- the PostgreSQL ceiling
  progress("PostgreSQL ceiling");
  const ceiling = await measurePostgresCeiling(connectionOf(config.databaseUrl, BENCH_DATA_DIR), { clients: num("pg-clients"), seconds: num("pg-seconds") });
  const ceilingRuns = (ceiling.writesPerSec / writes.rows) * 60;
  const ceilingByCommits = (ceiling.writesPerSec / writes.commits) * 60;

  section(
    `throughput: ${runsPerMeasurement} distinct runs submitted at once, \`opsgraph worker --concurrency ${WORKER_CONCURRENCY}\` processes, every model call ${latencyMs} ms`,
  );
  for (const t of tp) {
    const c = t.cpu;
    const cpuText = c
      ? `; CPU busy ${f0(c.busyShare * 100)}% of ${cores()} cores: workers ${f1(c.workersS)} s, postgres ${c.postgresS === undefined ? "?" : f1(c.postgresS)} s, model server ${f1(c.modelServerS)} s, bench ${f1(c.benchS)} s, other ${f1(c.otherS)} s`
      : "";
    row(
      `throughput_runs_per_min, ${t.workers} worker${t.workers > 1 ? "s" : ""} × ${t.concurrency}`,
      `${f0(t.runsPerMin)}  (ceiling ${f0(ceilingRuns)}; ${f1(t.ms / 1000)} s; run p50 ${f0(t.runLatencyP50Ms)} ms${cpuText})`,
    );
  }
  // all the CPU a run costs on this machine (workers, postgres, model server, the submitting bench): the machine's ceiling
  const cpuPerRun = tp.map((t) => (t.cpu ? ((t.cpu.workersS + (t.cpu.postgresS ?? 0) + t.cpu.modelServerS + t.cpu.benchS) / t.runs) * 1000 : NaN));
  const cpuCeiling = cpuPerRun.map((ms) => (cores() * 60_000) / ms);
  row("  CPU per run, all the bench's processes", tp.map((t, i) => `${t.workers}w ${f0(cpuPerRun[i]!)} ms`).join(", "));
  row("  CPU ceiling (cores × 60 s ÷ CPU per run)", tp.map((t, i) => `${t.workers}w ${f0(cpuCeiling[i]!)} runs/min`).join(", "));
  out.throughput_runs_per_min = Object.fromEntries(tp.map((t) => [String(t.workers), t.runsPerMin]));
  out.throughput = tp.map((t, i) => ({
    workers: t.workers,
    concurrency: t.concurrency,
    runs: t.runs,
    ms: t.ms,
    runs_per_min: t.runsPerMin,
    run_latency_p50_ms: t.runLatencyP50Ms,
    cpu: t.cpu,
    cpu_ms_per_run: cpuPerRun[i],
    cpu_ceiling_runs_per_min: cpuCeiling[i],
  }));

  section(`memory: one worker, ${MEMORY_RUNS} runs at once (pool ${MEMORY_POOL}), every model call ${latencyMs} ms`);
  if (mem) {
    row(
      "peak_rss_mib_per_100_runs (RSS growth over idle)",
      `${f1(mem.growthMiBPer100)} MiB (idle ${f0(mem.idleMiB)} MiB, peak ${f0(mem.peakMiB)} MiB; ${MEMORY_RUNS} runs in ${f1(mem.ms / 1000)} s)`,
    );
    if (mem.heapUsedGrowthMiB !== undefined)
      row("  of which V8 heap used (peak − idle), external", `${f1(mem.heapUsedGrowthMiB)} MiB, ${f1(mem.externalGrowthMiB!)} MiB`);
    out.peak_rss_mib_per_100_runs = mem.growthMiBPer100;
    out.memory = {
      runs: mem.runs,
      idle_mib: mem.idleMiB,
      peak_mib: mem.peakMiB,
      ms: mem.ms,
      pool: MEMORY_POOL,
      heap_used_growth_mib: mem.heapUsedGrowthMiB ?? null,
      external_growth_mib: mem.externalGrowthMiB ?? null,
    };
  } else {
    row("peak_rss_mib_per_100_runs", "n/a (no /proc)");
    out.peak_rss_mib_per_100_runs = null;
  }

  section("the PostgreSQL ceiling");
  row(
    `postgres_writes_per_sec (${ceiling.clients} clients, 1-row INSERT+COMMIT)`,
    `${f0(ceiling.writesPerSec)}/s (${ceiling.seconds} s, latency ${f2(ceiling.latencyMs)} ms; synchronous_commit ${ceiling.synchronousCommit}, fsync ${ceiling.fsync}) by ${ceiling.tool}`,
  );
  const byTable = Object.entries(writes.rowsByTable)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${t} ${f1(n)}`)
    .join(", ");
  row(`rows written per run through the queue (mean of ${writes.runs})`, `${f1(writes.rows)}: ${byTable}`);
  row("transactions that wrote, per run", f1(writes.commits));
  row(
    "postgres_ceiling_runs_per_min (writes/s ÷ rows/run × 60)",
    `${f0(ceilingRuns)}  (by commits: ${f0(ceilingByCommits)}); measured best ${f0(Math.max(...tp.map((t) => t.runsPerMin)))}`,
  );
  out.postgres_writes_per_sec = ceiling.writesPerSec;
  out.postgres_ceiling_runs_per_min = ceilingRuns;
  out.postgres = {
    tool: ceiling.tool,
    clients: ceiling.clients,
    seconds: ceiling.seconds,
    latency_ms: ceiling.latencyMs,
    synchronous_commit: ceiling.synchronousCommit,
    fsync: ceiling.fsync,
    rows_per_run: writes.rows,
    rows_per_run_by_table: writes.rowsByTable,
    commits_per_run: writes.commits,
    ceiling_runs_per_min_by_commits: ceilingByCommits,
  };

  section("this process");
  row("peak RSS of the bench process", `${f0(process.resourceUsage().maxRSS / 1024)} MiB`);
  row("bench wall time", `${f1((performance.now() - started) / 1000)} s`);
  out.bench_seconds = (performance.now() - started) / 1000;
} finally {
  await app.close();
  await server.close();
}

if (values.json) process.stdout.write(JSON.stringify(out) + "\n");
else {
  const width = Math.max(...rows.filter((r) => r[1] !== "").map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(v === "" ? `\n${k}\n` : `${k.padEnd(width)}  ${v}\n`);
}
