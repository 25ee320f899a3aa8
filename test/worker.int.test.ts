import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { RUNS_QUEUE } from "../runtime/queue/queue.js";
import { ThreadBusyError } from "../flows/contract-review/run/runner.js";
import { Worker } from "../runtime/queue/worker.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";

// Runs as jobs: real worker processes (`opsgraph worker`) on one embedded PostgreSQL, the
// real ChatOpenAI against the scripted server, and the test process submitting and watching.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-worker-"));
let server: ScriptedServer;
let app: App;
const workers: ChildProcess[] = [];
let n = 0;

function doc(): ContractDocument {
  const text = `${CONTRACT}\n\nContract ${++n} of this test file, ${Date.now()}.`;
  return {
    text,
    source: `supply-${n}.txt`,
    path: "supply.txt",
    bytes: Buffer.byteLength(text),
    sha256: createHash("sha256").update(text).digest("hex"),
    format: "txt",
  };
}

function env() {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL") e[k] = v;
  return {
    ...e,
    OPSGRAPH_DATA_DIR: dataDir,
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: "sk-test",
    OPSGRAPH_MODELS: MODEL,
    LOG_LEVEL: "warn",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
}

function startWorker(args: string[] = []): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", "2", "--lease-ms", "2000", ...args], {
    cwd: ROOT,
    env: env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  workers.push(child);
  return Object.assign(child, { output: () => out });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));
/** Whether a thread's checkpoints (or pending writes) hold a value for a state channel. */
const saved = async (threadId: string, channel: string) =>
  (
    await app.db.pool.query(
      "SELECT 1 FROM checkpoint_blobs WHERE thread_id = $1 AND channel = $2 UNION ALL SELECT 1 FROM checkpoint_writes WHERE thread_id = $1 AND channel = $2 LIMIT 1",
      [threadId, channel],
    )
  ).rowCount! > 0;
const statusOf = async (runId: string) =>
  (await app.db.pool.query<{ status: string }>("SELECT status FROM opsgraph_runs WHERE run_id = $1", [runId])).rows[0]?.status;

/** Scripted answers: the risk analyst takes `riskMs` to answer, so a run can be caught in flight. */
function script(riskMs: number) {
  for (const a of AGENTS) server.setResponder(a, () => (a === "risk_analyst" ? { fault: { kind: "latency", ms: riskMs, then: ok(a) } } : ok(a)));
}

beforeAll(async () => {
  server = await startScriptedOpenAI();
  const cfg = loadConfig({
    OPSGRAPH_DATA_DIR: dataDir,
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: "sk-test",
    OPSGRAPH_MODELS: MODEL,
    DATABASE_URL: process.env.DATABASE_URL,
  });
  app = await openApp(cfg, { queue: true });
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
  await app?.close();
  await server?.close();
});
beforeEach(() => {
  server.reset();
});

