// Over 300 lines: dispatch by a run's flow (resume, dlq retry, dlq retry --all) for every flow, on one database and its runners.
import fs from "node:fs";
import path from "node:path";
import type PgBoss from "pg-boss";
import { afterEach, describe, expect, it } from "vitest";
import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { riskAnalyst } from "../flows/contract-review/agents/risk-analyst.js";
import { kpiAnalyst } from "../flows/portfolio-monitoring/agents/kpi-analyst.js";
import { COLLECT, portfolioRouter } from "../flows/portfolio-monitoring/agents/router.js";
import { fitAnalyst, type FitInput } from "../flows/sourcing/agents/fit-analyst.js";
import { parseThesis } from "../flows/sourcing/agents/thesis.js";
import { CONTRACT_REVIEW_STATE_VERSION } from "../flows/contract-review/graph/index.js";
import { PORTFOLIO_MONITORING_STATE_VERSION } from "../flows/portfolio-monitoring/graph/index.js";
import { SOURCING_STATE_VERSION, type SourcingEvent } from "../flows/sourcing/graph/index.js";
import type { Agent } from "../nodes/agent.js";
import type { ExhaustedPolicy } from "../nodes/agent-step.js";
import { createCheckpointer } from "../runtime/db/checkpointer.js";
import { replayDeadLetters, selectDeadLetters } from "../runtime/queue/dead-letter-replay.js";
import type { EventConsumer } from "../runtime/queue/event-bus.js";
import { FlowRegistry } from "../runtime/runs/flow-registry.js";
import type { RunRecord } from "../runtime/runs/flow-runner.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import { openQueue } from "../runtime/queue/queue.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { Sourcing } from "../flows/sourcing/run/flow.js";
import { checkpointStateVersion } from "../runtime/db/state-version.js";
import { ROOT } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";

// Every flow's escalated or dead-lettered run goes on on its own graph, through the registry:
// contract review, portfolio monitoring and a sourcing stage, each on a fresh database. No model:
// the rules tier only, made to fail (every tier failed) while an agent is in `broken`.

const db = useFreshDatabase("opsgraph-registry-");
const CONTRACT = fs.readFileSync(path.join(ROOT, "samples", "contracts", "harbor-consulting-services.txt"), "utf8");
const FUNDAMENTALS = path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv"); // invented: see test/fixtures/README.md
const CSV = path.join(ROOT, "test", "fixtures", "startups", "Startups.csv"); // invented: see test/fixtures/README.md
const thesis = parseThesis(fs.readFileSync(path.join(ROOT, "samples", "thesis.md"), "utf8"));

/** Agents whose rules (the only tier) throw while their name is in `broken`. */
const broken = new Set<string>();
function breakable<I, M, O>(name: string, agent: Agent<I, M, O>) {
  return {
    ...agent,
    rules: (input: I) => {
      if (broken.has(name)) throw new Error(`${name}: rules crashed`);
      return agent.rules(input);
    },
  } as Agent<unknown, unknown, unknown>;
}
const AGENTS = {
  clause_extractor: breakable("clause_extractor", clauseExtractor),
  risk_analyst: breakable("risk_analyst", riskAnalyst),
  supervisor: breakable("supervisor", portfolioRouter),
  analyse_kpis: breakable("analyse_kpis", kpiAnalyst),
  fit_analyst: breakable("fit_analyst", fitAnalyst),
};

let boss: PgBoss | undefined;
afterEach(async () => {
  broken.clear();
  await boss?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
  boss = undefined;
});

/** The runners an app has, on the test's database, and their registry. */
async function open(onExhausted?: ExhaustedPolicy) {
  boss = await openQueue(db.pool);
  const deps = { pool: db.pool, tiers: [], reportsDir: path.join(db.dir, "reports"), agents: AGENTS, queue: boss, ...(onExhausted ? { onExhausted } : {}) };
  const contractReview = new ContractReviewRunner({ ...deps, reviewThreshold: 60 });
  const portfolio = new PortfolioRunner(deps);
  const sourcing = new Sourcing(deps);
  const registry = new FlowRegistry(db.pool, [contractReview, portfolio, ...sourcing.stages]);
  const consumers = sourcing.stages.map((s) => s.consumer({ workerId: "test", leaseMs: 60_000 })!);
  return { contractReview, portfolio, sourcing, registry, consumers };
}

/** Polls every consumer until a round takes nothing. */
async function drain(consumers: EventConsumer[]) {
  for (let round = 0; round < 50; round++) {
    let took = 0;
    for (const c of consumers) took += await c.poll(4); // the pool has 10 connections: each run holds one for its lock
    if (took === 0) return;
  }
  throw new Error("consumers never went idle");
}

