import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { databaseUrl } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { AGENTS, MODEL } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";
import { runCaller, startWorkers, submitContracts, waitFinished, type WorkerFleet } from "../testing/worker-fleet.js";

// The breaker across real `opsgraph worker` processes on one (fresh) database, the real
// ChatOpenAI against a scripted model that answers every request with a 500.

const THRESHOLD = 3;
const db = useFreshDatabase("opsgraph-fleet-");
let server: ScriptedServer;
let app: App | undefined;
const fleets: WorkerFleet[] = [];

beforeAll(async () => {
  server = await startScriptedOpenAI({ defaultResponder: () => ({ fault: { kind: "status", status: 500 } }) });
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await Promise.all(fleets.splice(0).map((f) => f.stop()));
  await app?.close();
  app = undefined;
  server.reset();
});

// no probe while a test runs: the cooldown is longer than any test
const env = () => ({
  DATABASE_URL: databaseUrl(db.pool),
  OPSGRAPH_DATA_DIR: db.dir,
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-test",
  OPSGRAPH_MODELS: MODEL,
  OPSGRAPH_BREAKER_FAILURES: String(THRESHOLD),
  OPSGRAPH_BREAKER_COOLDOWN_MS: "600000",
});
const workers = (n: number) => {
  const f = startWorkers(n, env(), { concurrency: 1 });
  fleets.push(f);
  return f;
};
const deadCalls = () => server.requests.length;
const aliveWorkers = async () => (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_workers WHERE stopped_at IS NULL")).rows[0]!.n;

describe("one circuit breaker for every worker process", () => {
  it("two workers make about the calls one worker makes to a dead model, not twice them", async () => {
    app = await openApp(loadConfig({ ...env(), LOG_LEVEL: "silent" }), { queue: true });
    const counts: number[] = [];
    for (const n of [1, 2]) {
      server.reset();
      await db.pool.query("DELETE FROM opsgraph_circuit_breakers"); // every round starts closed
      const fleet = workers(n);
      await until(`${n} workers to register`, async () => (await aliveWorkers()) >= n, 60_000, 100);
      const runs = await submitContracts(app, 6, `round-${n}`);
      await waitFinished(db.pool, runs);
      await fleet.stop();
      await db.pool.query("UPDATE opsgraph_workers SET stopped_at = now()");
      const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_runs WHERE run_id = ANY($1) AND status = 'completed'", [
        runs,
      ]);
      expect(rows[0]!.n).toBe(6); // every agent fell back to rules
      counts.push(deadCalls());
    }
    // one worker (concurrency 1) learns the outage in THRESHOLD calls. Two: the failures in a
    // row are the fleet's, so the same THRESHOLD open it, plus at most the other worker's call
    // already in flight at that moment (workers x concurrency - 1 = 1). Each on its own: 2 x 3.
    expect(counts[0]).toBe(THRESHOLD);
    expect(counts[1]).toBeLessThanOrEqual(THRESHOLD + 1);
  }, 240_000);

  it("a breaker one process opens is open in a running worker at once, and in a worker started after it", async () => {
    app = await openApp(loadConfig({ ...env(), LOG_LEVEL: "silent" }), { queue: true });
    const fleet = workers(1);
    await until("the worker to register", async () => (await aliveWorkers()) >= 1, 60_000, 100);
    // this process finds the model dead and opens the breaker
    const tier = app.tiers[0]!;
    for (let i = 0; i < THRESHOLD; i++) await expect(tier.invoke({ agent: AGENTS[0], schema: z.object({}), system: "s", user: "u" })).rejects.toThrow();
    expect(deadCalls()).toBe(THRESHOLD);
    // submitted at once: the worker's first model call comes within milliseconds, and is skipped
    const first = await submitContracts(app, 1, "running");
    await waitFinished(db.pool, first);
    expect(deadCalls()).toBe(THRESHOLD);

    // the worker restarts (and this process ends): the next one reads the open breaker at start
    await fleet.stop();
    await app.close();
    app = await openApp(loadConfig({ ...env(), LOG_LEVEL: "silent" }), { queue: true });
    workers(1);
    const second = await submitContracts(app, 1, "restarted");
    await waitFinished(db.pool, second);
    expect(deadCalls()).toBe(THRESHOLD);
    const { rows } = await db.pool.query("SELECT status, (result->'produced_by') AS produced_by FROM opsgraph_runs WHERE run_id = ANY($1)", [
      [...first, ...second],
    ]);
    expect(rows.map((r) => r.status)).toEqual(["completed", "completed"]);
  }, 180_000);

  it("in half-open exactly one probe crosses the processes: three processes calling every 10 ms make one call per cooldown", async () => {
    const COOLDOWN_MS = 1_500;
    const PROBE_MS = 600;
    // the model stays dead; each probe takes 600 ms to fail, and opens the breaker again
    server.setResponder("risk_analyst", () => ({ fault: { kind: "latency", ms: PROBE_MS, then: { fault: { kind: "status", status: 500 } } } }));
    // opened by some process just now (as the first test's workers would)
    await db.pool.query(`INSERT INTO opsgraph_circuit_breakers (breaker_key, state, opened_at, since, generation) VALUES ($1, 'open', now(), now(), 1)`, [
      `${MODEL}@${server.url}`,
    ]);
    const results = await Promise.all(
      Array.from({ length: 3 }, () => runCaller({ ...env(), OPSGRAPH_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS), OPSGRAPH_TEST_CALL_FOR_MS: "8000" })),
    );
    const arrivals = server.requests.map((r) => r.at).sort((a, b) => a - b);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    // every probe waits for the one before it to fail (600 ms) and a cooldown (1.5 s) after that
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(COOLDOWN_MS + PROBE_MS - 200);
    expect(results.reduce((n, r) => n + r.error, 0)).toBe(arrivals.length);
    expect(results.every((r) => r.skipped > 100)).toBe(true);
  }, 120_000);
});
