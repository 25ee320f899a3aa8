import path from "node:path";
import type PgBoss from "pg-boss";
import { afterEach, describe, expect, it } from "vitest";
import { InputError } from "../runtime/errors.js";
import type { PortfolioInput } from "../flows/portfolio-monitoring/run/input.js";
import { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import { openQueue, RUNS_QUEUE } from "../runtime/queue/queue.js";
import { Schedules, submitThrough, type SubmitTick } from "../runtime/queue/schedules.js";
import { scheduledPortfolio } from "../flows/portfolio-monitoring/run/schedule.js";
import { Worker } from "../runtime/queue/worker.js";
import { databaseUrl, runOpsgraph, ROOT } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";

// Schedules on a fresh database, with a fixed "now" instead of waiting for real minutes; runs
// submitted through the real PortfolioRunner on the real pg-boss queue.

const FUNDAMENTALS = path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv");
const PORTFOLIO: PortfolioInput = {
  name: "airlines",
  year: 2014,
  period: "week",
  companies: [{ ticker: "FJRD" }, { ticker: "KSTR" }],
  sources: { fundamentals: FUNDAMENTALS },
};
const WEEKLY = "0 6 * * MON";
/** A Thursday: the weekly schedule's first tick is Monday 2026-01-05 06:00 UTC. */
const T0 = Date.parse("2026-01-01T00:00:00Z");
const FIRST_TICK = "2026-01-05T06:00:00.000Z";

const db = useFreshDatabase("opsgraph-schedules-");
const queues: PgBoss[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop({ graceful: false, wait: true, close: false }).catch(() => {});
});

const at = (iso: string | number) => ({ now: () => (typeof iso === "number" ? iso : Date.parse(iso)) });

/** A PortfolioRunner on a queue of its own, as each worker process has. */
async function portfolioRunner(): Promise<PortfolioRunner & { queue: PgBoss }> {
  const queue = await openQueue(db.pool);
  queues.push(queue);
  return Object.assign(new PortfolioRunner({ pool: db.pool, tiers: [], reportsDir: path.join(db.dir, "reports"), queue }), { queue });
}

async function counts() {
  const runs = await db.pool.query<{ request_id: string; run_id: string; status: string }>(`SELECT request_id, run_id::text, status FROM opsgraph_runs`);
  const jobs = await db.pool.query(`SELECT 1 FROM pgboss.job WHERE name = $1`, [RUNS_QUEUE]);
  return { runs: runs.rows, jobs: jobs.rowCount };
}

describe("add, list, remove", () => {
  it("keeps a schedule with its first tick in its own time zone, lists the next first, and removes it", async () => {
    const schedules = new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) });
    const utc = await schedules.add({ flow: "portfolio-monitoring", cron: WEEKLY, input: PORTFOLIO });
    const paris = await schedules.add({ flow: "portfolio-monitoring", cron: WEEKLY, tz: "Europe/Paris", input: PORTFOLIO });
    expect(utc).toMatchObject({
      flow: "portfolio-monitoring",
      cron: WEEKLY,
      tz: "UTC",
      next_run_at: FIRST_TICK,
      last_run_at: null,
      last_run_id: null,
      enabled: true,
      input: PORTFOLIO,
    });
    expect(utc.id).toMatch(/^sch_[0-9a-f]{8}$/);
    expect(paris.next_run_at).toBe("2026-01-05T05:00:00.000Z"); // 06:00 in Paris is 05:00 UTC in winter

    expect((await schedules.list()).map((s) => s.id)).toEqual([paris.id, utc.id]);
    expect((await schedules.remove(paris.id)).id).toBe(paris.id);
    expect((await schedules.list()).map((s) => s.id)).toEqual([utc.id]);
    await expect(schedules.remove(paris.id)).rejects.toThrow(new InputError(`schedule ${paris.id}: no such schedule (opsgraph schedule list shows them)`));
  });

  it("refuses a bad cron, a bad time zone and a flow it cannot schedule, writing nothing", async () => {
    const schedules = new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) });
    const add = (o: { flow?: string; cron?: string; tz?: string }) => schedules.add({ flow: "portfolio-monitoring", cron: WEEKLY, input: PORTFOLIO, ...o });
    for (const cron of ["0 6 * *", "0 6 * * FOO", "61 6 * * *", "every monday", "0 0 6 * * MON"]) {
      const err = await add({ cron }).catch((e: unknown) => e);
      expect(err, cron).toBeInstanceOf(InputError);
      expect((err as Error).message, cron).toMatch(new RegExp(`^--cron "${cron.replace(/\*/g, "\\*")}": .*five fields`));
      expect((err as Error).message).not.toContain("\n");
    }
    await expect(add({ tz: "Mars/Olympus" })).rejects.toThrow(/^--tz "Mars\/Olympus": not a time zone/);
    await expect(add({ flow: "contract-review" })).rejects.toThrow("flow contract-review: cannot be scheduled (schedulable flows: portfolio-monitoring)");
    expect(await schedules.list()).toEqual([]);
    expect((await add({ cron: "@weekly" })).next_run_at).toBe("2026-01-04T00:00:00.000Z"); // Sunday midnight
  });
});

