import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { ROOT } from "./support/cli.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";

// No stale writer: a worker frozen (SIGSTOP) past its lease while it executes runs neither
// blocks their takeover by another worker nor writes anything once it thaws (SIGCONT). Two
// real worker processes on one embedded PostgreSQL, the real ChatOpenAI against the scripted server.

const LEASE_MS = 2_000;
/** The risk analyst's latency: long for the frozen worker's calls (answered while it is frozen), short after. */
const RISK_MS = 5_000;
const RISK_AFTER_MS = 300;
const RUNS = 4;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-takeover-"));
let server: ScriptedServer;
let app: App;
const workers: ChildProcess[] = [];

function doc(i: number): ContractDocument {
  const text = `${CONTRACT}\n\nContract ${i} of the takeover test, ${Date.now()}.`;
  return {
    text,
    source: `takeover-${i}.txt`,
    path: "takeover.txt",
    bytes: Buffer.byteLength(text),
    sha256: createHash("sha256").update(text).digest("hex"),
    format: "txt",
  };
}

function startWorker(): ChildProcess & { output: () => string } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL") env[k] = v;
  Object.assign(env, { OPSGRAPH_DATA_DIR: dataDir, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", OPSGRAPH_MODELS: MODEL, LOG_LEVEL: "warn" });
  if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(RUNS), "--lease-ms", String(LEASE_MS)],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  workers.push(child);
  return Object.assign(child, { output: () => out });
}

const q = async <R extends object>(sql: string, values: unknown[] = []) => (await app.db.pool.query<R & import("pg").QueryResultRow>(sql, values)).rows;
const callsOf = (agent: string) => server.requestsFor(agent).length;

/** Everything the runs' executions write: compared before and after the frozen worker thaws. */
async function written(threads: string[]) {
  return {
    runs: await q(
      `SELECT run_id, status, fence, worker_id, heartbeat_at, updated_at, model_calls, error FROM opsgraph_runs WHERE thread_id = ANY($1) ORDER BY run_id`,
      [threads],
    ),
    checkpoints: await q(`SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = ANY($1) ORDER BY 1, 2, 3`, [threads]),
    writes: await q(`SELECT thread_id, checkpoint_id, task_id, idx FROM checkpoint_writes WHERE thread_id = ANY($1) ORDER BY 1, 2, 3, 4`, [threads]),
    blobs: await q(`SELECT count(*)::int AS n FROM checkpoint_blobs WHERE thread_id = ANY($1)`, [threads]),
    outbox: await q(`SELECT key, status, attempts FROM opsgraph_outbox WHERE thread_id = ANY($1) ORDER BY key`, [threads]),
    notifications: await q(`SELECT key FROM opsgraph_notifications ORDER BY key`),
    dead_letters: await q(`SELECT id FROM opsgraph_dead_letters WHERE thread_id = ANY($1)`, [threads]),
  };
}

