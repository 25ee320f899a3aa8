import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { databaseUrl, ROOT, runOpsgraph } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { companyOf, MODEL, scriptSourcingModel, SOURCING_AGENTS } from "../testing/scripted-sourcing.js";
import { until } from "../testing/until.js";

// The sourcing flow as a user runs it: `opsgraph sourcing ingest`, real `opsgraph worker`
// processes against the scripted model server, one fresh database per test.

const db = useFreshDatabase("opsgraph-sourcing-worker-");
const CSV = path.join(ROOT, "test", "fixtures", "startups", "Startups.csv"); // invented: see test/fixtures/README.md
const THESIS = path.join(ROOT, "samples", "thesis.md");
let server: ScriptedServer;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  server = await startScriptedOpenAI();
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
  await server?.close();
});

const env = () => ({
  DATABASE_URL: databaseUrl(db.pool),
  OPSGRAPH_DATA_DIR: db.dir,
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-test",
  OPSGRAPH_MODELS: MODEL,
  LOG_LEVEL: "warn",
});

function startWorker() {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL") childEnv[k] = v;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", "2", "--lease-ms", "2000"], {
    cwd: ROOT,
    env: { ...childEnv, ...env() },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  workers.push(child);
  return Object.assign(child, { output: () => err });
}
const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));

const count = async (sql: string, params: unknown[] = []) => (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
const finished = () =>
  count(`SELECT count(DISTINCT correlation_id)::int AS n FROM opsgraph_events WHERE (name, version) IN (('outreach.ready', 1), ('company.rejected', 1))`);
const ingest = async () => {
  const r = await runOpsgraph(["sourcing", "ingest", "--csv", CSV, "--thesis", THESIS, "--limit", "40", "--json"], env());
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { published: number; skipped: number; invalid: number };
};

describe("sourcing through opsgraph worker and the scripted model", () => {
  it("40 startups reach a final stage; the same ingest again publishes 0; status says so", async () => {
    scriptSourcingModel(server);
    server.requests.length = 0;
    expect(await ingest()).toMatchObject({ published: 40, skipped: 0, invalid: 0 });
    const w = startWorker();
    try {
      await until(`40 companies finished (worker: ${w.output()})`, async () => (await finished()) === 40, 150_000, 250);
    } finally {
      w.kill("SIGTERM");
      await exited(w);
    }
    expect(await ingest()).toMatchObject({ published: 0, skipped: 40, invalid: 0 });
    const status = await runOpsgraph(["sourcing", "status", "--json"], env());
    const s = JSON.parse(status.stdout);
    expect(s.finished).toBe(40);
    expect(s.stages.company_profiler).toMatchObject({ consumed: { handled: 40 }, pending: 0 });
    expect(s.stages.fit_analyst).toMatchObject({ consumed: { handled: 40 }, pending: 0 });
    // every company profiled and assessed by the model tier, once each
    for (const agent of ["company_profiler", "fit_analyst"]) expect(new Set(server.requestsFor(agent).map(companyOf)).size).toBe(40);
    expect(server.requestsFor("company_profiler")).toHaveLength(40);
    const trace = await runOpsgraph(["sourcing", "trace", "Quillstack"], env());
    expect(trace.stdout).toMatch(/company\.discovered\.v1[\s\S]*company\.profiled\.v1[\s\S]*company\.fit_assessed\.v1/);
  }, 240_000);

  it("a worker killed mid-way: the next one finishes the rest, and no event is handled twice (counted)", async () => {
    scriptSourcingModel(server, 120);
    server.requests.length = 0;
    expect(await ingest()).toMatchObject({ published: 40 });
    const a = startWorker();
    await until(
      `worker a to be mid-way (${a.output()})`,
      async () => (await count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions`)) >= 25,
      150_000,
      250,
    );
    a.kill("SIGKILL");
    await exited(a);
    const byA = await count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions`);
    expect(await finished()).toBeLessThan(40);

    const b = startWorker();
    try {
      // a rejected company is finished when the fit analyst rejects it, but the outreach writer
      // still records its skip of the assessment after that: wait for every consumption too
      const consumptions = () => count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions`);
      await until(
        `40 companies finished and 120 events consumed after the restart (worker b: ${b.output()})`,
        async () => (await finished()) === 40 && (await consumptions()) === 120,
        150_000,
        250,
      );
    } finally {
      b.kill("SIGTERM");
      await exited(b);
    }
    const consumed = (
      await db.pool.query<{ consumer: string; n: number; events: number }>(
        `SELECT consumer, count(*)::int AS n, count(DISTINCT event_id)::int AS events FROM opsgraph_event_consumptions GROUP BY consumer ORDER BY consumer`,
      )
    ).rows;
    const fits = await count(`SELECT count(*)::int AS n FROM opsgraph_events WHERE name = 'company.fit_assessed' AND (payload->'fit'->>'fits')::boolean`);
    expect(consumed).toEqual([
      { consumer: "company_profiler", n: 40, events: 40 },
      { consumer: "fit_analyst", n: 40, events: 40 },
      { consumer: "outreach_writer", n: 40, events: 40 },
    ]);
    // each derived event was published once: one job per subscriber queue, besides redeliveries of lost deliveries
    const published = (
      await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pgboss.job WHERE name LIKE 'sourcing-%' AND (data->>'redelivery') IS NULL GROUP BY name, data->>'id' HAVING count(*) > 1`,
      )
    ).rows;
    expect(published).toEqual([]);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_runs`)).toBe(40 + 40 + fits);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_outreach_drafts`)).toBe(fits);
    // model calls: once per company and agent, but for the calls in flight at the kill (at most 2 at once)
    const repeated = SOURCING_AGENTS.flatMap((agent) => {
      const per = new Map<string, number>();
      for (const r of server.requestsFor(agent)) per.set(companyOf(r), (per.get(companyOf(r)) ?? 0) + 1);
      return [...per.values()].filter((n) => n > 1);
    });
    expect(repeated.length).toBeLessThanOrEqual(2);
    expect(repeated.every((n) => n === 2)).toBe(true);
    const byWorker = (
      await db.pool.query<{ worker_id: string; n: number }>(`SELECT worker_id, count(*)::int AS n FROM opsgraph_event_consumptions GROUP BY worker_id`)
    ).rows;
    expect(byWorker).toHaveLength(2);
    expect(byWorker.reduce((s, w) => s + w.n, 0)).toBe(120);
    process.stderr.write(
      `sourcing kill/restart: ${byA} consumptions before the kill; by worker ${JSON.stringify(byWorker)}; model calls repeated ${repeated.length}; fits ${fits}\n`,
    );
  }, 240_000);
});