describe("each tick starts exactly one run", () => {
  it("5 schedulers firing the same due tick at once submit one run and one job, then the next tick is in the future", async () => {
    const submit = submitThrough([scheduledPortfolio(await portfolioRunner())]);
    const s = await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) }).add({
      flow: "portfolio-monitoring",
      cron: WEEKLY,
      input: PORTFOLIO,
    });
    const now = Date.parse(FIRST_TICK) + 60_000;
    const fired = (
      await Promise.all(Array.from({ length: 5 }, () => new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(now), submit }).fireDue()))
    ).flat();

    const { runs, jobs } = await counts();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ request_id: `schedule:${s.id}:${FIRST_TICK}`, status: "queued" });
    expect(jobs).toBe(1);
    expect(fired).toHaveLength(1); // one caller claimed the tick
    expect(fired[0]).toMatchObject({ schedule_id: s.id, tick: FIRST_TICK, run_id: runs[0]!.run_id });

    const [after] = await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"] }).list();
    expect(after).toMatchObject({
      next_run_at: "2026-01-12T06:00:00.000Z",
      last_run_at: new Date(now).toISOString(),
      last_run_id: runs[0]!.run_id,
      last_error: null,
    });
    expect(Date.parse(after!.next_run_at)).toBeGreaterThan(now);
    // the same moment again: nothing is due
    expect(await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(now), submit }).fireDue()).toEqual([]);
    expect((await counts()).runs).toHaveLength(1);
  });

  it("a tick submitted by a worker that died before claiming it is still one run", async () => {
    const runner = await portfolioRunner();
    const s = await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) }).add({
      flow: "portfolio-monitoring",
      cron: WEEKLY,
      input: PORTFOLIO,
    });
    const dead = await runner.submit({ portfolio: PORTFOLIO, requestId: `schedule:${s.id}:${FIRST_TICK}` });
    const fired = await new Schedules({
      pool: db.pool,
      flows: ["portfolio-monitoring"],
      clock: at(Date.parse(FIRST_TICK) + 1000),
      submit: submitThrough([scheduledPortfolio(runner)]),
    }).fireDue();
    expect(fired).toEqual([expect.objectContaining({ run_id: dead.run_id, created: false })]);
    expect(await counts()).toMatchObject({ runs: [expect.objectContaining({ run_id: dead.run_id })], jobs: 1 });
  });

  it("ticks missed for weeks fire once, and the next tick is counted from now", async () => {
    const submit = submitThrough([scheduledPortfolio(await portfolioRunner())]);
    const s = await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) }).add({
      flow: "portfolio-monitoring",
      cron: "0 * * * *",
      input: PORTFOLIO,
    });
    const now = Date.parse("2026-02-10T09:30:00Z"); // some 950 hourly ticks later
    const later = new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(now), submit });
    expect(await later.fireDue()).toEqual([expect.objectContaining({ tick: "2026-01-01T01:00:00.000Z", created: true })]);
    expect(await later.fireDue()).toEqual([]);
    expect((await counts()).runs).toEqual([expect.objectContaining({ request_id: `schedule:${s.id}:2026-01-01T01:00:00.000Z` })]);
    expect((await later.list())[0]!.next_run_at).toBe("2026-02-10T10:00:00.000Z");
  });

  it("a tick whose input is bad is claimed with its error; one whose submission failed otherwise is tried again", async () => {
    const schedules = new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) });
    const bad = await schedules.add({ flow: "portfolio-monitoring", cron: WEEKLY, input: { ...PORTFOLIO, sources: {} } });
    const now = at(Date.parse(FIRST_TICK) + 1000);
    let calls = 0;
    const down: SubmitTick = () => {
      calls++;
      return Promise.reject(new Error("connection terminated"));
    };
    expect(await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: now, submit: down }).fireDue()).toEqual([]);
    expect(calls).toBe(1);
    expect((await schedules.list())[0]).toMatchObject({ next_run_at: FIRST_TICK, last_run_at: null });

    const fired = await new Schedules({
      pool: db.pool,
      flows: ["portfolio-monitoring"],
      clock: now,
      submit: submitThrough([scheduledPortfolio(await portfolioRunner())]),
    }).fireDue();
    expect(fired).toEqual([
      expect.objectContaining({ schedule_id: bad.id, run_id: null, error: "sources: name at least one of fundamentals, kpis or postgres" }),
    ]);
    expect((await schedules.list())[0]).toMatchObject({
      next_run_at: "2026-01-12T06:00:00.000Z",
      last_error: "sources: name at least one of fundamentals, kpis or postgres",
    });
    expect((await counts()).runs).toEqual([]);
  });

  it("3 real workers start a due tick's run once, and one of them executes it", async () => {
    const s = await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: at(T0) }).add({
      flow: "portfolio-monitoring",
      cron: WEEKLY,
      input: PORTFOLIO,
    });
    const now = at(Date.parse(FIRST_TICK) + 5000);
    const passes = [0, 0, 0];
    const workers: Worker[] = [];
    for (const i of passes.keys()) {
      const runner = await portfolioRunner(); // one after the other: pg-boss's first start creates its schema
      const schedules = new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"], clock: now, submit: submitThrough([scheduledPortfolio(runner)]) });
      const counting = { fireDue: () => schedules.fireDue().finally(() => passes[i]!++) };
      workers.push(new Worker({ pool: db.pool, queue: runner.queue, runners: [runner], concurrency: 1, pollMs: 20, scheduleEveryMs: 20, schedules: counting }));
    }
    await Promise.all(workers.map((w) => w.start()));
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { runs } = await counts();
        if (runs[0]?.status === "completed" && passes.every((n) => n >= 5)) break;
        if (Date.now() > deadline) throw new Error(`timed out: runs ${JSON.stringify(runs)}, passes ${passes}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await Promise.all(workers.map((w) => w.drain()));
    }
    const { runs, jobs } = await counts();
    expect(runs).toEqual([expect.objectContaining({ request_id: `schedule:${s.id}:${FIRST_TICK}`, status: "completed" })]);
    expect(jobs).toBe(1);
    expect((await new Schedules({ pool: db.pool, flows: ["portfolio-monitoring"] }).list())[0]).toMatchObject({
      next_run_at: "2026-01-12T06:00:00.000Z",
      last_run_id: runs[0]!.run_id,
    });
  });
});

describe("opsgraph schedule", () => {
  it("adds, lists and removes a schedule; a bad cron or an unknown id is one line on stderr and exit 2", async () => {
    const env = { DATABASE_URL: databaseUrl(db.pool), OPSGRAPH_DATA_DIR: db.dir };
    const sample = path.join(ROOT, "samples", "portfolio.yaml");

    const added = await runOpsgraph(["schedule", "add", "portfolio-monitoring", "--cron", WEEKLY, "--tz", "Europe/Paris", "--input", sample, "--json"], env);
    expect(added.code, added.stderr).toBe(0);
    const s = JSON.parse(added.stdout) as { id: string; next_run_at: string; tz: string; input: PortfolioInput };
    expect(s.tz).toBe("Europe/Paris");
    expect(Date.parse(s.next_run_at)).toBeGreaterThan(Date.now());
    expect(new Date(s.next_run_at).getUTCDay()).toBe(1); // a Monday
    expect(s.input.companies).toHaveLength(20);
    // resolved from the file's folder (samples/), wherever the data really is
    expect(s.input.sources.fundamentals).toBe(path.resolve(ROOT, "samples", "../../shared/datasets/portfolio/sp500-fundamentals-2012-2016/fundamentals.csv"));

    const listed = await runOpsgraph(["schedule", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^id +flow +cron +tz +next run +last run +last run id\\n${s.id} +portfolio-monitoring +0 6 \\* \\* MON +Europe/Paris +\\d{4}-\\d\\d-\\d\\d 06:00 +- +-\\n$`,
      ),
    );

    const bad = await runOpsgraph(["schedule", "add", "portfolio-monitoring", "--cron", "0 6 * *", "--input", sample], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^opsgraph: --cron "0 6 \* \*": not a cron expression: give five fields[^\n]*\n$/);

    const removed = await runOpsgraph(["schedule", "remove", s.id, "--json"], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ id: s.id });
    const again = await runOpsgraph(["schedule", "remove", s.id], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`opsgraph: schedule ${s.id}: no such schedule (opsgraph schedule list shows them)\n`);
    expect(JSON.parse((await runOpsgraph(["schedule", "list", "--json"], env)).stdout)).toEqual({ schedules: [] });
  });
});
