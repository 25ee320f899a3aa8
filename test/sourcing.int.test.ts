import fs from "node:fs";
import path from "node:path";
import type PgBoss from "pg-boss";
import { afterEach, describe, expect, it } from "vitest";
import { parseThesis } from "../flows/sourcing/agents/thesis.js";
import { checkEvent, derivedEventId, type SourcingEvent } from "../flows/sourcing/graph/index.js";
import type { EventConsumer } from "../runtime/queue/event-bus.js";
import { stageQueue } from "../flows/sourcing/run/bus.js";
import { Outbox } from "../runtime/queue/outbox.js";
import { openQueue } from "../runtime/queue/queue.js";
import { Sourcing } from "../flows/sourcing/run/flow.js";
import { ROOT } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";

// The sourcing flow in process: the bus, the stages as subscribers, and their consumers
// polled by hand, on a fresh database each test. No model: every stage on its rules tier.

const db = useFreshDatabase("opsgraph-sourcing-");
const CSV = path.join(ROOT, "test", "fixtures", "startups", "Startups.csv"); // invented: see test/fixtures/README.md
const thesis = parseThesis(fs.readFileSync(path.join(ROOT, "samples", "thesis.md"), "utf8"));
let boss: PgBoss | undefined;

afterEach(async () => {
  await boss?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
  boss = undefined;
});

async function open() {
  boss = await openQueue(db.pool);
  const sourcing = new Sourcing({ pool: db.pool, tiers: [], reportsDir: db.dir, queue: boss });
  const consumers = sourcing.stages.map((s) => s.consumer({ workerId: "test", leaseMs: 60_000 })!);
  return { sourcing, consumers, boss };
}

/** Polls every consumer until a round takes nothing. */
async function drain(consumers: EventConsumer[]) {
  for (let round = 0; round < 50; round++) {
    let took = 0;
    for (const c of consumers) took += await c.poll(5);
    if (took === 0) return;
  }
  throw new Error("consumers never went idle");
}

