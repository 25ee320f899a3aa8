import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type PgBoss from "pg-boss";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CompanyResult } from "../flows/portfolio-monitoring/agents/company.js";
import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { parseThesis } from "../flows/sourcing/agents/thesis.js";
import { loadCuadSplit } from "../evals/cuad.js";
import { RULES_TIER } from "../nodes/agent-step.js";
import type { Attempt } from "../nodes/agent.js";
import { DEFAULT_BUDGET } from "../nodes/budget.js";
import { createModelTiers } from "../runtime/models/models.js";
import type { RunRecord } from "../runtime/runs/flow-runner.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import type { Database } from "../runtime/db/postgres.js";
import { openQueue } from "../runtime/queue/queue.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { Sourcing } from "../flows/sourcing/run/flow.js";
import { startScriptedOpenAI, type RecordedRequest, type Reply, type Responder, type ScriptedServer } from "../testing/scripted-openai.js";
import { ROOT } from "./support/cli.js";
import { freshDatabase, openTestDatabase } from "./support/database.js";
import { dataset, describeWithData } from "../testing/datasets.js";
import { documentOf } from "../testing/documents.js";
import { FakeWaitsClock } from "../testing/fake-clock.js";
import { portfolioResponders } from "../testing/scripted-portfolio.js";
import { sourcingResponders } from "../testing/scripted-sourcing.js";

// The fault matrix: each flow × 1, 2 and 3 model tiers × every way a provider fails, at real
// sizes (the longest CUAD dev contract, 20 and 100 S&P 500 companies, 20 and 200 YC startups),
// through the real ChatOpenAI client over HTTP to the scripted server and a real PostgreSQL.
// Every run must end as opsgraph decides (completed, here), never on a LangGraph limit. Backoff
// waits run on a fake clock that also runs with real time, so a step's time budget counts both
// its waits and its calls (a hang's timeout).

const TIER_IDS = ["openai:gpt-4.1-mini", "openai:gpt-4.1", "openai:gpt-4.1-nano"];
/** Where every call hangs, each is abandoned after this; elsewhere calls get longer, so that an answer slowed by a loaded machine is not a timeout (another fault). */
const HANG_TIMEOUT_MS = 150;
const MODEL_TIMEOUT_MS = 2_000;

type FaultKind = "500" | "429" | "hang" | "reset" | "truncated" | "schema_invalid" | "mixed";
const FAULTS: FaultKind[] = ["500", "429", "hang", "reset", "truncated", "schema_invalid", "mixed"];
const REPLIES: Record<Exclude<FaultKind, "mixed">, Reply> = {
  "500": { fault: { kind: "status", status: 500 } },
  "429": { fault: { kind: "status", status: 429, retryAfterSeconds: 2 } },
  hang: { fault: { kind: "hang" } }, // until the client's timeout aborts it
  reset: { fault: { kind: "reset" } },
  truncated: { fault: { kind: "malformed" } },
  schema_invalid: { fault: { kind: "schema_invalid" } },
};
const EVERY = Object.keys(REPLIES) as Exclude<FaultKind, "mixed">[];

/** mulberry32: the mixed faults fall on the same requests every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every request of every tier fails with `kind`; or, mixed, a seeded fifth of them with any kind. */
function faulting(kind: FaultKind, seed = 7): (r: Responder) => Responder {
  const random = prng(seed);
  return (answer) => async (req: RecordedRequest) => {
    if (kind !== "mixed") return REPLIES[kind];
    if (random() < 0.2) return REPLIES[EVERY[Math.floor(random() * EVERY.length)]!];
    return answer(req);
  };
}

let admin: Database;
let server: ScriptedServer;
let reportsDir: string;

function partsFor(tiers: number, kind: FaultKind) {
  const clock = new FakeWaitsClock();
  const modelTiers = createModelTiers(
    {
      modelTiers: TIER_IDS.slice(0, tiers).map((id) => ({ provider: "openai" as const, model: id.slice("openai:".length), id })),
      openai: { apiKey: "sk-test", baseURL: server.url, structuredOutput: "jsonSchema" },
      modelTimeoutMs: kind === "hang" ? HANG_TIMEOUT_MS : MODEL_TIMEOUT_MS,
      breaker: { consecutiveFailures: 5, cooldownMs: 30_000 },
    },
    clock,
  );
  return { clock, tiers: modelTiers };
}

const models = (attempts: readonly Attempt[]) => attempts.filter((a) => a.tier !== RULES_TIER && a.outcome !== "skipped");
/** What each agent step lost to failures (failed calls and waits), by agent: the step's time budget bounds it. */
function lostByStep(attempts: readonly Attempt[]) {
  const lost = new Map<string, number>();
  for (const a of attempts) if (a.outcome !== "ok") lost.set(a.agent, (lost.get(a.agent) ?? 0) + a.ms + (a.wait_ms ?? 0));
  return lost;
}
/** Every tier failed and the step's budget bounds what it lost: its budget, plus one call a tier past it. */
const STEP_BOUND_MS = (tiers: number) => DEFAULT_BUDGET.stepBudgetMs + tiers * (MODEL_TIMEOUT_MS + 500);

