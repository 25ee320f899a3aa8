import type pg from "pg";
import { RUNS_QUEUE } from "../queue/queue.js";

/** The rules `opsgraph alerts check` evaluates; ops/prometheus-rules.yml holds the same ones in PromQL. */
export interface AlertRules {
  /** The window error rates and run durations are computed over (ms). */
  windowMs: number;
  /** agent_error_rate fires when an agent's failed calls / calls in the window exceed this... */
  errorRate: number;
  /** ...over at least this many calls (a single failure is not a rate). */
  minCalls: number;
  /** dead_letters fires when more than this many dead letters wait. */
  deadLetters: number;
  /** breaker_open fires when a model's breaker has not closed for this long (ms). */
  breakerOpenMs: number;
  /** run_p95 fires when a flow's p95 run duration in the window exceeds this (ms). */
  runP95Ms: number;
  /** queue_lag fires when the oldest waiting run job is older than this (ms). */
  queueLagMs: number;
  /** A breaker row its process has not refreshed for this long is from a process gone (ms). */
  breakerStaleMs: number;
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  windowMs: 15 * 60_000,
  errorRate: 0.2,
  minCalls: 10,
  deadLetters: 0,
  breakerOpenMs: 5 * 60_000,
  runP95Ms: 120_000,
  queueLagMs: 60_000,
  breakerStaleMs: 60_000,
};

export const ALERT_RULE_NAMES = ["agent_error_rate", "dead_letters", "breaker_open", "run_p95", "queue_lag"] as const;
export type AlertRuleName = (typeof ALERT_RULE_NAMES)[number];

/** One rule's verdict, for one subject (an agent, a model, a flow) or for the whole deployment. */
export interface Alert {
  rule: AlertRuleName;
  firing: boolean;
  /** `flow/agent`, a model tier id, or a flow; absent for deployment-wide rules. */
  subject?: string;
  /** What was measured (a rate, a count, ms); null when there was nothing to measure. */
  value: number | null;
  threshold: number;
  message: string;
}

export interface AlertReport {
  /** The database's clock when checked. */
  at: string;
  firing: boolean;
  alerts: Alert[];
}

const secs = (ms: number) => ms / 1000;

/**
 * Evaluates every rule against the database (shared by all workers): the agent call counts and
 * breaker states workers write (runtime/observability/alert-signals.ts), dead letters, runs and the queue.
 * Each rule yields one verdict per subject that fires, or one quiet verdict with its worst value.
 */