describe("runs as jobs on the queue", () => {
  it("the same request submitted five times at once is one run and one job", async () => {
    const d = doc();
    const results = await Promise.all(Array.from({ length: 5 }, () => app.contractReview.submit({ document: d, autoApprove: true })));
    expect(new Set(results.map((r) => r.run_id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const { rows } = await app.db.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND data->>'run_id' = $2`, [
      RUNS_QUEUE,
      results[0]!.run_id,
    ]);
    expect(rows[0].n).toBe(1);
    const again = await app.contractReview.submit({ document: d, autoApprove: true });
    expect(again).toMatchObject({ run_id: results[0]!.run_id, created: false });
    // take it off the queue, so the workers of the next tests see only their own runs
    await app.db.pool.query(`DELETE FROM pgboss.job WHERE data->>'run_id' = $1`, [again.run_id]);
    await app.db.pool.query(`UPDATE opsgraph_runs SET status = 'failed', error = 'test: taken off the queue' WHERE run_id = $1`, [again.run_id]);

    // many more times: two inserts of one request at once may meet on the thread id's unique index first, which is no error either
    for (let i = 0; i < 30; i++) {
      const same = doc();
      const many = await Promise.all(Array.from({ length: 8 }, () => app.contractReview.submit({ document: same, autoApprove: true })));
      expect(new Set(many.map((r) => r.run_id)).size).toBe(1);
      expect(many.filter((r) => r.created)).toHaveLength(1);
      await app.db.pool.query(`DELETE FROM pgboss.job WHERE data->>'run_id' = $1`, [many[0]!.run_id]);
      await app.db.pool.query(`UPDATE opsgraph_runs SET status = 'failed', error = 'test: taken off the queue' WHERE run_id = $1`, [many[0]!.run_id]);
    }
  });

  it("one execution per thread: a second executor of the same run is refused while the first holds the lock", async () => {
    script(800);
    const { run_id } = await app.contractReview.submit({ document: doc(), autoApprove: true });
    const first = app.contractReview.runQueued(run_id, { workerId: "test-a", claim: { leaseMs: 60_000 } });
    await until("the first executor to be mid-run", () => server.requestsFor("risk_analyst").length > 0);
    await expect(app.contractReview.runQueued(run_id, { workerId: "test-b", claim: { leaseMs: 0 } })).rejects.toBeInstanceOf(ThreadBusyError);
    expect((await first).status).toBe("completed");
    expect(server.requestsFor("clause_extractor")).toHaveLength(1);
  });

  it("a worker killed with SIGKILL mid-run: another picks the run up after the lease and finishes it without repeating finished calls", async () => {
    script(3_000);
    const { run_id } = await app.contractReview.submit({ document: doc(), autoApprove: true });
    const a = startWorker();
    const { thread_id } = (await app.contractReview.get({ runId: run_id }))!;
    // the kill lands once the clauses are checkpointed and the terms analyst's answer is kept
    // (its pending write), while the risk analyst's call is in flight: only that call may be made again
    await until(
      "the risk analyst call to be in flight, the other steps saved",
      async () => server.requestsFor("risk_analyst").length > 0 && (await saved(thread_id, "clauses")) && (await saved(thread_id, "terms")),
    );
    expect(server.requestsFor("clause_extractor")).toHaveLength(1);
    a.kill("SIGKILL");
    await exited(a);
    expect(await statusOf(run_id)).toBe("running");

    script(10);
    const b = startWorker();
    try {
      await until(`run ${run_id} to complete (worker b: ${b.output()})`, async () => (await statusOf(run_id)) === "completed");
      expect(server.requestsFor("clause_extractor")).toHaveLength(1); // finished before the kill: not made again
      expect(server.requestsFor("terms_analyst")).toHaveLength(1);
      expect(server.requestsFor("risk_analyst")).toHaveLength(2); // the one in flight at the kill, once more
    } finally {
      b.kill("SIGTERM");
    }
    expect(await exited(b)).toBe(0);
  }, 60_000);

  it("an idle worker starts a submitted run at once: the submit's NOTIFY wakes it, not its next poll", async () => {
    script(0);
    const worker = new Worker({ pool: app.db.pool, queue: app.queue!, runners: app.runners, concurrency: 1, pollMs: 120_000, leaseMs: 60_000 });
    await worker.start();
    try {
      await new Promise((r) => setTimeout(r, 500)); // its first fetch found nothing: it waits on a 120 s poll
      const t0 = Date.now();
      const { run_id } = await app.contractReview.submit({ document: doc(), autoApprove: true });
      await until(`run ${run_id} to complete`, async () => (await statusOf(run_id)) === "completed", 20_000);
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await worker.drain();
    }
  }, 60_000);

  it("SIGTERM drains: the in-flight run stops at a checkpoint, goes back to the queue, the worker exits 0; the next worker finishes it", async () => {
    script(2_000);
    const { run_id } = await app.contractReview.submit({ document: doc(), autoApprove: true });
    const a = startWorker();
    await until("the risk analyst call to be in flight", () => server.requestsFor("risk_analyst").length > 0);
    a.kill("SIGTERM");
    expect(await exited(a)).toBe(0);
    expect(a.output()).toContain("draining 1 in-flight runs");
    expect(await statusOf(run_id)).toBe("queued");

    const b = startWorker();
    try {
      await until(`run ${run_id} to complete`, async () => (await statusOf(run_id)) === "completed");
      expect(server.requestsFor("clause_extractor")).toHaveLength(1);
      expect(server.requestsFor("risk_analyst")).toHaveLength(1); // it finished before the drain stopped the run
      expect(server.requestsFor("terms_analyst")).toHaveLength(1);
    } finally {
      b.kill("SIGTERM");
    }
    expect(await exited(b)).toBe(0);
  }, 60_000);
});