/** The state version of every checkpoint of a thread, oldest first. */
async function stateVersions(threadId: string): Promise<(number | string)[]> {
  const versions: (number | string)[] = [];
  for await (const t of createCheckpointer(db.pool).list({ configurable: { thread_id: threadId, checkpoint_ns: "" } }))
    versions.unshift(checkpointStateVersion(t.checkpoint));
  return versions;
}

const portfolioOf = (tickers: string[]) => portfolioInputFromFlags({ fundamentals: FUNDAMENTALS, tickers: tickers.join(","), year: 2014 }, process.cwd());
const PERSON_PLAN = { finish: false, reason: "a person's plan: collect FJRD first", tasks: [{ worker: COLLECT, payload: { ticker: "FJRD" } }] };

/** The run of a sourcing stage for a company, by its flow. */
async function stageRun(flow: string): Promise<{ run_id: string; status: string; thread_id: string; input: { event: SourcingEvent } }> {
  const { rows } = await db.pool.query(`SELECT run_id::text, status, thread_id, input FROM opsgraph_runs WHERE flow = $1`, [flow]);
  expect(rows).toHaveLength(1);
  return rows[0];
}
const count = async (sql: string, params: unknown[] = []) => (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

describe("resume dispatches by the run's flow", () => {
  it("contract review: an escalated clause extractor, given a person's output, completes on the contract-review graph", async () => {
    const { registry, contractReview, portfolio } = await open("escalate");
    broken.add("clause_extractor");
    expect(registry.runnerFor("contract-review")).toBe(contractReview);
    const paused = await contractReview.review({ document: documentOf(CONTRACT), autoApprove: true });
    expect(paused.status).toBe("awaiting_review");
    broken.clear();
    const output = clauseExtractor.rules({ text: CONTRACT, start: 0, end: CONTRACT.length });
    // defence in depth: another flow's runner refuses it, and writes nothing
    const before = await stateVersions(paused.thread_id);
    await expect(portfolio.resume(paused.run_id, { output })).rejects.toThrow(`run ${paused.run_id}: is a contract-review run, not portfolio-monitoring`);
    expect(await stateVersions(paused.thread_id)).toEqual(before);
    const done = await registry.resume(paused.run_id, { output });
    expect(done).toMatchObject({ flow: "contract-review", status: "completed" });
    const result = done.result as { categories: unknown[]; risk_score: number; decision: unknown; produced_by: Record<string, string> };
    expect(result.categories.length).toBeGreaterThan(0);
    expect(typeof result.risk_score).toBe("number");
    expect(result.produced_by).toMatchObject({ clause_extractor: "person", risk_analyst: "rules" });
    expect((await stateVersions(paused.thread_id)).at(-1)).toBe(CONTRACT_REVIEW_STATE_VERSION);
  });

  it("contract review: rejected at the escalation, the run fails with the reason", async () => {
    const { registry, contractReview, sourcing } = await open("escalate");
    broken.add("clause_extractor");
    const paused = await contractReview.review({ document: documentOf(CONTRACT), autoApprove: true });
    await expect(sourcing.stages[1]!.resume(paused.run_id, { decision: "reject" })).rejects.toThrow(
      `run ${paused.run_id}: is a contract-review run, not sourcing.fit_analyst`,
    );
    const done = await registry.resume(paused.run_id, { decision: "reject", note: "unreadable scan" });
    expect(done).toMatchObject({
      flow: "contract-review",
      status: "failed",
      error: "clause_extractor: rejected by a person at the escalation: unreadable scan",
    });
  });

  it("portfolio monitoring: an escalated supervisor, given a person's plan, completes on the portfolio graph with its report; contract review's upgrader never touches the thread", async () => {
    const { registry, portfolio, contractReview } = await open("escalate");
    broken.add("supervisor");
    const paused = await portfolio.review({ portfolio: portfolioOf(["FJRD", "KSTR"]), requestId: "registry-portfolio" });
    expect(paused.status).toBe("awaiting_review");
    broken.clear();
    // defence in depth: another flow's runner refuses it, and writes nothing
    const before = await stateVersions(paused.thread_id);
    await expect(contractReview.resume(paused.run_id, { output: PERSON_PLAN })).rejects.toThrow(
      `run ${paused.run_id}: is a portfolio-monitoring run, not contract-review`,
    );
    await expect(contractReview.show(paused.run_id)).rejects.toThrow("is a portfolio-monitoring run, not contract-review");
    expect(await stateVersions(paused.thread_id)).toEqual(before);

    const done = await registry.resume(paused.run_id, { output: PERSON_PLAN });
    expect(done).toMatchObject({ flow: "portfolio-monitoring", status: "completed" });
    const result = done.result as {
      companies: { ticker: string; status: string }[];
      report_path: string;
      report_html_path: string;
      produced_by: Record<string, string>;
    };
    expect(result.companies.map((c) => c.ticker).sort()).toEqual(["FJRD", "KSTR"]);
    expect(result.companies.every((c) => ["ok", "flagged"].includes(c.status))).toBe(true);
    expect(fs.existsSync(result.report_path)).toBe(true);
    expect(fs.existsSync(result.report_html_path)).toBe(true);
    expect(result).not.toHaveProperty("categories");
    expect(new Set(await stateVersions(paused.thread_id))).toEqual(new Set([PORTFOLIO_MONITORING_STATE_VERSION]));
    // the person's plan was the first round's decision
    expect((await registry.show(paused.run_id)).attempts!.filter((a) => a.agent === "supervisor" && a.tier === "person")).toHaveLength(1);
  });

  it("portfolio monitoring: rejected at the escalation, the run fails with the reason and writes no report", async () => {
    const { registry, portfolio } = await open("escalate");
    broken.add("supervisor");
    const paused = await portfolio.review({ portfolio: portfolioOf(["FJRD"]), requestId: "registry-portfolio-reject" });
    const done = await registry.resume(paused.run_id, { decision: "reject", note: "wrong portfolio" });
    expect(done).toMatchObject({
      flow: "portfolio-monitoring",
      status: "failed",
      error: "supervisor: rejected by a person at the escalation: wrong portfolio",
    });
    expect(fs.existsSync(path.join(db.dir, "reports")) ? fs.readdirSync(path.join(db.dir, "reports")) : []).toEqual([]);
    expect(new Set(await stateVersions(paused.thread_id))).toEqual(new Set([PORTFOLIO_MONITORING_STATE_VERSION]));
  });

  it("sourcing: an escalated fit analyst, given a person's assessment, completes on its stage's graph and the chain goes on to its end", async () => {
    const { registry, sourcing, consumers, contractReview } = await open("escalate");
    broken.add("fit_analyst");
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    await drain(consumers);
    const paused = await stageRun("sourcing.fit_analyst");
    expect(paused.status).toBe("awaiting_review");
    expect((await sourcing.status()).finished).toBe(0);
    broken.clear();
    const output = fitAnalyst.rules(paused.input.event.payload as FitInput);
    const before = await stateVersions(paused.thread_id);
    await expect(contractReview.resume(paused.run_id, { output })).rejects.toThrow(`run ${paused.run_id}: is a sourcing.fit_analyst run, not contract-review`);
    expect(await stateVersions(paused.thread_id)).toEqual(before);
    const done = await registry.resume(paused.run_id, { output });
    expect(done).toMatchObject({ flow: "sourcing.fit_analyst", status: "completed" });
    const result = done.result as { fit: { score: number }; produced_by: Record<string, string> };
    expect(result.fit.score).toBe(output.score);
    expect(result.produced_by).toEqual({ fit_analyst: "person" });
    expect(new Set(await stateVersions(paused.thread_id))).toEqual(new Set([SOURCING_STATE_VERSION]));
    // its answer is published: the next stage (or the rejection) follows, and the company is finished
    expect(
      await count(`SELECT count(*)::int AS n FROM opsgraph_events WHERE name = 'company.fit_assessed' AND causation_id = $1`, [paused.input.event.id]),
    ).toBe(1);
    await drain(consumers);
    expect((await sourcing.status()).finished).toBe(1);
  });

  it("sourcing: rejected at the escalation, the stage's run fails with the reason and publishes nothing", async () => {
    const { registry, sourcing, consumers } = await open("escalate");
    broken.add("fit_analyst");
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    await drain(consumers);
    const paused = await stageRun("sourcing.fit_analyst");
    const done = await registry.resume(paused.run_id, { decision: "reject", note: "not our market" });
    expect(done).toMatchObject({
      flow: "sourcing.fit_analyst",
      status: "failed",
      error: "fit_analyst: rejected by a person at the escalation: not our market",
    });
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_events WHERE name = 'company.fit_assessed'`)).toBe(0);
  });

  it("an unknown flow is one InputError naming the known ones", async () => {
    const { registry } = await open();
    expect(() => registry.runnerFor("nope")).toThrow(
      'unknown flow "nope" (known: contract-review, portfolio-monitoring, sourcing.company_profiler, sourcing.fit_analyst, sourcing.outreach_writer)',
    );
    await expect(registry.list({ flow: "nope" })).rejects.toThrow('--flow: unknown flow "nope"');
  });
});

describe("dlq retry of a sourcing stage", () => {
  it("publishes the stage's next event, so the company's chain reaches its end", async () => {
    const { registry, sourcing, consumers } = await open();
    broken.add("fit_analyst");
    await sourcing.ingest({ csv: CSV, thesis, limit: 1 });
    await drain(consumers);
    const dead = await stageRun("sourcing.fit_analyst");
    expect(dead.status).toBe("dead_lettered");
    const [letter] = await registry.deadLetters.list();
    expect(letter).toMatchObject({ agent: "fit_analyst", run_id: dead.run_id });
    broken.clear();
    const { run } = await registry.retryDeadLetter(letter!.id);
    expect(run.status).toBe("completed");
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_events WHERE name = 'company.fit_assessed' AND causation_id = $1`, [dead.input.event.id])).toBe(
      1,
    );
    expect(
      await count(`SELECT count(*)::int AS n FROM opsgraph_event_consumptions WHERE event_id = $1 AND consumer = 'fit_analyst' AND outcome = 'handled'`, [
        dead.input.event.id,
      ]),
    ).toBe(1);
    await drain(consumers);
    expect((await sourcing.status()).finished).toBe(1);
  });
});

