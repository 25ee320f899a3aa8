import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseThesis } from "../flows/sourcing/agents/thesis.js";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { ROOT } from "./support/cli.js";
import { MODEL, sourcingResponders } from "../testing/scripted-sourcing.js";
import { until } from "../testing/until.js";
import { startWorkers } from "../testing/worker-fleet.js";

// The event-driven flow has no queue claim: a stage's run is held by the consuming worker's own
// lease, renewed as it runs. A worker frozen (SIGSTOP) past it while its stage runs are mid-call
// neither keeps the events from another worker (it takes the runs over) nor, thawed (SIGCONT),
// writes or calls anything for them. Two real worker processes, one embedded PostgreSQL.

const LEASE_MS = 2_000;
/** The profiler's latency: long for the frozen worker's calls (answered while it is frozen), short after. */
const PROFILER_MS = 5_000;
const PROFILER_AFTER_MS = 200;
const STARTUPS = 3;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-sourcing-takeover-"));
let server: ScriptedServer;
let app: App;
const workers: ChildProcess[] = [];

function startWorker() {
  const env: Record<string, string> = { OPSGRAPH_DATA_DIR: dataDir, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", OPSGRAPH_MODELS: MODEL };
  if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
  const [child] = startWorkers(1, env, { concurrency: 4, leaseMs: LEASE_MS }).workers;
  workers.push(child!);
  return child!;
}

const q = async <R extends object>(sql: string, values: unknown[] = []) => (await app.db.pool.query<R & import("pg").QueryResultRow>(sql, values)).rows;

/** What the stages' executions and the bus write: compared before and after the frozen worker thaws. */
async function written() {
  return {
    runs: await q(`SELECT run_id, flow, status, fence, worker_id, updated_at, model_calls, error FROM opsgraph_runs ORDER BY run_id`),
    checkpoints: await q(`SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints ORDER BY 1, 2, 3`),
    writes: await q(`SELECT thread_id, checkpoint_id, task_id, idx FROM checkpoint_writes ORDER BY 1, 2, 3, 4`),
    consumptions: await q(`SELECT event_id, consumer, outcome, run_id, worker_id FROM opsgraph_event_consumptions ORDER BY 1, 2`),
    events: await q(`SELECT id, name FROM opsgraph_events ORDER BY id`),
    drafts: await q(`SELECT id FROM opsgraph_outreach_drafts ORDER BY id`),
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

describe("a sourcing worker frozen past its lease", () => {
  it("has its stage runs taken over once the lease ran out; thawed, it writes nothing and calls no model for them", async () => {
    let profilerMs = PROFILER_MS;
    server.setResponder("company_profiler", async (req) => ({
      fault: { kind: "latency", ms: profilerMs, then: await sourcingResponders.company_profiler(req) },
    }));
    server.setResponder("fit_analyst", sourcingResponders.fit_analyst);
    server.setResponder("outreach_writer", sourcingResponders.outreach_writer);

    const a = startWorker();
    await until("worker a to be up", async () => (await q(`SELECT 1 FROM opsgraph_workers WHERE pid = $1 AND stopped_at IS NULL`, [a.pid])).length > 0);
    const thesis = parseThesis(fs.readFileSync(path.join(ROOT, "samples", "thesis.md"), "utf8"));
    const { published } = await app.sourcing.ingest({ csv: path.join(ROOT, "test", "fixtures", "startups", "Startups.csv"), thesis, limit: STARTUPS });
    expect(published).toBe(STARTUPS);
    // every profiler run held by a's lease, its call in flight
    await until(`worker a to be mid-call on ${STARTUPS} profiler runs (${a.output()})`, async () => {
      const held = await q<{ n: number }>(
        `SELECT count(*)::int AS n FROM opsgraph_runs WHERE flow = 'sourcing.company_profiler' AND status = 'running' AND worker_id LIKE $1`,
        [`%:${a.pid}:%`],
      );
      return held[0]!.n === STARTUPS && server.requestsFor("company_profiler").length === STARTUPS;
    });
    const b = startWorker();
    await until("worker b to be up", async () => (await q(`SELECT 1 FROM opsgraph_workers WHERE pid = $1 AND stopped_at IS NULL`, [b.pid])).length > 0);
    a.kill("SIGSTOP");
    profilerMs = PROFILER_AFTER_MS;
    const answeredAt = Math.max(...server.requestsFor("company_profiler").map((r) => r.at)) + PROFILER_MS;

    // b takes the events over (redelivered once a's lease ran out) and every company's chain reaches its end
    await until(
      `every company to reach the end of its chain (worker b: ${b.output()})`,
      async () => {
        const ends = await q<{ n: number }>(
          `SELECT count(DISTINCT correlation_id)::int AS n FROM opsgraph_events WHERE (name, version) IN (('outreach.ready', 1), ('company.rejected', 1))`,
        );
        return ends[0]!.n === STARTUPS;
      },
      60_000,
      100,
    );
    await until("every stage run to be finished", async () => (await q(`SELECT 1 FROM opsgraph_runs WHERE status <> 'completed'`)).length === 0, 30_000);
    const profilerRuns = await q<{ fence: string; worker_id: string | null }>(
      `SELECT fence::text, worker_id FROM opsgraph_runs WHERE flow = 'sourcing.company_profiler'`,
    );
    // each taken by b's execution (its fence raised past a's), none finished by a
    expect(profilerRuns.map((r) => Number(r.fence))).toEqual(Array(STARTUPS).fill(2));
    const consumed = await q<{ worker_id: string }>(`SELECT worker_id FROM opsgraph_event_consumptions WHERE consumer = 'company_profiler'`);
    expect(consumed.map((c) => c.worker_id.includes(`:${b.pid}:`))).toEqual(Array(STARTUPS).fill(true));
    const after = await written();

    // a thaws once its calls were answered (it has their answers to write), and is given twice its lease to try
    await new Promise((r) => setTimeout(r, Math.max(0, answeredAt + 300 - Date.now())));
    const thawedAt = Date.now();
    a.kill("SIGCONT");
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS + PROFILER_AFTER_MS));
    expect(a.exitCode).toBe(null);
    expect(await written()).toEqual(after);
    expect(server.requests.filter((r) => r.at >= thawedAt)).toEqual([]);
    // one chain of checkpoints per thread (no fork), and each company's events once
    expect(await q(`SELECT thread_id, parent_checkpoint_id FROM checkpoints WHERE checkpoint_ns = '' GROUP BY 1, 2 HAVING count(*) > 1`)).toEqual([]);
    expect(await q(`SELECT correlation_id, name FROM opsgraph_events GROUP BY 1, 2 HAVING count(*) > 1`)).toEqual([]);
    // the profiler's calls in flight at the freeze made once more by b, no other call again
    expect(server.requestsFor("company_profiler")).toHaveLength(2 * STARTUPS);
    expect(server.requestsFor("fit_analyst")).toHaveLength(STARTUPS);

    a.kill("SIGTERM");
    b.kill("SIGTERM");
  }, 120_000);
});