function expectEndedWell(run: RunRecord, kind: FaultKind) {
  expect(run.error ?? "").not.toMatch(/recursion/i);
  expect(run.status).toBe("completed");
  // every model call failed: rules answered everything; mixed: the models did most of the work
  if (kind === "mixed") expect(run.tiers_used).toContain(TIER_IDS[0]);
  else expect(run.tiers_used).toEqual([RULES_TIER]);
}

beforeAll(async () => {
  admin = await openTestDatabase();
  server = await startScriptedOpenAI();
  reportsDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-fault-matrix-"));
});
afterAll(async () => {
  await server?.close();
  await admin?.close();
});

describeWithData("fault matrix: contract review on the longest CUAD dev contract", "cuad/dev", "contract-review", () => {
  let db: { pool: pg.Pool; drop: () => Promise<void> };
  let text: string;
  beforeAll(async () => {
    db = await freshDatabase(admin);
    const contracts = await loadCuadSplit(dataset("cuad/dev"));
    text = contracts.reduce((a, b) => (b.text.length > a.text.length ? b : a)).text;
  });
  afterAll(() => db?.drop());

  // a careful model's answer that fits any contract: no category found (a found one must quote the text)
  const categories = clauseExtractor.rules({ text: "", start: 0, end: 0 }).categories.map((c) => ({ name: c.name, present: false, excerpts: [], value: null }));
  const answers: Record<string, unknown> = {
    clause_extractor: { categories },
    risk_analyst: { risks: [] },
    terms_analyst: { obligations: [], payment_terms: [], minimum_commitments: [], liquidated_damages: [], renewal: null, notice_periods: [] },
    summarizer: { summary: "A long commercial agreement." },
  };

  for (const tiers of [1, 2, 3]) {
    for (const kind of FAULTS) {
      it(`${tiers} tier(s), ${kind}: finishes, within the step budgets${kind === "500" || kind === "reset" ? " and 45 s for a dead provider" : ""}`, async () => {
        const { clock, tiers: modelTiers } = partsFor(tiers, kind);
        server.reset();
        const wrap = faulting(kind);
        for (const [agent, json] of Object.entries(answers))
          server.setResponder(
            agent,
            wrap(() => ({ json })),
          );
        const runner = new ContractReviewRunner({ pool: db.pool, tiers: modelTiers, reportsDir, reviewThreshold: 60, clock });
        const t0 = clock.now();
        const run = await runner.review({ document: documentOf(text, "longest.txt"), requestId: `cr-${tiers}-${kind}`, autoApprove: true });
        const took = clock.now() - t0;
        expectEndedWell(run, kind);
        for (const [agent, ms] of lostByStep(run.attempts!)) expect(ms, agent).toBeLessThanOrEqual(STEP_BOUND_MS(tiers));
        // a dead provider ends on rules within 45 s for one contract, whatever the number of tiers
        if (kind === "500" || kind === "reset") expect(took).toBeLessThanOrEqual(45_000);
        // the breakers and the run's memory of a tier given up on keep later agents from each paying the outage again
        if (kind !== "mixed") expect(models(run.attempts!).length).toBeLessThanOrEqual(tiers * 10);
      });
    }
  }
});

