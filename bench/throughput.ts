// Runs as jobs: throughput of N `opsgraph worker` processes, memory of one worker with 100 runs
// in flight, and the rows each run writes (through the queue, counted statement by statement).
// Over 300 lines: three measures of one fleet (throughput, memory, rows per run) that share its database, its worker processes and their counting.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { App } from "../app/app.js";
import { RUNS_QUEUE } from "../runtime/queue/queue.js";
import { Worker } from "../runtime/queue/worker.js";
import { AGENTS } from "../testing/scripted-contract.js";
import type { ModelServer } from "./model-server.js";
import { machineCpuSeconds, postgresCpuSeconds, processCpuSeconds, rss } from "./procs.js";
import { diff, probePool, type ProbeSnapshot } from "./sql-probe.js";
import { BENCH_DATA_DIR, benchEnv, median, scriptedDocument, sleep } from "./support.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface WorkerProcess {
  pid: number;
  output(): string;
  /** SIGTERM (drain), then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `opsgraph worker --concurrency C` processes on the bench data dir (or, with `memoryWorker`,
 * bench/memory-worker-main.ts with that pool size); resolves once each is taking runs.
 */
export async function startWorkers(n: number, concurrency: number, server: ModelServer, memoryWorker?: { maxConnections: number }): Promise<WorkerProcess[]> {
  const args = memoryWorker
    ? [path.join(ROOT, "bench", "memory-worker-main.ts"), String(concurrency), String(memoryWorker.maxConnections)]
    : [path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(concurrency)];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL") env[k] = v;
  Object.assign(env, benchEnv(server.url));
  const start = (): Promise<WorkerProcess> =>
    new Promise((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let ready = false;
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const onData = (c: Buffer) => {
        out += c.toString();
        if (!ready && /opsgraph worker \S+: concurrency/.test(out)) {
          ready = true;
          resolve({
            pid: child.pid!,
            output: () => out,
            async stop() {
              if (child.exitCode !== null) return child.exitCode;
              child.kill("SIGTERM");
              let timer: NodeJS.Timeout | undefined;
              const code = await Promise.race([exited, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 30_000)))]);
              clearTimeout(timer);
              if (code === "timeout") {
                child.kill("SIGKILL");
                throw new Error(`bench: worker ${child.pid} did not drain in 30 s:\n${out}`);
              }
              return code;
            },
          });
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      void exited.then((code) => {
        if (!ready) reject(new Error(`bench: worker exited (code ${code}) before it was ready:\n${out}`));
      });
    });
  return Promise.all(Array.from({ length: n }, start));
}

/** Takes the bench's stale queue away: jobs and runs left by an interrupted bench. */
export async function clearQueue(pool: pg.Pool) {
  const { rows } = await pool.query<{ t: string | null }>(`SELECT to_regclass('pgboss.job')::text AS t`);
  if (rows[0]?.t) await pool.query(`DELETE FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`, [RUNS_QUEUE]);
  await pool.query(
    `UPDATE opsgraph_runs SET status = 'failed', error = 'bench: abandoned', worker_id = NULL, heartbeat_at = NULL WHERE status IN ('queued', 'running')`,
  );
}

async function submitAll(app: App, runs: number, parallel = 4): Promise<string[]> {
  const docs = Array.from({ length: runs }, scriptedDocument);
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < docs.length) {
        const d = docs[next++]!;
        const { run_id, created } = await app.contractReview.submit({ document: d, autoApprove: true });
        if (!created) throw new Error("bench: a submitted run was not new");
        ids.push(run_id);
      }
    }),
  );
  return ids;
}