export async function checkAlerts(pool: pg.Pool, rules: AlertRules = DEFAULT_ALERT_RULES): Promise<AlertReport> {
  const alerts: Alert[] = [];
  const add = (rule: AlertRuleName, threshold: number, found: Omit<Alert, "rule" | "threshold">[], quiet: (worst: number | null) => string) => {
    const firing = found.filter((f) => f.firing);
    if (firing.length) alerts.push(...firing.map((f) => ({ rule, threshold, ...f })));
    else {
      const values = found.map((f) => f.value).filter((v): v is number => v !== null);
      const worst = values.length ? Math.max(...values) : null;
      alerts.push({ rule, firing: false, value: worst, threshold, message: quiet(worst) });
    }
  };

  const { rows: now } = await pool.query<{ at: Date }>("SELECT now() AS at");

  const { rows: agents } = await pool.query<{ flow: string; agent: string; calls: number; errors: number }>(
    `SELECT flow, agent, sum(calls)::int AS calls, sum(errors)::int AS errors FROM opsgraph_agent_calls
     WHERE minute >= date_trunc('minute', now() - make_interval(secs => $1)) GROUP BY flow, agent ORDER BY flow, agent`,
    [secs(rules.windowMs)],
  );
  add(
    "agent_error_rate",
    rules.errorRate,
    agents.map((a) => {
      const rate = a.errors / a.calls;
      const firing = a.calls >= rules.minCalls && rate > rules.errorRate;
      return {
        subject: `${a.flow}/${a.agent}`,
        firing,
        value: rate,
        message: `${a.flow}/${a.agent}: ${a.errors} of ${a.calls} calls failed (${pct(rate)}) in the last ${minutes(rules.windowMs)}`,
      };
    }),
    (worst) =>
      worst === null
        ? `no agent calls in the last ${minutes(rules.windowMs)}`
        : `worst agent error rate ${pct(worst)} (over ${rules.minCalls}+ calls fires above ${pct(rules.errorRate)})`,
  );

  const { rows: letters } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_dead_letters WHERE status = 'waiting'");
  const waiting = letters[0]!.n;
  add(
    "dead_letters",
    rules.deadLetters,
    [{ firing: waiting > rules.deadLetters, value: waiting, message: `${waiting} dead letters waiting (opsgraph dlq list)` }],
    () => `${waiting} dead letters waiting`,
  );

  const { rows: breakers } = await pool.query<{ model: string; open_ms: number; processes: number }>(
    `SELECT model, (EXTRACT(EPOCH FROM now() - min(opened_at)) * 1000)::float8 AS open_ms, count(*)::int AS processes FROM opsgraph_breakers
     WHERE seen_at >= now() - make_interval(secs => $1) GROUP BY model ORDER BY model`,
    [secs(rules.breakerStaleMs)],
  );
  add(
    "breaker_open",
    rules.breakerOpenMs,
    breakers.map((b) => ({
      subject: b.model,
      firing: b.open_ms >= rules.breakerOpenMs,
      value: Math.max(0, Math.round(b.open_ms)),
      message: `${b.model}: circuit breaker open for ${minutes(Math.max(0, b.open_ms))} in ${b.processes} process${b.processes === 1 ? "" : "es"}`,
    })),
    (worst) => (worst === null ? "no circuit breaker open" : `a circuit breaker open for ${minutes(worst)} (fires at ${minutes(rules.breakerOpenMs)})`),
  );

  const { rows: flows } = await pool.query<{ flow: string; p95: number; runs: number }>(
    `SELECT flow, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95, count(*)::int AS runs FROM opsgraph_runs
     WHERE status IN ('completed', 'awaiting_review', 'failed', 'dead_lettered') AND updated_at >= now() - make_interval(secs => $1) GROUP BY flow ORDER BY flow`,
    [secs(rules.windowMs)],
  );
  add(
    "run_p95",
    rules.runP95Ms,
    flows.map((f) => ({
      subject: f.flow,
      firing: f.p95 > rules.runP95Ms,
      value: Math.round(f.p95),
      message: `${f.flow}: p95 run duration ${seconds(f.p95)} over ${f.runs} runs in the last ${minutes(rules.windowMs)}`,
    })),
    (worst) =>
      worst === null
        ? `no runs ended in the last ${minutes(rules.windowMs)}`
        : `worst p95 run duration ${seconds(worst)} (fires above ${seconds(rules.runP95Ms)})`,
  );

  const lag = await queueLagMs(pool);
  add(
    "queue_lag",
    rules.queueLagMs,
    [{ firing: lag !== null && lag > rules.queueLagMs, value: lag, message: `the oldest waiting run job has waited ${seconds(lag ?? 0)}` }],
    () => (lag === null ? "no run job waiting" : `the oldest waiting run job has waited ${seconds(lag)}`),
  );

  return { at: now[0]!.at.toISOString(), firing: alerts.some((a) => a.firing), alerts };
}

async function queueLagMs(pool: pg.Pool): Promise<number | null> {
  const { rows: boss } = await pool.query<{ exists: boolean }>("SELECT to_regclass('pgboss.job') IS NOT NULL AS exists");
  if (!boss[0]?.exists) return null; // pg-boss creates its schema the first time a queue is opened
  const { rows } = await pool.query<{ lag_ms: number | null }>(
    `SELECT (EXTRACT(EPOCH FROM now() - min(created_on)) * 1000)::float8 AS lag_ms FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry')`,
    [RUNS_QUEUE],
  );
  const lag = rows[0]?.lag_ms;
  return lag === null || lag === undefined ? null : Math.max(0, Math.round(lag));
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.1 ? 1 : 0)}%`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const minutes = (ms: number) => (ms < 120_000 ? seconds(ms) : `${Math.round(ms / 60_000)} min`);
