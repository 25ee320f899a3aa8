import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatStatus } from "../cli/status.js";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { RunRecord } from "../runtime/runs/flow-runner.js";
import { readStatus } from "../runtime/observability/status.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { databaseUrl } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";
import { AGENTS, CONTRACT, ok } from "../testing/scripted-contract.js";

// Adaptive tier order on PostgreSQL, through openApp as the CLI opens it, with the real
// ChatOpenAI client and two model tiers on the scripted server: gpt-4.1-mini answers the risk
// analyst with schema-invalid JSON on every other call (its repair passes), every other
// agent and gpt-4.1-nano always answer well.

const MINI = "openai:gpt-4.1-mini";
const NANO = "openai:gpt-4.1-nano";
const CONFIGURED = [MINI, NANO, "rules"];

const db = useFreshDatabase("opsgraph-adaptive-");
let server: ScriptedServer;
let app: App | undefined;
let seq = 0;

beforeAll(async () => {
  server = await startScriptedOpenAI();
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  server.reset();
});

function scriptModels() {
  let miniRiskCalls = 0;
  for (const agent of AGENTS) {
    server.setResponder(agent, (req) => {
      if (agent === "risk_analyst" && req.model === "gpt-4.1-mini" && miniRiskCalls++ % 2 === 0) return { fault: { kind: "schema_invalid" } };
      return ok(agent);
    });
  }
}

async function open(adaptive: boolean, opts: { queue?: boolean } = {}) {
  await app?.close();
  app = await openApp(
    loadConfig({
      DATABASE_URL: databaseUrl(db.pool),
      OPSGRAPH_DATA_DIR: db.dir,
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: "sk-test",
      OPSGRAPH_MODELS: `${MINI},${NANO}`,
      OPSGRAPH_ADAPTIVE_TIERS: String(adaptive),
      LOG_LEVEL: "silent",
    }),
    opts,
  );
  return app;
}

/** Reviews a new contract (a new request each time) to its end. */
async function review(a: App): Promise<RunRecord> {
  const run = await a.contractReview.review({ document: documentOf(`${CONTRACT}\n\nAdaptive test contract ${++seq}.`, `c${seq}.txt`), autoApprove: true });
  expect(run.status).toBe("completed");
  return run;
}

