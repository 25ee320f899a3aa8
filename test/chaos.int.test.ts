// Over 300 lines: one matrix (every provider failure through the flow) with the calls, waits and dead letters each case must produce, stated beside it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ClauseExtraction, clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { riskAnalyst } from "../flows/contract-review/agents/risk-analyst.js";
import type { Agent, Attempt } from "../nodes/agent.js";
import { createModelTiers } from "../runtime/models/models.js";
import type { Database } from "../runtime/db/postgres.js";
import { ContractReviewRunner, type RunRecord } from "../flows/contract-review/run/runner.js";
import { FakeClock } from "../testing/fake-clock.js";
import { freshDatabase, openTestDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";
import { startScriptedOpenAI, type Reply, type ScriptedServer } from "../testing/scripted-openai.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";

// The chaos matrix: the contract-review flow on PostgreSQL, the real ChatOpenAI talking HTTP to
// the scripted server, which fails in every way a provider does. Backoff waits run on a fake
// clock (the waits are asked for and counted, not slept); model-call timeouts are real.

const status = (s: number, extra: { code?: string; retryAfterSeconds?: number } = {}): Reply => ({ fault: { kind: "status", status: s, ...extra } });
const failingRules = <I, M, O>(agent: Agent<I, M, O>) =>
  ({
    ...agent,
    rules: () => {
      throw new Error("rules crashed");
    },
  }) as Agent<unknown, unknown, unknown>;

let admin: Database;
let server: ScriptedServer;
let db: { pool: pg.Pool; drop: () => Promise<void> };
let reportsDir: string;
const unhandled: unknown[] = [];
/** Dead letter rows the scenario must leave (every other scenario must leave none). */
let expectedDeadLetters = 0;
const onUnhandled = (e: unknown) => unhandled.push(e);

const doc = (text = CONTRACT) => documentOf(text, "supply.txt");

interface Setup {
  clock: FakeClock;
  runner: (extra?: Partial<ConstructorParameters<typeof ContractReviewRunner>[0]>) => ContractReviewRunner;
}

/** One process's worth of parts: tiers (with their breakers) shared by every runner it makes. */
function setup(opts: { baseURL?: string; timeoutMs?: number; cooldownMs?: number } = {}): Setup {
  const clock = new FakeClock();
  const tiers = createModelTiers(
    {
      modelTiers: [{ provider: "openai", model: "gpt-4.1-mini", id: MODEL }],
      openai: { apiKey: "sk-test", baseURL: opts.baseURL ?? server.url, structuredOutput: "jsonSchema" },
      modelTimeoutMs: opts.timeoutMs ?? 5_000,
      breaker: { consecutiveFailures: 5, cooldownMs: opts.cooldownMs ?? 30_000 },
    },
    clock,
  );
  return { clock, runner: (extra = {}) => new ContractReviewRunner({ pool: db.pool, tiers, reportsDir, reviewThreshold: 60, clock, ...extra }) };
}

const callsOf = (run: RunRecord, agent: string, tier = MODEL) =>
  (run.attempts ?? []).filter((a) => a.agent === agent && a.tier === tier && a.outcome !== "skipped").length;
const waitedBy = (attempts: Attempt[], agent: string) => attempts.filter((a) => a.agent === agent).reduce((n, a) => n + (a.wait_ms ?? 0), 0);
const producedBy = (run: RunRecord) => (run.result as { produced_by: Record<string, string> }).produced_by;

function expectWaitingWithinCap(run: RunRecord, clock: FakeClock) {
  for (const agent of AGENTS) expect(waitedBy(run.attempts ?? [], agent)).toBeLessThanOrEqual(30_000);
  expect(clock.totalSlept).toBe(AGENTS.reduce((n, a) => n + waitedBy(run.attempts ?? [], a), 0));
}

async function deadLetterRows() {
  return (await db.pool.query("SELECT * FROM opsgraph_dead_letters ORDER BY id")).rows;
}

beforeAll(async () => {
  admin = await openTestDatabase();
  server = await startScriptedOpenAI();
  process.on("unhandledRejection", onUnhandled);
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await server?.close();
  await admin?.close();
});
beforeEach(async () => {
  server.reset();
  unhandled.length = 0;
  expectedDeadLetters = 0;
  db = await freshDatabase(admin);
  reportsDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-chaos-"));
});
afterEach(async () => {
  const letters = (await deadLetterRows()).length;
  await db.drop();
  expect(unhandled).toEqual([]);
  expect(letters).toBe(expectedDeadLetters);
});

describe("chaos: the contract-review flow against a failing provider", () => {
  it("a 429 storm with Retry-After: waits what the provider asks, then gets through on the same tier", async () => {
    const { clock, runner } = setup();
    server.script(
      "clause_extractor",
      status(429, { retryAfterSeconds: 3 }),
      status(429, { retryAfterSeconds: 5 }),
      status(429, { retryAfterSeconds: 3 }),
      ok("clause_extractor"),
    );
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(4);
    expect(clock.slept[0]).toBeGreaterThanOrEqual(3000);
    expect(clock.slept[1]).toBeGreaterThanOrEqual(5000);
    expect(clock.slept[2]).toBeGreaterThanOrEqual(4000); // backoff 4 s is longer than Retry-After 3 s
    expect(producedBy(run)).toEqual(Object.fromEntries(AGENTS.map((a) => [a, MODEL])));
    expectWaitingWithinCap(run, clock);
  });

  it("a 429 storm asking for more than the 30 s cap: gives up on the tier instead of waiting", async () => {
    const { clock, runner } = setup();
    server.script("clause_extractor", status(429, { retryAfterSeconds: 20 }), status(429, { retryAfterSeconds: 20 }));
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(2);
    expect(clock.slept).toEqual([20_000]);
    expect(producedBy(run).clause_extractor).toBe("rules");
    expect(producedBy(run).risk_analyst).toBe(MODEL);
    expectWaitingWithinCap(run, clock);
  });

  it("500 bursts that clear: retried with backoff 1 s, 2 s, and answered by the model", async () => {
    const { clock, runner } = setup();
    server.script("clause_extractor", status(500), status(503), ok("clause_extractor"));
    server.script("risk_analyst", status(502), ok("risk_analyst"));
    server.script("terms_analyst", ok("terms_analyst"));
    server.script("summarizer", ok("summarizer"));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect([callsOf(run, "clause_extractor"), callsOf(run, "risk_analyst"), callsOf(run, "terms_analyst"), callsOf(run, "summarizer")]).toEqual([3, 2, 1, 1]);
    expect(run.model_calls).toBe(7);
    expect(run.tiers_used).toEqual([MODEL]);
    expectWaitingWithinCap(run, clock);
  });

  it("a provider hanging past the timeout: each call is aborted, the breaker opens, later agents skip it at once", async () => {
    const { clock, runner } = setup({ timeoutMs: 300 });
    server.setResponder("clause_extractor", () => ({ fault: { kind: "hang" } }));
    const t0 = Date.now();
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(5);
    expect(server.requestsFor("clause_extractor")).toHaveLength(5);
    for (const a of AGENTS.slice(1)) {
      expect(server.requestsFor(a)).toHaveLength(0);
      expect(run.attempts!.filter((x) => x.agent === a).map((x) => x.outcome)).toEqual(["skipped", "ok"]);
    }
    expect(run.attempts!.find((a) => a.agent === "clause_extractor")!.error).toMatch(/timeout/);
    expect(producedBy(run)).toEqual(Object.fromEntries(AGENTS.map((a) => [a, "rules"])));
    expectWaitingWithinCap(run, clock);
  });

  it("connection refused: retried as transient, then rules; the breaker spares the later agents", async () => {
    const { clock, runner } = setup({ baseURL: "http://127.0.0.1:1/v1" });
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(5);
    expect(run.attempts!.find((a) => a.agent === "clause_extractor")!.error_class).toBe("transient");
    expect(run.attempts!.filter((a) => a.outcome === "skipped")).toHaveLength(3);
    expect(run.tiers_used).toEqual(["rules"]);
    expectWaitingWithinCap(run, clock);
  });

  it("malformed JSON: a transient fault, retried and answered", async () => {
    const { clock, runner } = setup();
    server.script("clause_extractor", { fault: { kind: "malformed" } }, ok("clause_extractor"));
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(2);
    expect(run.attempts![0]).toMatchObject({ outcome: "error", error_class: "transient" });
    expect(producedBy(run).clause_extractor).toBe(MODEL);
    expectWaitingWithinCap(run, clock);
  });

  it("schema-invalid JSON: one repair attempt, then the rules tier; no backoff", async () => {
    const { clock, runner } = setup();
    server.script("clause_extractor", { fault: { kind: "schema_invalid" } }, { fault: { kind: "schema_invalid" } });
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(2);
    expect(run.attempts!.filter((a) => a.agent === "clause_extractor").map((a) => `${a.tier}:${a.outcome}`)).toEqual([
      `${MODEL}:invalid`,
      `${MODEL}:invalid`,
      "rules:ok",
    ]);
    expect(JSON.stringify(server.requestsFor("clause_extractor")[1]!.body.messages)).toContain("Your previous answer was rejected");
    expect(clock.slept).toEqual([]);
  });

  it("an excerpt not in the text: rejected, repaired once, then rules; the made-up quote never shows", async () => {
    const { runner } = setup();
    const madeUp = { categories: [{ name: "Governing Law", present: true, excerpts: ["governed by the laws of Atlantis"], value: "Atlantis" }] };
    server.script("clause_extractor", { json: madeUp }, { json: madeUp });
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(2);
    expect(producedBy(run).clause_extractor).toBe("rules");
    expect(JSON.stringify(run.result)).not.toContain("Atlantis");
    const report = fs.readFileSync((run.result as { report_path: string }).report_path, "utf8");
    expect(report).toContain("Degraded (fallback tiers answered): clause_extractor answered by rules");
  });

  it.each([
    ["401", status(401)],
    ["insufficient_quota", status(429, { code: "insufficient_quota" })],
  ])("%s: not retried; straight to the next tier", async (_name, fault) => {
    const { clock, runner } = setup();
    server.script("clause_extractor", fault);
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const run = await runner().review({ document: doc(), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(callsOf(run, "clause_extractor")).toBe(1);
    expect(run.attempts![0]).toMatchObject({ error_class: "fatal" });
    expect(producedBy(run).clause_extractor).toBe("rules");
    expect(clock.slept).toEqual([]);
  });

  it("a provider down for a minute: the breaker opens, later runs skip it at once, a probe closes it when it is back", async () => {
    const { clock, runner } = setup({ cooldownMs: 30_000 });
    let down = true;
    for (const a of AGENTS) server.setResponder(a, () => (down ? status(503) : ok(a)));

    const first = await runner().review({ document: doc(), autoApprove: true });
    expect(first.status).toBe("completed");
    expect(first.model_calls).toBe(5);
    expect(first.tiers_used).toEqual(["rules"]);

    const t0 = performance.now();
    const second = await runner().review({ document: doc(CONTRACT + "\n\nSecond contract."), autoApprove: true });
    const elapsed = performance.now() - t0;
    expect(second.model_calls).toBe(0);
    expect(second.attempts!.filter((a) => a.tier === MODEL).map((a) => a.outcome)).toEqual(["skipped", "skipped", "skipped", "skipped"]);
    for (const a of second.attempts!.filter((x) => x.outcome === "skipped")) expect(a.ms).toBeLessThan(1);
    expect(elapsed).toBeLessThan(5_000);

    clock.advance(60_000); // a minute later the provider is back
    down = false;
    const third = await runner().review({ document: doc(CONTRACT + "\n\nThird contract."), autoApprove: true });
    expect(third.model_calls).toBe(4);
    expect(producedBy(third)).toEqual(Object.fromEntries(AGENTS.map((a) => [a, MODEL])));
  });

  it("every tier failing, policy escalate: the run waits for a person, whose output finishes it", async () => {
    const { runner } = setup();
    server.script("clause_extractor", status(401));
    for (const a of AGENTS.slice(1)) server.script(a, ok(a));
    const r = runner({ onExhausted: "escalate", agents: { clause_extractor: failingRules(clauseExtractor) } });
    const paused = await r.review({ document: doc(), autoApprove: true });
    expect(paused.status).toBe("awaiting_review");
    expect(await deadLetterRows()).toEqual([]);

    await expect(r.resume(paused.run_id, { decision: "approve" })).rejects.toThrow("clause_extractor's output");
    const output: ClauseExtraction = clauseExtractor.rules({ text: CONTRACT, start: 0, end: CONTRACT.length });
    const done = await r.resume(paused.run_id, { output });
    expect(done.status).toBe("completed");
    expect(producedBy(done).clause_extractor).toBe("person");
    expect(producedBy(done).risk_analyst).toBe(MODEL);
  });

  it("every tier failing, policy escalate: a person's rejection ends the run failed", async () => {
    const { runner } = setup();
    server.script("clause_extractor", status(401));
    const r = runner({ onExhausted: "escalate", agents: { clause_extractor: failingRules(clauseExtractor) } });
    const paused = await r.review({ document: doc(), autoApprove: true });
    const done = await r.resume(paused.run_id, { decision: "reject", note: "unreadable scan" });
    expect(done.status).toBe("failed");
    expect(done.error).toBe("clause_extractor: rejected by a person at the escalation: unreadable scan");
  });

  it("every tier failing, policy dead_letter: a dead letter with the error chain; dlq retry finishes the run without redoing finished steps", async () => {
    const { runner } = setup();
    server.script("clause_extractor", ok("clause_extractor"));
    server.script("terms_analyst", ok("terms_analyst"));
    server.script("risk_analyst", status(401));
    expectedDeadLetters = 1;
    const broken = runner({ agents: { risk_analyst: failingRules(riskAnalyst) } });
    const dead = await broken.review({ document: doc(), autoApprove: true });
    expect(dead.status).toBe("dead_lettered");
    expect(dead.error).toBe("risk_analyst: every tier failed; see opsgraph dlq list");

    const rows = await deadLetterRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      run_id: dead.run_id,
      thread_id: dead.thread_id,
      flow: "contract-review",
      node: "risk_analyst",
      agent: "risk_analyst",
      status: "waiting",
    });
    expect(rows[0].input_ref).toMatchObject({ store: ["opsgraph", "documents"], source: "supply.txt" });
    expect(rows[0].errors.map((a: Attempt) => `${a.tier}:${a.error_class}`)).toEqual([`${MODEL}:fatal`, "rules:fatal"]);
    expect(rows[0].created_at).toBeInstanceOf(Date);

    // the same request again is the same (dead-lettered) run: nothing runs
    expect(await broken.review({ document: doc(), autoApprove: true })).toMatchObject({ status: "dead_lettered", cached: true, model_calls: 0 });

    // the provider is back: retry the dead letter with a runner that has working rules
    server.script("risk_analyst", ok("risk_analyst"));
    server.script("summarizer", ok("summarizer"));
    const { dead_letter, run } = await runner().retryDeadLetter(rows[0].id);
    expect(dead_letter.status).toBe("retried");
    expect(run.status).toBe("completed");
    expect(server.requestsFor("clause_extractor")).toHaveLength(1);
    expect(server.requestsFor("terms_analyst")).toHaveLength(1);
    expect(server.requestsFor("risk_analyst")).toHaveLength(2);
    expect(producedBy(run)).toEqual(Object.fromEntries(AGENTS.map((a) => [a, MODEL])));
    await expect(runner().retryDeadLetter(rows[0].id)).rejects.toThrow(`dead letter ${rows[0].id}: already retried`);
  });
});
