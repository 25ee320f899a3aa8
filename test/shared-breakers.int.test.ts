import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { formatStatus } from "../cli/status.js";
import { CircuitOpenError } from "../nodes/errors.js";
import { AlertSignals } from "../runtime/observability/alert-signals.js";
import { createMetrics } from "../runtime/observability/metrics.js";
import { createModelTiers, type BreakerTier } from "../runtime/models/models.js";
import { SharedBreakers } from "../runtime/models/shared-breakers.js";
import { readStatus } from "../runtime/observability/status.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { useFreshDatabase } from "./support/database.js";
import { until } from "../testing/until.js";

// Breakers shared through PostgreSQL: each "process" here is what openApp builds in one (its
// tiers, its SharedBreakers with its own LISTEN connection and probe owner id), several on one
// fresh database, calling the real ChatOpenAI against a scripted server. The same across real
// worker processes: test/breaker-fleet.int.test.ts.

const MODEL = "openai:gpt-4.1-mini";
/** The breaker's key: provider, model and the endpoint it calls (the scripted server, known once started). */
let KEY: string;
const AGENT = "risk_analyst";
const db = useFreshDatabase("opsgraph-breakers-");
let server: ScriptedServer;
const opened: SharedBreakers[] = [];

beforeAll(async () => {
  server = await startScriptedOpenAI();
  KEY = `${MODEL}@${server.url}`;
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  server.reset();
});

const Answer = z.object({ ok: z.boolean() });
const dead = () => server.setResponder(AGENT, () => ({ fault: { kind: "status", status: 500 } }));
const alive = (latencyMs = 0) =>
  server.setResponder(AGENT, () => (latencyMs ? { fault: { kind: "latency", ms: latencyMs, then: { json: { ok: true } } } } : { json: { ok: true } }));
const modelCalls = () => server.requestsFor(AGENT).length;

/** One process's tiers and shared breakers, started on the test's database (or not, `start: false`). */
async function processOf(opts: { failures?: number; cooldownMs?: number; probeMs?: number; pollMs?: number; start?: boolean } = {}) {
  const breaker = { consecutiveFailures: opts.failures ?? 3, cooldownMs: opts.cooldownMs ?? 30_000 };
  const shared = new SharedBreakers({ ...breaker, probeMs: opts.probeMs ?? 10_000, pollMs: opts.pollMs ?? 1_000 });
  const [tier] = createModelTiers(
    {
      modelTiers: [{ provider: "openai", model: "gpt-4.1-mini", id: MODEL }],
      openai: { apiKey: "sk-test", baseURL: server.url, structuredOutput: "jsonSchema" },
      modelTimeoutMs: 5_000,
      breaker,
    },
    undefined,
    shared,
  );
  if (opts.start !== false) await shared.start(db.pool);
  opened.push(shared);
  return { shared, tier: tier! };
}

/** One call: "ok", "error" (the model failed) or "skipped" (the breaker refused, no request made). */
async function call(tier: BreakerTier): Promise<"ok" | "error" | "skipped"> {
  try {
    await tier.invoke({ agent: AGENT, schema: Answer, system: "s", user: "u" });
    return "ok";
  } catch (e) {
    return e instanceof CircuitOpenError ? "skipped" : "error";
  }
}

async function openIn(tier: BreakerTier, failures = 3) {
  for (let i = 0; i < failures; i++) expect(await call(tier)).toBe("error");
  expect(tier.breaker.current).toBe("open");
}

const row = async () => (await db.pool.query("SELECT * FROM opsgraph_circuit_breakers WHERE breaker_key = $1", [KEY])).rows[0];