const firstTier = (run: RunRecord, agent: string) => run.attempts!.find((a) => a.agent === agent)!.tier;
const ledgerRows = async () => (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_tier_attempts")).rows[0]!.n;

describe("adaptive tier order (OPSGRAPH_ADAPTIVE_TIERS)", () => {
  it("after a warm-up, tries the model that fails an agent's schema half the time after the other one for that agent only; off, changes nothing", async () => {
    scriptModels();
    // warm-up: 10 runs of 2 risk-analyst calls on mini each, half of them schema-invalid: 20 calls, the minimum to move a tier
    let a = await open(true);
    for (let i = 0; i < 10; i++) {
      const run = await review(a);
      expect(firstTier(run, "risk_analyst")).toBe(MINI);
      expect(run.attempts!.filter((x) => x.agent === "risk_analyst").map((x) => `${x.tier}:${x.outcome}`)).toEqual([`${MINI}:invalid`, `${MINI}:ok`]);
      expect(Object.keys(run.tier_order!).sort()).toEqual([...AGENTS].sort());
      for (const agent of AGENTS) expect(run.tier_order![agent]).toEqual({ order: CONFIGURED, why: [] });
    }

    // off: the same history would demote mini, and nothing changes: the configured order, no tier_order, nothing written to the ledger
    const written = await ledgerRows();
    a = await open(false);
    const off = await review(a);
    expect(firstTier(off, "risk_analyst")).toBe(MINI);
    expect(off.tier_order).toBeUndefined();
    expect((await a.contractReview.show(off.run_id)).tier_order).toBeUndefined();
    expect(await ledgerRows()).toBe(written);
    expect((await readStatus(a.db.pool, { leaseMs: 30_000 })).adaptive_tiers).toBeUndefined();

    // on again: the history holds the warm-up's 20 risk-analyst calls on mini, 10 schema-invalid
    a = await open(true);
    const status = await readStatus(a.db.pool, { leaseMs: 30_000, adaptiveTiers: [MINI, NANO] });
    expect(status.adaptive_tiers!.stats.find((s) => s.agent === "risk_analyst" && s.tier === MINI)).toMatchObject({
      calls: 20,
      ok: 10,
      invalid: 10,
      transient: 0,
    });
    expect(status.adaptive_tiers!.order["risk_analyst"]!.order).toEqual([NANO, MINI, "rules"]);
    expect(status.adaptive_tiers!.order["summarizer"]!.order).toEqual(CONFIGURED);
    expect(formatStatus(status)).toMatch(
      /risk_analyst: openai:gpt-4\.1-nano > openai:gpt-4\.1-mini > rules {2}\(openai:gpt-4\.1-mini after openai:gpt-4\.1-nano: 50% schema failures for risk_analyst over 20 calls\)/,
    );

    let demoted = 0;
    for (let i = 0; i < 4; i++) {
      const run = await review(a);
      const order = run.tier_order!["risk_analyst"]!;
      if (order.why[0]?.includes("1 in 10")) {
        // this run is the risk analyst's traffic floor: mini goes first again
        expect(order.order).toEqual(CONFIGURED);
        expect(firstTier(run, "risk_analyst")).toBe(MINI);
      } else {
        demoted++;
        // a floor run before this one added its two calls (one invalid) to mini's window
        expect(order).toEqual({
          order: [NANO, MINI, "rules"],
          why: [expect.stringMatching(/^openai:gpt-4\.1-mini after openai:gpt-4\.1-nano: 50% schema failures for risk_analyst over (20|22|24|26) calls$/)],
        });
        expect(run.attempts!.filter((x) => x.agent === "risk_analyst").map((x) => `${x.tier}:${x.outcome}`)).toEqual([`${NANO}:ok`]);
        expect(run.result).toMatchObject({ produced_by: { risk_analyst: NANO } });
      }
      // the other agents keep the configured order, and their model
      for (const agent of AGENTS.filter((x) => x !== "risk_analyst")) {
        expect(run.tier_order![agent]).toEqual({ order: CONFIGURED, why: [] });
        expect(firstTier(run, agent)).toBe(MINI);
      }
      // runs show: the order the run kept in its row
      expect((await a.contractReview.show(run.run_id)).tier_order).toEqual(run.tier_order);
    }
    expect(demoted).toBeGreaterThan(0);
  });

  it("orders a queued run's tiers when a worker first claims it, from the ledger's history, and keeps that order in its row", async () => {
    scriptModels();
    // a history of 30 risk-analyst calls on mini, 12 of them schema-invalid (40%), 25 on nano, all ok
    const history = [...Array.from({ length: 30 }, (_, i) => [MINI, i < 12 ? "invalid" : "ok"]), ...Array.from({ length: 25 }, () => [NANO, "ok"])];
    await db.pool.query(
      `INSERT INTO opsgraph_tier_attempts (agent, tier, flow, outcome, error_class, ms) SELECT 'risk_analyst', t, 'contract-review', o, CASE WHEN o = 'invalid' THEN 'invalid' END, 700 FROM unnest($1::text[], $2::text[]) AS x(t, o)`,
      [history.map((h) => h[0]), history.map((h) => h[1])],
    );
    const a = await open(true, { queue: true });
    const { run_id } = await a.contractReview.submit({ document: documentOf(`${CONTRACT}\n\nQueued adaptive contract.`, "queued.txt"), autoApprove: true });
    expect((await a.contractReview.get({ runId: run_id }))!.tier_order).toBeNull(); // fixed at its claim, not at submit
    const run = await a.contractReview.runQueued(run_id, { workerId: "test-worker", claim: { leaseMs: 30_000 } });
    expect(run.status).toBe("completed");
    const order = run.tier_order!["risk_analyst"]!;
    if (order.why[0]?.includes("1 in 10")) expect(firstTier(run, "risk_analyst")).toBe(MINI);
    else {
      expect(order).toEqual({ order: [NANO, MINI, "rules"], why: [`${MINI} after ${NANO}: 40% schema failures for risk_analyst over 30 calls`] });
      expect(firstTier(run, "risk_analyst")).toBe(NANO);
    }
    expect(firstTier(run, "summarizer")).toBe(MINI);
    expect((await a.contractReview.get({ runId: run_id }))!.tier_order).toEqual(run.tier_order);
    // its calls went to the ledger: the risk analyst's on the tier it tried first, the others' on mini
    const { rows } = await db.pool.query<{ agent: string; tier: string }>("SELECT agent, tier FROM opsgraph_tier_attempts WHERE run_id = $1", [run_id]);
    // (a run on the traffic floor tries mini first for the risk analyst too: a schema-invalid answer there is a second row)
    expect([...new Set(rows.map((r) => r.agent))].sort()).toEqual([...AGENTS].sort());
  });
});