beforeAll(async () => {
  server = await startScriptedOpenAI();
  app = await openApp(
    loadConfig({
      OPSGRAPH_DATA_DIR: dataDir,
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: "sk-test",
      OPSGRAPH_MODELS: MODEL,
      DATABASE_URL: process.env.DATABASE_URL,
    }),
    { queue: true },
  );
});
afterAll(async () => {
  for (const w of workers) {
    if (w.exitCode === null) {
      w.kill("SIGCONT");
      w.kill("SIGKILL");
    }
  }
  await app?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("a worker frozen past its lease", () => {
  it("is taken over once its lease ran out, and once thawed writes nothing and makes no model call for the runs it lost", async () => {
    // the risk analyst takes riskMs, the other agents answer at once
    let riskMs = RISK_MS;
    for (const a of AGENTS) server.setResponder(a, () => (a === "risk_analyst" ? { fault: { kind: "latency", ms: riskMs, then: ok(a) } } : ok(a)));
    const runs: { run_id: string; thread_id: string }[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const { run_id } = await app.contractReview.submit({ document: doc(i), autoApprove: true });
      runs.push({ run_id, thread_id: (await app.contractReview.get({ runId: run_id }))!.thread_id });
    }
    const threads = runs.map((r) => r.thread_id);

    const a = startWorker();
    await until(
      "worker a to claim every run",
      async () =>
        (
          await q<{ n: number }>(`SELECT count(*)::int AS n FROM opsgraph_runs WHERE run_id = ANY($1) AND worker_id LIKE $2`, [
            runs.map((r) => r.run_id),
            `%:${a.pid}:%`,
          ])
        )[0]!.n === RUNS,
    );
    // the second worker is up (idle: a holds every run) before a freezes
    const b = startWorker();
    await until("worker b to be up", async () => (await q(`SELECT 1 FROM opsgraph_workers WHERE pid = $1 AND stopped_at IS NULL`, [b.pid])).length > 0);
    // frozen while every run's risk analyst call is in flight, the clauses and terms saved
    await until(`worker a to be mid-run on all ${RUNS} runs (${a.output()})`, async () => {
      const saved = await q<{ n: number }>(
        `SELECT count(DISTINCT thread_id)::int AS n FROM checkpoint_writes WHERE thread_id = ANY($1) AND channel = 'terms'`,
        [threads],
      );
      return callsOf("risk_analyst") === RUNS && saved[0]!.n === RUNS;
    });
    a.kill("SIGSTOP");
    riskMs = RISK_AFTER_MS;
    const answeredAt = Math.max(...server.requestsFor("risk_analyst").map((r) => r.at)) + RISK_MS;
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, 200)); // a renewal sent just before the freeze has landed
    const leases = await q<{ run_id: string; worker_id: string; expires: Date }>(
      `SELECT run_id, worker_id, heartbeat_at + make_interval(secs => $2 / 1000.0) AS expires FROM opsgraph_runs WHERE run_id = ANY($1)`,
      [runs.map((r) => r.run_id), LEASE_MS],
    );
    expect(leases.every((l) => l.worker_id.includes(`:${a.pid}:`))).toBe(true);

    // each run's takeover: when worker b is seen holding it
    const takenAt = new Map<string, number>();
    await until(
      `worker b to take over every run (worker b: ${b.output()})`,
      async () => {
        for (const r of await q<{ run_id: string; worker_id: string | null; status: string }>(
          `SELECT run_id, worker_id, status FROM opsgraph_runs WHERE run_id = ANY($1)`,
          [runs.map((x) => x.run_id)],
        )) {
          if (!takenAt.has(r.run_id) && (r.worker_id?.includes(`:${b.pid}:`) || r.status === "completed")) takenAt.set(r.run_id, Date.now());
        }
        return takenAt.size === RUNS;
      },
      60_000,
      50,
    );
    await until(
      `the ${RUNS} runs to complete (worker b: ${b.output()})`,
      async () =>
        (
          await q<{ n: number }>(`SELECT count(*)::int AS n FROM opsgraph_runs WHERE run_id = ANY($1) AND status = 'completed'`, [runs.map((r) => r.run_id)])
        )[0]!.n === RUNS,
      60_000,
    );
    const takeoverMs = leases.map((l) => takenAt.get(l.run_id)! - l.expires.getTime());
    console.log(`takeover after the lease expired (ms, lease ${LEASE_MS} ms, frozen ${takenAt.size} runs at ${frozenAt}): ${takeoverMs.join(", ")}`);
    expect(Math.max(...takeoverMs)).toBeLessThan(LEASE_MS + 5_000);

    // every run's fence was raised by b's claim: b's execution, not a's, finished it
    const after = await written(threads);
    expect(after.runs.map((r) => Number(r.fence))).toEqual(Array(RUNS).fill(2));

    // a thaws once its calls were answered (it has their answers to write); it is given twice its lease to try
    await new Promise((r) => setTimeout(r, Math.max(0, answeredAt + 300 - Date.now())));
    const thawedAt = Date.now();
    a.kill("SIGCONT");
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS + RISK_AFTER_MS));
    expect(a.exitCode).toBe(null); // alive: it gave the runs up, it did not crash
    expect(await written(threads)).toEqual(after);
    expect(server.requests.filter((r) => r.at >= thawedAt)).toEqual([]); // no model call after thawing

    // one chain of checkpoints per thread: no two with the same parent (no fork)
    const forks = await q(
      `SELECT thread_id, parent_checkpoint_id, count(*)::int AS n FROM checkpoints WHERE thread_id = ANY($1) AND checkpoint_ns = '' GROUP BY 1, 2 HAVING count(*) > 1`,
      [threads],
    );
    expect(forks).toEqual([]);
    // each side effect once: one report and one notification per run
    expect(after.outbox.filter((e) => String(e.key).includes(":report:"))).toHaveLength(RUNS);
    expect(after.notifications.filter((n) => threads.some((t) => String(n.key).startsWith(t)))).toHaveLength(RUNS);
    // the risk analyst's calls in flight at the freeze made once more by b (one a run), nothing else again
    expect(Object.fromEntries(AGENTS.map((x) => [x, callsOf(x)]))).toEqual({
      clause_extractor: RUNS,
      risk_analyst: 2 * RUNS,
      terms_analyst: RUNS,
      summarizer: RUNS,
    });
    expect(a.output()).toContain("run given up: its lease was lost");

    a.kill("SIGTERM");
    b.kill("SIGTERM");
  }, 120_000);
});