describeWithData(
  "fault matrix: portfolio monitoring of S&P 500 companies",
  "portfolio/sp500-fundamentals-2012-2016/fundamentals.csv",
  "portfolio-monitoring",
  () => {
    let db: { pool: pg.Pool; drop: () => Promise<void> };
    let tickers: string[];
    beforeAll(async () => {
      db = await freshDatabase(admin);
      const csv = fs.readFileSync(dataset("portfolio/sp500-fundamentals-2012-2016/fundamentals.csv"), "utf8");
      tickers = [
        ...new Set(
          csv
            .split("\n")
            .slice(1)
            .map((l) => l.split(",")[1])
            .filter((t): t is string => !!t),
        ),
      ].sort();
    });
    afterAll(() => db?.drop());

    const cases = [1, 2, 3].flatMap((tiers) => FAULTS.map((kind) => ({ tiers, kind, companies: 20 })));
    cases.push({ tiers: 3, kind: "500", companies: 100 }, { tiers: 3, kind: "mixed", companies: 100 }, { tiers: 2, kind: "hang", companies: 100 });
    for (const { tiers, kind, companies } of cases) {
      it(`${companies} companies, ${tiers} tier(s), ${kind}: finishes with every company accounted for`, async () => {
        const { clock, tiers: modelTiers } = partsFor(tiers, kind);
        server.reset();
        const wrap = faulting(kind);
        for (const [agent, responder] of Object.entries(portfolioResponders)) server.setResponder(agent, wrap(responder));
        const runner = new PortfolioRunner({ pool: db.pool, tiers: modelTiers, reportsDir, clock });
        const portfolio = portfolioInputFromFlags(
          { fundamentals: dataset("portfolio/sp500-fundamentals-2012-2016/fundamentals.csv"), tickers: tickers.slice(0, companies).join(","), year: 2014 },
          ROOT,
        );
        const run = await runner.review({ portfolio, requestId: `pm-${companies}-${tiers}-${kind}` });
        expectEndedWell(run, kind);
        const result = run.result as { companies: CompanyResult[]; supervisor_stop?: { reason: string } };
        expect(result.companies).toHaveLength(companies);
        for (const c of result.companies) expect(["ok", "flagged", "data_unavailable"]).toContain(c.status);
        for (const [agent, ms] of lostByStep(run.attempts!.filter((a) => a.agent === "supervisor")))
          expect(ms, agent).toBeLessThanOrEqual(STEP_BOUND_MS(tiers) * (DEFAULT_BUDGET.maxRounds + 1));
        // a dead provider costs a bounded number of calls per company: the breakers open for the whole process.
        // (An answer that fails its schema is no outage: each of a company's two agents asks every tier and repairs once.)
        // The router: at most a call and a repair a tier, each round.
        const routerShare = (2 * tiers * (DEFAULT_BUDGET.maxRounds + 1)) / companies;
        if (kind !== "mixed") expect(server.requests.length / companies).toBeLessThanOrEqual((kind === "schema_invalid" ? 4 * tiers : 3 * tiers) + routerShare);
      });
    }
  },
);

describeWithData("fault matrix: deal sourcing of YC startups on the event bus", "sourcing/yc-startups-2005-2014/Startups.csv", "sourcing", () => {
  let db: { pool: pg.Pool; drop: () => Promise<void> };
  let boss: PgBoss;
  const thesis = parseThesis(fs.readFileSync(path.join(ROOT, "samples", "thesis.md"), "utf8"));
  beforeAll(async () => {
    db = await freshDatabase(admin);
    boss = await openQueue(db.pool);
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
    await db?.drop();
  });

  const cases = [1, 2, 3].flatMap((tiers) => FAULTS.map((kind) => ({ tiers, kind, startups: 20 })));
  cases.push({ tiers: 3, kind: "500", startups: 200 }, { tiers: 3, kind: "mixed", startups: 200 });
  for (const { tiers, kind, startups } of cases) {
    it(`${startups} startups, ${tiers} tier(s), ${kind}: every company reaches the end of its chain`, async () => {
      // the same startups each case: the same event ids, so the same threads; each case starts from none
      await db.pool.query(
        `TRUNCATE opsgraph_events, opsgraph_event_consumptions, opsgraph_runs, opsgraph_outreach_drafts, opsgraph_dead_letters, checkpoints, checkpoint_blobs, checkpoint_writes, store`,
      );
      const { clock, tiers: modelTiers } = partsFor(tiers, kind);
      server.reset();
      const wrap = faulting(kind);
      for (const [agent, responder] of Object.entries(sourcingResponders)) server.setResponder(agent, wrap(responder));
      const sourcing = new Sourcing({ pool: db.pool, tiers: modelTiers, reportsDir, queue: boss, clock });
      const report = await sourcing.ingest({ csv: dataset("sourcing/yc-startups-2005-2014/Startups.csv"), thesis, limit: startups });
      const consumers = sourcing.stages.map((s) => s.consumer({ workerId: `matrix-${tiers}-${kind}`, leaseMs: 60_000 })!);
      for (let round = 0, took = 1; took > 0; round++) {
        expect(round).toBeLessThan(200);
        took = 0;
        // four at a time: each running stage holds a connection of the test pool (10) for its thread's lock
        for (const c of consumers) took += await c.poll(4);
      }
      const { rows } = await db.pool.query<{ status: string; tiers_used: string[]; error: string | null }>(
        `SELECT status, tiers_used, error FROM opsgraph_runs`,
      );
      expect(rows.filter((r) => /recursion/i.test(r.error ?? ""))).toEqual([]);
      expect(rows.filter((r) => r.status !== "completed")).toEqual([]);
      const used = new Set(rows.flatMap((r) => r.tiers_used));
      if (kind === "mixed") expect([...used]).toContain(TIER_IDS[0]);
      else expect([...used]).toEqual([RULES_TIER]);
      const { rows: ends } = await db.pool.query<{ n: number }>(
        `SELECT count(DISTINCT correlation_id)::int AS n FROM opsgraph_events WHERE (name, version) IN (('outreach.ready', 1), ('company.rejected', 1))`,
      );
      expect(ends[0]!.n).toBe(report.published);
      if (kind !== "mixed") expect(server.requests.length / startups).toBeLessThanOrEqual(kind === "schema_invalid" ? 6 * tiers : 3 * tiers);
    });
  }
});