/** Waits until none of the runs is queued or running; throws if any did not complete. */
async function awaitRuns(pool: pg.Pool, ids: string[], timeoutMs: number, onTick?: () => void) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    onTick?.();
    const { rows } = await pool.query<{ pending: number; bad: number; error: string | null }>(
      `SELECT count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS pending, count(*) FILTER (WHERE status NOT IN ('queued', 'running', 'completed'))::int AS bad,
              min(error) AS error FROM opsgraph_runs WHERE run_id = ANY($1::uuid[])`,
      [ids],
    );
    const r = rows[0]!;
    if (r.bad > 0) throw new Error(`bench: ${r.bad} runs did not complete: ${r.error ?? ""}`);
    if (r.pending === 0) return;
    if (Date.now() > deadline) throw new Error(`bench: ${r.pending} runs still pending after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
}

/** From the database's clock: first submit (created_at) to last completion (updated_at), and the median run's queue-to-done latency. */
async function window(pool: pg.Pool, ids: string[]) {
  const { rows } = await pool.query<{ ms: number; p50: number }>(
    `SELECT extract(epoch FROM max(updated_at) - min(created_at)) * 1000 AS ms,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at) * 1000) AS p50
     FROM opsgraph_runs WHERE run_id = ANY($1::uuid[])`,
    [ids],
  );
  return { ms: Number(rows[0]!.ms), p50: Number(rows[0]!.p50) };
}

export interface ThroughputResult {
  workers: number;
  concurrency: number;
  runs: number;
  ms: number;
  runsPerMin: number;
  /** Median time of a run from its submit to its completion. */
  runLatencyP50Ms: number;
  /** Machine CPU busy during the batch (share of all cores), and CPU seconds by process group. */
  cpu?: {
    busyShare: number;
    kernelShare: number;
    workersS: number;
    postgresS: number | undefined;
    modelServerS: number;
    benchS: number;
    /** Busy CPU seconds not of the bench's processes: other load on the machine (or kernel work on no one's account). */
    otherS: number;
  };
}

/**
 * N worker processes (concurrency C each, started before the clock starts), `runs` distinct
 * contracts submitted from this process; from the first submit to the last completion.
 */
export async function measureThroughput(opts: {
  pool: pg.Pool;
  app: App;
  server: ModelServer;
  workers: number;
  concurrency: number;
  runs: number;
  latencyMs: number;
}): Promise<ThroughputResult> {
  const { pool, app, server, workers: n, concurrency, runs, latencyMs } = opts;
  await server.setLatency(latencyMs);
  await server.takeRequests();
  const workers = await startWorkers(n, concurrency, server);
  try {
    const cpu0 = {
      m: machineCpuSeconds(),
      w: workers.map((w) => processCpuSeconds(w.pid)),
      pg: postgresCpuSeconds(BENCH_DATA_DIR),
      s: processCpuSeconds(server.pid),
      b: process.cpuUsage(),
    };
    const ids = await submitAll(app, runs);
    await awaitRuns(pool, ids, 180_000);
    const m1 = machineCpuSeconds();
    const cpu = {
      busyShare: cpu0.m && m1 ? (m1.busy - cpu0.m.busy) / (m1.total - cpu0.m.total) : NaN,
      kernelShare: cpu0.m && m1 ? (m1.kernel - cpu0.m.kernel) / (m1.total - cpu0.m.total) : NaN,
      workersS: workers.reduce((s, w, i) => s + processCpuSeconds(w.pid) - cpu0.w[i]!, 0),
      postgresS: cpu0.pg === undefined ? undefined : postgresCpuSeconds(BENCH_DATA_DIR)! - cpu0.pg,
      modelServerS: processCpuSeconds(server.pid) - cpu0.s,
      benchS: (() => {
        const u = process.cpuUsage(cpu0.b);
        return (u.user + u.system) / 1e6;
      })(),
    };
    const busyS = cpu0.m && m1 ? m1.busy - cpu0.m.busy : NaN;
    const otherS = busyS - cpu.workersS - (cpu.postgresS ?? 0) - cpu.modelServerS - cpu.benchS;
    const { ms, p50 } = await window(pool, ids);
    const sent = await server.takeRequests();
    for (const a of AGENTS) if ((sent[a] ?? 0) !== runs) throw new Error(`bench: ${a} got ${sent[a] ?? 0} model requests for ${runs} runs`);
    return { workers: n, concurrency, runs, ms, runsPerMin: (runs / ms) * 60_000, runLatencyP50Ms: p50, cpu: m1 ? { ...cpu, otherS } : undefined };
  } finally {
    for (const w of workers) {
      const code = await w.stop();
      if (code !== 0) throw new Error(`bench: worker ${w.pid} exited ${code}:\n${w.output()}`);
    }
  }
}

/** Submit-to-done latency of one run at a time through the queue and one idle worker. */
export async function measureQueuedLatency(opts: { pool: pg.Pool; app: App; server: ModelServer; runs: number; latencyMs: number }) {
  const { pool, app, server, runs, latencyMs } = opts;
  await server.setLatency(latencyMs);
  const [worker] = await startWorkers(1, 8, server);
  try {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      // at a random point of the idle worker's 500 ms poll cycle, as a request would arrive
      await sleep(Math.random() * 500);
      const ids = await submitAll(app, 1, 1);
      await awaitRuns(pool, ids, 60_000);
      times.push((await window(pool, ids)).ms);
    }
    await server.takeRequests();
    return { ms: median(times), ratio: median(times) / (3 * latencyMs) };
  } finally {
    await worker!.stop();
  }
}

/**
 * One worker process at concurrency `runs` with `runs` runs in flight at `latencyMs`: its resident
 * memory's growth over its idle size (peak VmRSS sampled every 25 ms, or VmHWM when that rose).
 * The worker is bench/memory-worker-main.ts (a pool of `maxConnections`, see there).
 */
export async function measureMemory(opts: { pool: pg.Pool; app: App; server: ModelServer; runs: number; latencyMs: number; maxConnections: number }) {
  const { pool, app, server, runs, latencyMs, maxConnections } = opts;
  await server.setLatency(latencyMs);
  const [worker] = await startWorkers(1, runs, server, { maxConnections });
  try {
    await sleep(1500); // let start-up settle
    const idle = rss(worker!.pid);
    if (!idle) return undefined;
    let peak = idle.rss;
    const ids = await submitAll(app, runs, 8);
    await awaitRuns(pool, ids, 180_000, () => {
      const now = rss(worker!.pid);
      if (now) peak = Math.max(peak, now.rss);
    });
    const end = rss(worker!.pid)!;
    if (end.hwm > idle.hwm) peak = Math.max(peak, end.hwm);
    const { ms } = await window(pool, ids);
    await server.takeRequests();
    await worker!.stop();
    // the worker's own account of its heap (bench/memory-worker-main.ts prints it on SIGTERM)
    const line = /bench-memory (\{.*\})/.exec(worker!.output())?.[1];
    const heap = line ? (JSON.parse(line) as { idle: NodeJS.MemoryUsage; peak: NodeJS.MemoryUsage }) : undefined;
    const mib = (b: number) => b / 2 ** 20;
    return {
      runs,
      idleMiB: mib(idle.rss),
      peakMiB: mib(peak),
      growthMiBPer100: mib(peak - idle.rss) * (100 / runs),
      ms,
      heapUsedGrowthMiB: heap ? mib(heap.peak.heapUsed - heap.idle.heapUsed) : undefined,
      externalGrowthMiB: heap ? mib(heap.peak.external - heap.idle.external) : undefined,
    };
  } finally {
    await worker!.stop();
  }
}

/**
 * What a run writes through the queue: an in-process app and Worker on an instrumented pool
 * execute `runs` submitted runs; every statement's rows (INSERT, UPDATE, DELETE) are counted by
 * table, and the transactions that wrote.
 */
export async function measureWritesPerRun(opts: { app: App; server: ModelServer; runs: number }) {
  const { app, server, runs } = opts;
  await server.setLatency(0);
  const probe = probePool(app.db.pool);
  const s0 = probe.snapshot();
  const worker = new Worker({ pool: app.db.pool, queue: app.queue!, runners: app.runners, concurrency: 8 });
  await worker.start();
  let per: ProbeSnapshot;
  const ids: string[] = [];
  try {
    for (let i = 0; i < runs; i++) ids.push((await app.contractReview.submit({ document: scriptedDocument(), autoApprove: true })).run_id);
    await awaitRuns(app.db.pool, ids, 60_000);
    await sleep(100); // the worker completes the jobs after the runs' rows
  } finally {
    await worker.drain();
    per = diff(s0, probe.snapshot());
  }
  await server.takeRequests();
  const rows: Record<string, number> = {};
  for (const [t, n] of Object.entries(per.rowsByTable)) {
    const group = t.startsWith("pgboss.") ? "pgboss.*" : t.replace(/^public\./, "");
    if (group === "opsgraph_workers") continue; // the worker's own start and stop, not the runs'
    rows[group] = (rows[group] ?? 0) + n / runs;
  }
  // A statement's row count is its main INSERT's: rows written by its CTEs (opsgraph's saver puts
  // a checkpoint's blobs and its row in one statement; the report's outbox entries and the
  // notification are one statement) go uncounted. These tables only gain rows in a run, so they
  // are counted where they are instead.
  const { rows: counted } = await app.db.pool.query<{ t: string; n: number }>(
    `WITH r AS (SELECT run_id, thread_id FROM opsgraph_runs WHERE run_id = ANY($1::uuid[]))
     SELECT 'checkpoints' AS t, count(*)::int AS n FROM checkpoints WHERE thread_id IN (SELECT thread_id FROM r)
     UNION ALL SELECT 'checkpoint_blobs', count(*)::int FROM checkpoint_blobs WHERE thread_id IN (SELECT thread_id FROM r)
     UNION ALL SELECT 'checkpoint_writes', count(*)::int FROM checkpoint_writes WHERE thread_id IN (SELECT thread_id FROM r)
     UNION ALL SELECT 'opsgraph_outbox', count(*)::int FROM opsgraph_outbox WHERE thread_id IN (SELECT thread_id FROM r)
     UNION ALL SELECT 'opsgraph_notifications', count(*)::int FROM opsgraph_notifications WHERE run_id IN (SELECT run_id FROM r)`,
    [ids],
  );
  for (const { t, n } of counted) rows[t] = n / runs;
  return { runs, rowsByTable: rows, rows: Object.values(rows).reduce((a, b) => a + b, 0), commits: per.commits / runs };
}
