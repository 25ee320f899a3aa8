import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatStatus } from "../cli/status.js";
import { ALERT_RULE_NAMES, checkAlerts, DEFAULT_ALERT_RULES, type AlertReport } from "../runtime/observability/alerts.js";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { createMetrics } from "../runtime/observability/metrics.js";
import { openQueue, RUNS_QUEUE } from "../runtime/queue/queue.js";
import { readStatus } from "../runtime/observability/status.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { databaseUrl, ROOT, runOpsgraph } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { AGENTS, answers, CONTRACT, MODEL } from "../testing/scripted-contract.js";

// `opsgraph alerts check` on fresh databases: the breaker provoked for real (the real ChatOpenAI
// against a scripted server answering 500s), the other rules' data inserted directly.

const db = useFreshDatabase("opsgraph-alerts-");
let server: ScriptedServer;
let app: App | undefined;

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

const cliEnv = () => ({ DATABASE_URL: databaseUrl(db.pool), OPSGRAPH_DATA_DIR: db.dir });
const alertsCheck = async (...args: string[]) => {
  const r = await runOpsgraph(["alerts", "check", "--json", ...args], cliEnv());
  return { code: r.code, report: JSON.parse(r.stdout) as AlertReport, stderr: r.stderr };
};
const firing = (r: AlertReport) => r.alerts.filter((a) => a.firing).map((a) => `${a.rule}${a.subject ? `:${a.subject}` : ""}`);

function review(a: App, n: number) {
  const text = `${CONTRACT}\n\nAlerts test contract ${n}, ${Date.now()}.`;
  const document: ContractDocument = {
    text,
    source: `c${n}.txt`,
    path: `c${n}.txt`,
    bytes: Buffer.byteLength(text),
    sha256: createHash("sha256").update(text).digest("hex"),
    format: "txt",
  };
  return a.contractReview.review({ document, autoApprove: true });
}

