import { randomUUID } from "node:crypto";
import type PgBoss from "pg-boss";
import { afterEach, describe, expect, it } from "vitest";
import { age, formatStatus } from "../cli/status.js";
import { openQueue, RUNS_QUEUE } from "../runtime/queue/queue.js";
import { readStatus, type Status } from "../runtime/observability/status.js";
import { databaseUrl, runOpsgraph } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";

// `opsgraph status` on a fresh database: workers, runs and dead letters inserted directly,
// jobs sent on the real pg-boss queue.

const LEASE_MS = 30_000;

const db = useFreshDatabase("opsgraph-status-");
afterEach(async () => {
  await boss?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
  boss = undefined;
});
let boss: PgBoss | undefined;

async function worker(id: string, o: { heartbeatAgoS: number; stopped?: boolean; inFlight?: number; concurrency?: number }) {
  await db.pool.query(
    `INSERT INTO opsgraph_workers (worker_id, host, pid, concurrency, in_flight, started_at, heartbeat_at, stopped_at)
     VALUES ($1, 'host-a', 4242, $2, $3, now() - interval '1 hour', now() - make_interval(secs => $4), CASE WHEN $5 THEN now() ELSE NULL END)`,
    [id, o.concurrency ?? 4, o.inFlight ?? 0, o.heartbeatAgoS, o.stopped ?? false],
  );
}

async function run(status: string) {
  const id = randomUUID();
  await db.pool.query(`INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status) VALUES ($1, $2, $3, 'contract-review', $4)`, [
    id,
    `req-${id}`,
    `contract-review:${id}`,
    status,
  ]);
  return id;
}

async function deadLetter(runId: string, status: "waiting" | "discarded") {
  await db.pool.query(
    `INSERT INTO opsgraph_dead_letters (run_id, thread_id, flow, node, agent, errors, attempts, status) VALUES ($1, $2, 'contract-review', 'risk_analyst', 'risk_analyst', '[]', 0, $3)`,
    [runId, `contract-review:${runId}`, status],
  );
}

/** Two alive workers (one 80 s silent: alive at a 30 s lease, lost at 20 s), one lost, one stopped; runs; dead letters; three jobs waiting, one taken. */
async function populate() {
  await worker("w-alive", { heartbeatAgoS: 2, inFlight: 3, concurrency: 16 });
  await worker("w-slow", { heartbeatAgoS: 80, inFlight: 1, concurrency: 4 });
  await worker("w-killed", { heartbeatAgoS: 600, inFlight: 2 });
  await worker("w-drained", { heartbeatAgoS: 5, stopped: true });
  const queued = [await run("queued"), await run("queued"), await run("queued")];
  await run("running");
  await run("awaiting_review");
  await run("completed");
  const lettered = await run("dead_lettered");
  await deadLetter(lettered, "waiting");
  await deadLetter(await run("dead_lettered"), "discarded");

  boss = await openQueue(db.pool);
  const ids: string[] = [];
  for (const run_id of queued) ids.push((await boss.send(RUNS_QUEUE, { run_id }))!);
  await boss.createQueue("something-else");
  await boss.send("something-else", { other: true }); // another queue's job is not a run
  await db.pool.query(`UPDATE pgboss.job SET created_on = now() - interval '42 seconds' WHERE id = $1`, [ids[0]]);
  const taken = await boss.fetch(RUNS_QUEUE); // a worker has it: active, not waiting
  expect(taken).toHaveLength(1);
  expect(taken[0]!.id).toBe(ids[0]);
  await db.pool.query(`UPDATE pgboss.job SET created_on = now() - interval '17 seconds' WHERE id = $1`, [ids[1]]);
}