describe("circuit breakers shared by every process through PostgreSQL", () => {
  it("one process opening the breaker makes another skip the model within 1 s (told by NOTIFY, not the poll)", async () => {
    dead();
    const a = await processOf();
    const b = await processOf({ pollMs: 60_000 }); // only the notification can tell b in time
    await openIn(a.tier);
    const t0 = Date.now();
    await until("b's breaker to open", () => b.tier.breaker.current === "open", 1_000, 5);
    expect(Date.now() - t0).toBeLessThan(1_000);
    const before = modelCalls();
    expect(await call(b.tier)).toBe("skipped");
    expect(modelCalls()).toBe(before);
    expect(await row()).toMatchObject({ state: "open", failures: 3, failure_rate: 1 });
  });

  it("a change whose notification was lost reaches every process by the poll, within 1 s", async () => {
    const b = await processOf({ pollMs: 1_000 });
    // as another process would open it, but without the NOTIFY
    await db.pool.query(
      `UPDATE opsgraph_circuit_breakers SET state = 'open', opened_at = now(), since = now(), generation = generation + 1 WHERE breaker_key = $1`,
      [KEY],
    );
    const t0 = Date.now();
    await until("b's breaker to open", () => b.tier.breaker.current === "open", 1_500, 5);
    expect(Date.now() - t0).toBeLessThan(1_200); // one poll, and its query
  });

  it("another process's metrics and alert signals show the breaker it did not open itself", async () => {
    dead();
    const a = await processOf();
    const b = await processOf();
    const metrics = createMetrics({ tiers: [b.tier] });
    const gauge = async () => (await metrics.registry.getSingleMetric("opsgraph_circuit_open")!.get()).values.find((v) => v.labels.model === KEY)?.value;
    expect(await gauge()).toBe(0);
    await openIn(a.tier);
    await until("b's breaker to open", () => b.tier.breaker.current === "open", 1_000, 5);
    expect(await gauge()).toBe(1);
    const signals = new AlertSignals({ pool: db.pool, tiers: [b.tier] });
    await signals.flush();
    const { rows } = await db.pool.query("SELECT model, state FROM opsgraph_breakers WHERE process_id = $1", [signals.processId]);
    expect(rows).toEqual([{ model: KEY, state: "open" }]);
    await signals.close();
  });

  it("a call made before the fleet's breaker opened that answers late does not close it in its process", async () => {
    server.script(
      AGENT,
      { fault: { kind: "latency", ms: 600, then: { json: { ok: true } } } },
      { fault: { kind: "status", status: 500 } },
      { fault: { kind: "status", status: 500 } },
      { fault: { kind: "status", status: 500 } },
    );
    const a = await processOf();
    const b = await processOf();
    const late = call(b.tier);
    await until("b's call to be out", () => modelCalls() === 1, 2_000, 5);
    await openIn(a.tier);
    await until("b's breaker to open", () => b.tier.breaker.current === "open", 1_000, 5);
    expect(await late).toBe("ok");
    expect(b.tier.breaker.current).toBe("open");
    expect(await call(b.tier)).toBe("skipped");
    expect(modelCalls()).toBe(4);
  });

  it("failures in a row are counted across processes: two processes failing by turns open it at the threshold, not twice it", async () => {
    dead();
    const a = await processOf();
    const b = await processOf();
    expect(await call(a.tier)).toBe("error");
    await b.shared.refresh();
    expect(await call(b.tier)).toBe("error");
    await a.shared.refresh();
    expect(await call(a.tier)).toBe("error"); // the third failure of the fleet: open
    await until("both breakers open", () => a.tier.breaker.current === "open" && b.tier.breaker.current === "open", 1_000, 5);
    expect(modelCalls()).toBe(3);
    expect(await call(a.tier)).toBe("skipped");
    expect(await call(b.tier)).toBe("skipped");
    expect(modelCalls()).toBe(3);
  });

  it("a success anywhere ends the fleet's run of failures", async () => {
    dead();
    const a = await processOf();
    const b = await processOf();
    await call(a.tier);
    await call(a.tier);
    await until("a's failures to be in the row", async () => (await row()).failures === 2, 2_000, 10);
    await b.shared.refresh(); // b knows the fleet's run (its poll would within 1 s)
    alive();
    expect(await call(b.tier)).toBe("ok");
    await until("the fleet's run of failures to be reset", async () => (await row()).failures === 0, 2_000, 10);
    dead();
    await a.shared.refresh();
    expect(await call(a.tier)).toBe("error");
    expect(a.tier.breaker.current).toBe("closed");
  });

  it("in half-open exactly one probe crosses the fleet; its success closes the breaker in every process", async () => {
    dead();
    const fleet = await Promise.all(Array.from({ length: 4 }, () => processOf({ cooldownMs: 300 })));
    await openIn(fleet[0]!.tier);
    await until("every breaker open", () => fleet.every((p) => p.tier.breaker.current !== "closed"), 1_000, 5);
    await new Promise((r) => setTimeout(r, 350)); // past the cooldown: half-open everywhere
    alive(400); // the probe takes 400 ms: every process asks meanwhile
    const before = modelCalls();
    const outcomes = await Promise.all(fleet.flatMap((p) => [call(p.tier), call(p.tier), call(p.tier)]));
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "skipped")).toHaveLength(11);
    expect(modelCalls() - before).toBe(1);
    await until("every breaker closed", () => fleet.every((p) => p.tier.breaker.current === "closed"), 1_000, 5);
    expect(await row()).toMatchObject({ state: "closed", failures: 0, probe_owner: null });
  });

  it("a failed probe opens it again everywhere, for another cooldown", async () => {
    dead();
    const a = await processOf({ cooldownMs: 300 });
    const b = await processOf({ cooldownMs: 300 });
    await openIn(a.tier);
    await new Promise((r) => setTimeout(r, 350));
    const outcomes = await Promise.all([call(a.tier), call(b.tier)]);
    expect(outcomes.sort()).toEqual(["error", "skipped"]);
    await until(
      "both open again",
      async () => (await row()).state === "open" && a.tier.breaker.current === "open" && b.tier.breaker.current === "open",
      3_000,
      5,
    );
    const before = modelCalls();
    expect(await call(a.tier)).toBe("skipped");
    expect(await call(b.tier)).toBe("skipped");
    expect(modelCalls()).toBe(before);
  });

  it("a probe whose process died is claimable again after its deadline, by one process", async () => {
    dead();
    const a = await processOf({ cooldownMs: 200 });
    await openIn(a.tier);
    await new Promise((r) => setTimeout(r, 250));
    // a process claimed the probe and died with it: its row says so, its deadline 300 ms away
    await db.pool.query(
      `UPDATE opsgraph_circuit_breakers SET state = 'half_open', probe_owner = 'gone:1', probe_deadline = now() + interval '300 milliseconds', generation = generation + 1`,
    );
    const b = await processOf({ cooldownMs: 200 });
    const c = await processOf({ cooldownMs: 200 });
    const before = modelCalls();
    expect(await call(b.tier)).toBe("skipped");
    expect(await call(c.tier)).toBe("skipped");
    expect(modelCalls()).toBe(before);
    await new Promise((r) => setTimeout(r, 350));
    alive(400); // the probe is still out when the others ask
    const outcomes = await Promise.all([call(b.tier), call(c.tier), call(a.tier)]);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
    expect(modelCalls() - before).toBe(1);
  });

  it("survives a restart: a process started after the breaker opened skips the model from its first call", async () => {
    dead();
    const a = await processOf();
    await openIn(a.tier);
    await a.shared.close(); // the process ends
    const restarted = await processOf();
    const before = modelCalls();
    expect(await call(restarted.tier)).toBe("skipped");
    expect(modelCalls()).toBe(before);
  });

  it("a database error never fails a model call: the local breaker decides alone", async () => {
    const a = await processOf({ start: false });
    const broken = { query: () => Promise.reject(new Error("connection terminated")), options: { host: "127.0.0.1", port: 1 } };
    await a.shared.start(broken as never);
    alive();
    expect(await call(a.tier)).toBe("ok");
    dead();
    await openIn(a.tier); // opened by its own count, as without a database
    expect(await call(a.tier)).toBe("skipped");
  });

  it("opsgraph status shows each model's breaker: state, failures, failure rate, since when, and the probe's owner in half-open", async () => {
    dead();
    const a = await processOf({ cooldownMs: 300 });
    let s = await readStatus(db.pool, { leaseMs: 30_000 });
    expect(s.breakers).toEqual([expect.objectContaining({ model: KEY, state: "closed", failures: 0, probe_owner: null })]);
    await openIn(a.tier);
    await a.shared.close(); // its writes are in
    s = await readStatus(db.pool, { leaseMs: 30_000 });
    expect(s.breakers).toEqual([expect.objectContaining({ model: KEY, state: "open", failures: 3, failure_rate: 1 })]);
    await new Promise((r) => setTimeout(r, 350));
    expect((await readStatus(db.pool, { leaseMs: 30_000 })).breakers[0]).toMatchObject({ state: "half_open", probe_owner: null });
    const b = await processOf({ cooldownMs: 300 });
    alive(500);
    const probing = call(b.tier);
    await until("the probe to be claimed", async () => (await row()).probe_owner === b.shared.owner, 2_000, 10);
    s = await readStatus(db.pool, { leaseMs: 30_000 });
    expect(s.breakers[0]).toMatchObject({ state: "half_open", probe_owner: b.shared.owner });
    expect(s.breakers[0]!.probe_left_ms).toBeGreaterThan(5_000);
    const text = formatStatus(s).split("\n");
    expect(text.find((l) => l.startsWith("breakers"))).toMatch(/^breakers +openai:gpt-4\.1-mini@http:\/\/127\.0\.0\.1:\d+\/v1 half-open for \d/);
    expect(text.find((l) => l.includes("failures in a row"))).toMatch(/^ +breaker +state +since +failures in a row +failure rate +probe$/);
    expect(text.find((l) => l.startsWith("  openai:"))).toMatch(
      new RegExp(`^  openai:gpt-4\\.1-mini@http://127\\.0\\.0\\.1:\\d+/v1 +half-open +[\\d.]+s ago +3 +100% +${b.shared.owner}, [\\d.]+s left$`),
    );
    expect(await probing).toBe("ok");
  });
});