const count = async (sql: string, params: unknown[] = []) => (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

describe("sourcing events: schemas and versions", () => {
  it("checks the envelope and the payload against the type, and names an unknown type or version", async () => {
    const { sourcing } = await open();
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    const { rows } = await db.pool.query(`SELECT id::text, name, version, correlation_id, causation_id, payload FROM opsgraph_events`);
    const stored = rows[0];
    expect(checkEvent(stored).ok).toBe(true);
    expect(checkEvent({ ...stored, version: 2 })).toEqual({ ok: false, reason: "unknown version 2 of company.discovered (known: company.discovered.v1)" });
    expect(checkEvent({ ...stored, name: "company.acquired" })).toEqual({ ok: false, reason: "unknown event type company.acquired" });
    const bad = checkEvent({ ...stored, payload: { ...stored.payload, company: { ...stored.payload.company, name: "" } } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toMatch(/^invalid company.discovered.v1 payload: company.name/);
    expect(checkEvent({ ...stored, id: "not-a-uuid" }).ok).toBe(false);
  });

  it("an invalid event is refused at publish: a dead letter with its reason, nothing on the bus", async () => {
    const { sourcing } = await open();
    const e = {
      id: derivedEventId("00000000-0000-4000-8000-000000000000", "test", "company.rejected.v1"),
      type: "company.rejected.v1" as const,
      correlation_id: "acme",
      causation_id: null,
      payload: { company: "Acme", stage: "test", reason: "", score: "high" as unknown as number },
    };
    expect(await sourcing.bus!.publish([e])).toEqual({ published: 0, duplicates: 0, invalid: 1 });
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_events`)).toBe(0);
    const { rows } = await db.pool.query(`SELECT node, errors FROM opsgraph_dead_letters`);
    expect(rows).toHaveLength(1);
    expect(rows[0].node).toBe("publish");
    expect(rows[0].errors[0].error).toMatch(/invalid company.rejected.v1 payload: score/);
  });

  it("an unknown version and an invalid payload delivered to a stage go to the dead letter queue; the valid event beside them is handled", async () => {
    const { sourcing, consumers, boss } = await open();
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    const { rows } = await db.pool.query(`SELECT id::text, name, version, correlation_id, causation_id, payload FROM opsgraph_events`);
    const valid = rows[0];
    // a newer producer's v2 and a broken v1, straight onto the profiler's queue, ahead of nothing
    await boss.send(stageQueue("company_profiler"), { ...valid, id: "11111111-1111-4111-8111-111111111111", version: 2 });
    await boss.send(stageQueue("company_profiler"), { ...valid, id: "22222222-2222-4222-8222-222222222222", payload: { thesis: valid.payload.thesis } });
    await drain(consumers);
    const letters = (await db.pool.query(`SELECT node, input_ref, errors FROM opsgraph_dead_letters ORDER BY id`)).rows;
    expect(letters.map((l) => [l.node, l.input_ref.event_id, l.errors[0].error.split(":")[0]]).sort((a, b) => (a[1] < b[1] ? -1 : 1))).toEqual(
      [
        ["company_profiler", "11111111-1111-4111-8111-111111111111", "unknown version 2 of company.discovered (known"],
        ["company_profiler", "22222222-2222-4222-8222-222222222222", "invalid company.discovered.v1 payload"],
      ].sort((a, b) => (a[1]! < b[1]! ? -1 : 1)),
    );
    expect(
      await count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions WHERE event_id = $1 AND consumer = 'company_profiler' AND outcome = 'handled'`, [
        valid.id,
      ]),
    ).toBe(1);
    expect((await sourcing.status()).finished).toBe(1);
  });
});

describe("sourcing ingest", () => {
  it("an invalid record is reported with its line and nothing of it is published; the others are", async () => {
    const { sourcing } = await open();
    const [header, first, second] = fs.readFileSync(CSV, "utf8").split("\n");
    const csv = path.join(db.dir, "startups.csv");
    fs.writeFileSync(csv, [header, first, `,${second!.split(",").slice(1).join(",")}`, ""].join("\n"));
    const r = await sourcing.ingest({ csv, thesis });
    expect(r.published).toBe(1);
    expect(r.invalid).toEqual([{ line: 3, reason: "Company: Too small: expected string to have >=1 characters" }]);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_events`)).toBe(1);
  });
});

describe("sourcing: idempotent consumption", () => {
  it("every event redelivered and the CSV ingested again: no stage runs again, nothing is published twice", async () => {
    const { sourcing, consumers, boss } = await open();
    expect(await sourcing.ingest({ csv: CSV, thesis, limit: 6 })).toEqual({ published: 6, skipped: 0, invalid: [] });
    await drain(consumers);
    const before = {
      events: await count(`SELECT count(*)::int AS n FROM opsgraph_events`),
      runs: await count(`SELECT count(*)::int AS n FROM opsgraph_runs`),
      checkpoints: await count(`SELECT count(*)::int AS n FROM checkpoints`),
      drafts: await count(`SELECT count(*)::int AS n FROM opsgraph_outreach_drafts`),
    };
    expect((await sourcing.status()).finished).toBe(6);
    // every event delivered once more to every subscriber, as after a lost acknowledgement
    const { rows } = await db.pool.query(
      `SELECT e.id::text, e.name, e.version, e.correlation_id, e.causation_id::text, e.payload, s.name AS queue FROM opsgraph_events e JOIN pgboss.subscription s ON s.event = e.name || '.v' || e.version`,
    );
    for (const r of rows)
      await boss.send(r.queue, {
        id: r.id,
        name: r.name,
        version: r.version,
        correlation_id: r.correlation_id,
        causation_id: r.causation_id,
        payload: r.payload,
      });
    expect(await sourcing.ingest({ csv: CSV, thesis, limit: 6 })).toEqual({ published: 0, skipped: 6, invalid: [] });
    await drain(consumers);
    expect({
      events: await count(`SELECT count(*)::int AS n FROM opsgraph_events`),
      runs: await count(`SELECT count(*)::int AS n FROM opsgraph_runs`),
      checkpoints: await count(`SELECT count(*)::int AS n FROM checkpoints`),
      drafts: await count(`SELECT count(*)::int AS n FROM opsgraph_outreach_drafts`),
    }).toEqual(before);
    // 18 stage consumptions (6 per stage), each once
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions`)).toBe(18);
  });

  it("a stage handling the same event again answers from its finished thread, with the same events to publish", async () => {
    const { sourcing, consumers } = await open();
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    await drain(consumers);
    const { rows } = await db.pool.query(
      `SELECT id::text, name, version, correlation_id, causation_id, payload FROM opsgraph_events WHERE name = 'company.discovered'`,
    );
    const check = checkEvent(rows[0]);
    if (!check.ok) throw new Error(check.reason);
    const profiler = sourcing.stages[0]!;
    const runsBefore = await count(`SELECT count(*)::int AS n FROM opsgraph_runs`);
    const again = await profiler.handle(check.event as SourcingEvent);
    expect(again.outcome).toBe("handled");
    expect(again.publish?.map((e) => e.id)).toEqual([derivedEventId(check.event.id, "company_profiler", "company.profiled.v1")]);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_runs`)).toBe(runsBefore);
  });

  it("outreach drafts wait for a person: none is sent before approval, and approving twice sends once", async () => {
    const { sourcing, consumers } = await open();
    await sourcing.ingest({ csv: CSV, thesis, limit: 4 });
    await drain(consumers);
    const drafts = await sourcing.drafts("pending");
    expect(drafts.length).toBeGreaterThan(0);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_notifications WHERE kind = 'outreach.sent'`)).toBe(0);
    const first = await sourcing.approve(drafts[0]!.id.slice(0, 8), "alice");
    const second = await sourcing.approve(drafts[0]!.id, "bob");
    expect([first.sent, second.sent]).toEqual([true, false]);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_notifications WHERE kind = 'outreach.sent'`)).toBe(1);
    expect((await sourcing.drafts("pending")).length).toBe(drafts.length - 1);
  });
});

describe("sourcing: a new subscriber joins without touching the stages", () => {
  /** The stages' own output: every event but the ones the test's subscriber reacts with, by id and content. */
  const stageOutput = async () => (await db.pool.query(`SELECT id::text, name, payload::text FROM opsgraph_events ORDER BY id`)).rows;

  it("crm-export subscribed to company.fit_assessed.v1 receives each assessment once; the stages' events are the same as without it", async () => {
    const without = await (async () => {
      const { sourcing, consumers } = await open();
      await sourcing.ingest({ csv: CSV, thesis, limit: 8 });
      await drain(consumers);
      const out = await stageOutput();
      // the same database again, from empty, for the run with the subscriber
      await db.pool.query(
        `TRUNCATE opsgraph_events, opsgraph_event_consumptions, opsgraph_outreach_drafts, opsgraph_runs, checkpoints, checkpoint_blobs, checkpoint_writes`,
      );
      return out;
    })();

    const { sourcing, consumers } = await open();
    const outbox = new Outbox(db.pool);
    const exported: string[] = [];
    await sourcing.bus!.subscribe("company.fit_assessed.v1", "crm-export");
    const crm = sourcing.bus!.consumer(
      {
        name: "crm-export",
        subscribes: "company.fit_assessed.v1",
        async handle(event) {
          const e = event as SourcingEvent<"company.fit_assessed.v1">;
          exported.push(e.correlation_id);
          return {
            outcome: "handled",
            commit: (tx) =>
              outbox
                .enqueue(tx, {
                  key: `crm-export:${e.id}`,
                  kind: "notification",
                  payload: { kind: "crm.company", payload: { company: e.payload.profile.name, score: e.payload.fit.score } },
                })
                .then(() => {}),
          };
        },
      },
      { workerId: "test", leaseMs: 60_000 },
    );
    await sourcing.ingest({ csv: CSV, thesis, limit: 8 });
    await drain([...consumers, crm]);
    expect(exported).toHaveLength(8);
    expect(new Set(exported).size).toBe(8);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_outbox WHERE key LIKE 'crm-export:%'`)).toBe(8);
    expect(await stageOutput()).toEqual(without);
    expect((await sourcing.status()).stages["crm-export"]).toMatchObject({ subscribes: "company.fit_assessed.v1", consumed: { handled: 8 }, pending: 0 });
  });
});