describe("opsgraph status", () => {
  it("reads an empty deployment, before any queue was opened, as zeros", async () => {
    const { rows } = await db.pool.query("SELECT to_regclass('pgboss.job') AS t");
    expect(rows[0].t).toBeNull();
    const s = await readStatus(db.pool, { leaseMs: LEASE_MS });
    expect(s.workers).toEqual({ alive: [], lost: 0, stopped: 0 });
    expect(s.queue).toEqual({ depth: 0, lag_ms: null });
    expect(s.runs).toEqual({ queued: 0, running: 0, awaiting_review: 0, completed: 0, failed: 0, dead_lettered: 0 });
    expect(s.dead_letters).toEqual({ waiting: 0 });
    expect(formatStatus(s)).toBe(
      [
        "workers       0 alive",
        "queue         0 waiting",
        "runs          queued 0  running 0  awaiting_review 0  completed 0  failed 0  dead_lettered 0",
        "dead letters  0 waiting",
        "breakers      all closed",
        "spend today   $0.00",
      ].join("\n"),
    );
  });

  it("counts workers alive within 3 leases, the queue's waiting run jobs and the oldest one's age, runs by status and waiting dead letters", async () => {
    await populate();
    const s = await readStatus(db.pool, { leaseMs: LEASE_MS });

    expect(s.workers.alive.map((w) => w.worker_id)).toEqual(["w-alive", "w-slow"]);
    expect(s.workers.alive[0]).toMatchObject({ worker_id: "w-alive", host: "host-a", pid: 4242, concurrency: 16, in_flight: 3 });
    expect(s.workers.alive[0]!.heartbeat_age_ms).toBeGreaterThanOrEqual(2_000);
    expect(s.workers.alive[0]!.heartbeat_age_ms).toBeLessThan(30_000);
    expect(s.workers).toMatchObject({ lost: 1, stopped: 1 });
    expect(s.queue.depth).toBe(2);
    expect(s.queue.lag_ms).toBeGreaterThanOrEqual(17_000); // the 42 s one is taken: it no longer waits
    expect(s.queue.lag_ms).toBeLessThan(40_000);
    expect(s.runs).toEqual({ queued: 3, running: 1, awaiting_review: 1, completed: 1, failed: 0, dead_lettered: 2 });
    expect(s.dead_letters).toEqual({ waiting: 1 });

    // a shorter lease: 80 s of silence is more than 3 leases
    const short = await readStatus(db.pool, { leaseMs: 20_000 });
    expect(short.workers.alive.map((w) => w.worker_id)).toEqual(["w-alive"]);
    expect(short.workers).toMatchObject({ lost: 2, stopped: 1 });

    const text = formatStatus(s);
    expect(text).toMatch(/^workers {7}2 alive, 4\/20 slots busy; 1 lost \(no heartbeat for 3 leases\), 1 stopped$/m);
    expect(text).toMatch(/^ {2}w-alive {2}host-a {2}4242 {2}3\/16 {2}\d\.\ds ago {3}60m(\d+s)?$/m);
    expect(text).toMatch(/^queue {9}2 waiting, oldest 1[78]s$/m);
    expect(text).toContain("runs          queued 3  running 1  awaiting_review 1  completed 1  failed 0  dead_lettered 2");
    expect(text).toContain("dead letters  1 waiting (opsgraph dlq list)");
  });

  it("prints it from the CLI, as text and as one JSON object", async () => {
    await populate();
    const json = await opsgraph(["status", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const s = JSON.parse(json.stdout) as Status;
    expect(s.workers.alive.map((w) => w.worker_id)).toEqual(["w-alive", "w-slow"]);
    expect(s.queue.depth).toBe(2);
    expect(s.runs.queued).toBe(3);
    expect(s.dead_letters.waiting).toBe(1);

    const text = await opsgraph(["status"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("2 alive");
    expect(text.stdout).toMatch(/queue {9}2 waiting, oldest \d+s/);
  });

  it("says ages briefly", () => {
    expect([950, 42_000, 119_000, 5_400_000, 3 * 86_400_000 + 3_600_000].map(age)).toEqual(["0.9s", "42s", "119s", "90m", "3d1h"]);
  });
});

const opsgraph = (args: string[]) => runOpsgraph(args, { DATABASE_URL: databaseUrl(db.pool), OPSGRAPH_DATA_DIR: db.dir, LOG_LEVEL: "silent" });