function open(env: Record<string, string> = {}) {
  return openApp(loadConfig({ ...cliEnv(), OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", OPSGRAPH_MODELS: MODEL, LOG_LEVEL: "silent", ...env }));
}

describe("opsgraph alerts check", () => {
  it("is quiet on a healthy database (exit 0), and fires breaker_open (exit 1) once a breaker is provoked open", async () => {
    for (const a of AGENTS) server.setResponder(a, () => ({ json: answers[a], usage: { prompt_tokens: 100, completion_tokens: 10 } }));
    app = await open({ OPSGRAPH_BREAKER_FAILURES: "2" });
    expect((await review(app, 1)).status).toBe("completed");
    await app.alertSignals.flush();
    // thresholds as tight as they go: every call was fine, so nothing fires
    const healthy = await alertsCheck("--breaker-open", "0s", "--error-rate", "0", "--min-calls", "1");
    expect(healthy.code).toBe(0);
    expect(healthy.report.firing).toBe(false);
    expect(healthy.report.alerts.map((a) => a.rule).sort()).toEqual([...ALERT_RULE_NAMES].sort());
    const quietText = await runOpsgraph(["alerts", "check"], cliEnv());
    expect(quietText.stdout).toContain("all quiet");

    // the provider goes down: two 500s in a row open the breaker, the agents fall back to rules
    for (const a of AGENTS) server.setResponder(a, () => ({ fault: { kind: "status", status: 500 } }));
    expect((await review(app, 2)).status).toBe("completed");
    expect(app.tiers.map((t) => (t as { breaker?: { current: string } }).breaker?.current)).toEqual(["open"]);
    await app.alertSignals.flush();

    const broken = await alertsCheck("--breaker-open", "0s");
    expect(broken.code).toBe(1);
    // a breaker is keyed by provider, model and endpoint (here the scripted server)
    const key = `${MODEL}@${server.url}`;
    expect(firing(broken.report)).toEqual([`breaker_open:${key}`]);
    const text = await runOpsgraph(["alerts", "check", "--breaker-open", "0s"], cliEnv());
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FIRING\s+breaker_open\s+openai:gpt-4\.1-mini@http:\/\/127\.0\.0\.1:\d+\/v1: circuit breaker open for/);
    // open for seconds only: the default rule (5 minutes) does not fire yet
    expect((await alertsCheck()).code).toBe(0);

    // the live picture shows it too, and today's spend from the first run's tokens
    const status = await readStatus(db.pool, { leaseMs: 30_000 });
    expect(status.breakers).toEqual([expect.objectContaining({ model: key, state: "open", processes: 1 })]);
    expect(status.spend_today.by_model[MODEL]).toMatchObject({ input_tokens: 400, output_tokens: 40 });
    expect(status.spend_today.usd).toBeCloseTo((400 * 0.4 + 40 * 1.6) / 1e6, 9);
    expect(formatStatus(status)).toMatch(/breakers +openai:gpt-4\.1-mini@http:\/\/127\.0\.0\.1:\d+\/v1 open for/);
    expect(formatStatus(status)).toMatch(/spend today +\$0\.00022/);

    // the breaker lives in this process: when it ends, nothing is left open
    await app.close();
    app = undefined;
    expect((await alertsCheck("--breaker-open", "0s")).code).toBe(0);
  });

  it("agent_error_rate fires for an agent failing more than the share over enough calls, from the counts workers write", async () => {
    const signals = (await open()).alertSignals;
    const ended = (agent: string, outcomes: ("ok" | "error" | "invalid" | "skipped")[]) =>
      signals.runEnded({
        flow: "contract-review",
        run_id: randomUUID(),
        thread_id: "t",
        status: "completed",
        started_at: new Date(),
        duration_ms: 10,
        error: null,
        attempts: outcomes.map((outcome, i) => ({ agent, tier: MODEL, attempt: i + 1, outcome, ms: 5 })),
      });
    ended("risk_analyst", ["error", "error", "invalid", "ok"]);
    ended("risk_analyst", ["error", "ok", "skipped", "skipped"]);
    ended("summarizer", ["ok", "ok", "ok", "ok", "error"]);
    await signals.flush();
    await signals.close();
    // risk_analyst: 4 of 6 calls failed (skipped: no call); summarizer: 1 of 5
    const rules = { ...DEFAULT_ALERT_RULES, minCalls: 5, errorRate: 0.3 };
    const r = await checkAlerts(db.pool, rules);
    expect(firing(r)).toEqual(["agent_error_rate:contract-review/risk_analyst"]);
    expect(r.alerts.find((a) => a.rule === "agent_error_rate")).toMatchObject({ value: 4 / 6, threshold: 0.3 });
    // too few calls to call it a rate
    expect(firing(await checkAlerts(db.pool, { ...rules, minCalls: 7 }))).toEqual([]);
    // calls older than the window do not count
    await db.pool.query("UPDATE opsgraph_agent_calls SET minute = minute - interval '1 hour'");
    expect(firing(await checkAlerts(db.pool, rules))).toEqual([]);
  });

  it("dead_letters fires while more than the threshold wait", async () => {
    const letter = (status: string) =>
      db.pool.query(
        `INSERT INTO opsgraph_dead_letters (thread_id, flow, node, agent, errors, attempts, status) VALUES ($1, 'contract-review', 'risk_analyst', 'risk_analyst', '[]', 1, $2)`,
        [randomUUID(), status],
      );
    await letter("discarded");
    expect(firing(await checkAlerts(db.pool))).toEqual([]);
    await letter("waiting");
    await letter("waiting");
    const r = await checkAlerts(db.pool);
    expect(firing(r)).toEqual(["dead_letters"]);
    expect(r.alerts.find((a) => a.rule === "dead_letters")).toMatchObject({ value: 2, message: "2 dead letters waiting (opsgraph dlq list)" });
    expect(firing(await checkAlerts(db.pool, { ...DEFAULT_ALERT_RULES, deadLetters: 2 }))).toEqual([]);
  });

  it("breaker_open counts a breaker from when it first opened, and ignores rows a dead process stopped refreshing", async () => {
    const breaker = (process: string, openedMinAgo: number, seenSecAgo: number) =>
      db.pool.query(
        `INSERT INTO opsgraph_breakers (process_id, model, state, opened_at, seen_at) VALUES ($1, $2, 'half_open', now() - make_interval(mins => $3), now() - make_interval(secs => $4))`,
        [process, MODEL, openedMinAgo, seenSecAgo],
      );
    await breaker("gone:1", 30, 600);
    expect(firing(await checkAlerts(db.pool))).toEqual([]);
    await breaker("live:1", 2, 1);
    expect(firing(await checkAlerts(db.pool))).toEqual([]);
    await breaker("live:2", 7, 1);
    const r = await checkAlerts(db.pool);
    expect(firing(r)).toEqual([`breaker_open:${MODEL}`]);
    expect(r.alerts[2]!.message).toMatch(/open for 7 min in 2 processes/);
  });

  it("run_p95 fires for a flow whose runs in the window were slow", async () => {
    const run = (flow: string, ms: number, minutesAgo = 0) => {
      const id = randomUUID();
      return db.pool.query(
        `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, duration_ms, updated_at) VALUES ($1::uuid, $1::text, $1::text, $2, 'completed', $3, now() - make_interval(mins => $4))`,
        [id, flow, ms, minutesAgo],
      );
    };
    for (let i = 0; i < 19; i++) await run("contract-review", 1_000);
    await run("contract-review", 600_000, 60); // slow, but an hour ago
    await run("portfolio-monitoring", 2_000);
    expect(firing(await checkAlerts(db.pool))).toEqual([]);
    await run("contract-review", 400_000);
    await run("contract-review", 500_000);
    const r = await checkAlerts(db.pool);
    expect(firing(r)).toEqual(["run_p95:contract-review"]);
    expect(r.alerts.find((a) => a.firing)!.value).toBeGreaterThan(120_000);
  });

  it("queue_lag fires when the oldest waiting run job is older than the threshold", async () => {
    expect(firing(await checkAlerts(db.pool))).toEqual([]); // no queue opened yet
    const boss = await openQueue(db.pool);
    try {
      await boss.send(RUNS_QUEUE, { run_id: randomUUID(), flow: "contract-review" });
      expect(firing(await checkAlerts(db.pool))).toEqual([]);
      await db.pool.query(`UPDATE pgboss.job SET created_on = now() - interval '5 minutes' WHERE name = $1`, [RUNS_QUEUE]);
      const r = await checkAlerts(db.pool);
      expect(firing(r)).toEqual(["queue_lag"]);
      expect(r.alerts.find((a) => a.rule === "queue_lag")!.value).toBeGreaterThanOrEqual(300_000);
    } finally {
      await boss.stop({ graceful: false, wait: true, close: false }).catch(() => {});
    }
  });
});

describe("ops/prometheus-rules.yml", () => {
  it("ships the same five rules, over metrics the workers serve", async () => {
    const file = parse(fs.readFileSync(path.join(ROOT, "ops", "prometheus-rules.yml"), "utf8")) as {
      groups: { rules: { alert: string; expr: string; labels: { rule: string } }[] }[];
    };
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.labels.rule).sort()).toEqual([...ALERT_RULE_NAMES].sort());
    const served = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    for (const name of ["opsgraph_queue_depth", "opsgraph_queue_lag_seconds", "opsgraph_dead_letters"]) served.add(name); // served when a database is given
    for (const r of rules) {
      const used = [...r.expr.matchAll(/\bopsgraph_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ""));
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const metric of used) expect(served, `${r.alert}: ${metric}`).toContain(metric);
    }
  });
});