describe("dlq retry --all: bulk replay", () => {
  it("retries 24 dead letters of two flows once each, by filter, after a dry run; a worker task's letter is counted, not fatal", async () => {
    const { registry, sourcing, consumers, contractReview, portfolio } = await open();
    broken.add("fit_analyst").add("risk_analyst").add("analyse_kpis");
    await sourcing.ingest({ csv: CSV, thesis, limit: 18 });
    await drain(consumers);
    const reviews: RunRecord[] = [];
    for (let i = 0; i < 6; i++) reviews.push(await contractReview.review({ document: documentOf(`${CONTRACT}\n\nCopy ${i}.`), autoApprove: true }));
    expect(reviews.map((r) => r.status)).toEqual(Array(6).fill("dead_lettered"));
    const worker = await portfolio.review({ portfolio: portfolioOf(["FJRD"]), requestId: "registry-bulk-worker" });
    expect(worker.status).toBe("completed"); // its company failed, with a worker task's dead letter
    broken.clear();

    // dry runs: what each filter selects, nothing retried
    expect(await selectDeadLetters(registry, { flow: "sourcing" })).toHaveLength(18);
    expect(await selectDeadLetters(registry, { flow: "sourcing.fit_analyst", agent: "fit_analyst" })).toHaveLength(18);
    expect(await selectDeadLetters(registry, { agent: "risk_analyst" })).toHaveLength(6);
    expect(await selectDeadLetters(registry, { since: new Date(Date.now() + 60_000) })).toHaveLength(0);
    await expect(selectDeadLetters(registry, { flow: "nope" })).rejects.toThrow('--flow: unknown flow "nope"');
    const portfolioLetters = (await selectDeadLetters(registry, { flow: "portfolio-monitoring" })).length;
    expect(portfolioLetters).toBeGreaterThanOrEqual(1);
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_dead_letters WHERE status = 'waiting'`)).toBe(24 + portfolioLetters);

    const seen: string[] = [];
    const summary = await replayDeadLetters(registry, {
      filter: { since: new Date(Date.now() - 3_600_000) },
      concurrency: 4,
      onLetter: (l) => void seen.push(l.id),
    });
    expect(summary).toMatchObject({
      selected: 24 + portfolioLetters,
      retried: 24,
      completed: 24,
      dead_lettered: 0,
      failed: 0,
      errors: 0,
      not_retryable: portfolioLetters,
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(summary.letters.filter((l) => l.outcome === "not_retryable").every((l) => l.agent === "analyse_kpis")).toBe(true);
    // each retried once: settled, the worker task's left waiting
    expect((await db.pool.query(`SELECT status, count(*)::int AS n FROM opsgraph_dead_letters GROUP BY status ORDER BY status`)).rows).toEqual([
      { status: "retried", n: 24 },
      { status: "waiting", n: portfolioLetters },
    ]);
    for (const r of reviews) expect((await registry.show(r.run_id)).status).toBe("completed");
    expect(await count(`SELECT count(*)::int AS n FROM opsgraph_runs WHERE flow = 'sourcing.fit_analyst' AND status = 'completed'`)).toBe(18);
    await drain(consumers);
    expect((await sourcing.status()).finished).toBe(18);

    // nothing left to retry: a second replay retries none
    expect(await replayDeadLetters(registry, { filter: { flow: "sourcing" } })).toMatchObject({ selected: 0, retried: 0 });
  }, 120_000);
});
