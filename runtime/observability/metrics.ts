import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type pg from "pg";
import type { CircuitBreaker } from "../../nodes/circuit-breaker.js";
import type { RunEnded, RunObserver } from "../runs/flow-runner.js";
import { costOf, DEFAULT_PRICES, type PriceTable } from "../models/prices.js";
import { RUNS_QUEUE } from "../queue/queue.js";

/** A model tier as metrics see it: its id, and its circuit breaker when it has one (not `rules`). */
export interface MeteredTier {
  id: string;
  /** The breaker it shares: `provider:model@endpoint` (the tier id when absent). */
  breakerKey?: string;
  breaker?: Pick<CircuitBreaker, "current">;
}

export interface MetricsOptions {
  /** Read on each scrape for the queue depth, queue lag and dead letters (shared by every worker). */
  pool?: pg.Pool;
  /** The process's model tiers: their breakers make opsgraph_circuit_open. */
  tiers?: readonly MeteredTier[];
  /** US$ per 1M tokens by model (config.prices). */
  prices?: PriceTable;
}

/** One process's Prometheus metrics: a registry of its own, fed by the runs' ledgers. */
export interface Metrics {
  registry: Registry;
  /** Tells the counters of every run's end; in memory only (a few increments per attempt). */
  observer: RunObserver;
  /** Runs executing in this process now; set by whoever executes them (the worker). */
  inFlight(count: () => number): void;
}

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const RUN_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The metrics of `opsgraph worker --metrics-port`: per agent calls, latency, retries, tokens
 * and cost from each run's attempt ledger; run durations; and, read when scraped, the runs in
 * flight, the queue, the dead letters and the breakers.
 */
export function createMetrics({ pool, tiers = [], prices = DEFAULT_PRICES }: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const calls = new Counter({
    name: "opsgraph_agent_calls_total",
    help: "Agent attempts by outcome (ok, error, invalid, skipped: breaker open, no call made)",
    labelNames: ["flow", "agent", "tier", "outcome"] as const,
    registers,
  });
  const latency = new Histogram({
    name: "opsgraph_agent_latency_seconds",
    help: "Duration of agent attempts that made a call",
    labelNames: ["flow", "agent", "tier"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: "opsgraph_agent_retries_total",
    help: "Attempts after the first on the same tier (retries of transient errors, repairs of invalid output)",
    labelNames: ["flow", "agent", "tier"] as const,
    registers,
  });
  const tokens = new Counter({
    name: "opsgraph_tokens_total",
    help: "Model tokens by kind (input, output)",
    labelNames: ["model", "kind"] as const,
    registers,
  });
  const cost = new Counter({
    name: "opsgraph_cost_usd_total",
    help: "Spend in US$ from the price table (OPSGRAPH_PRICES)",
    labelNames: ["model"] as const,
    registers,
  });
  const runDuration = new Histogram({
    name: "opsgraph_run_duration_seconds",
    help: "Duration of run invocations by the status they ended in",
    labelNames: ["flow", "status"] as const,
    buckets: RUN_BUCKETS,
    registers,
  });
  let inFlight: () => number = () => 0;
  new Gauge({
    name: "opsgraph_runs_in_flight",
    help: "Runs executing in this process",
    registers,
    collect() {
      this.set(inFlight());
    },
  });
  new Gauge({
    name: "opsgraph_circuit_open",
    help: "1 while a model's circuit breaker (provider:model@endpoint) is open or half-open (probing), else 0",
    labelNames: ["model"] as const,
    registers,
    collect() {
      for (const t of tiers) if (t.breaker) this.set({ model: t.breakerKey ?? t.id }, t.breaker.current === "closed" ? 0 : 1);
    },
  });
  if (pool) {
    // one read for the three database gauges, whichever is collected first in a scrape
    let shared: Promise<{ depth: number; lag_s: number; dead_letters: number }> | undefined;
    const read = () => {
      shared ??= readQueueAndLetters(pool).finally(() => setTimeout(() => (shared = undefined), 0));
      return shared;
    };
    new Gauge({
      name: "opsgraph_queue_depth",
      help: "Run jobs waiting on the queue",
      registers,
      async collect() {
        this.set((await read()).depth);
      },
    });
    new Gauge({
      name: "opsgraph_queue_lag_seconds",
      help: "Age of the oldest run job waiting on the queue (0 when none waits)",
      registers,
      async collect() {
        this.set((await read()).lag_s);
      },
    });
    new Gauge({
      name: "opsgraph_dead_letters",
      help: "Dead letters waiting for a person (opsgraph dlq list)",
      registers,
      async collect() {
        this.set((await read()).dead_letters);
      },
    });
  }

  const observer: RunObserver = {
    runEnded(e: RunEnded) {
      for (const a of e.attempts) {
        const step = { flow: e.flow, agent: a.agent, tier: a.tier };
        calls.inc({ ...step, outcome: a.outcome });
        if (a.outcome !== "skipped") latency.observe(step, a.ms / 1000);
        if (a.attempt > 1) retries.inc(step);
        if (a.tokens) {
          tokens.inc({ model: a.tier, kind: "input" }, a.tokens.input_tokens);
          tokens.inc({ model: a.tier, kind: "output" }, a.tokens.output_tokens);
          const usd = costOf(a.tier, a.tokens, prices);
          if (usd > 0) cost.inc({ model: a.tier }, usd);
        }
      }
      runDuration.observe({ flow: e.flow, status: e.status }, e.duration_ms / 1000);
    },
  };
  return { registry, observer, inFlight: (count) => void (inFlight = count) };
}

/**
 * Serves GET /metrics on 127.0.0.1 (loopback only: a Prometheus on the same host, or a
 * tunnel/sidecar, scrapes it; nothing is exposed to the network by default). Port 0 picks a
 * free port; `url` says which.
 */
export async function serveMetrics(
  registry: Registry,
  { port, host = "127.0.0.1" }: { port: number; host?: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readQueueAndLetters(pool: pg.Pool) {
  const { rows } = await pool.query<{ dead_letters: number; queue: boolean }>(
    "SELECT (SELECT count(*)::int FROM opsgraph_dead_letters WHERE status = 'waiting') AS dead_letters, to_regclass('pgboss.job') IS NOT NULL AS queue",
  );
  const { dead_letters, queue } = rows[0]!;
  // pg-boss creates its schema the first time a queue is opened
  if (!queue) return { depth: 0, lag_s: 0, dead_letters };
  const { rows: q } = await pool.query<{ depth: number; lag_s: number }>(
    `SELECT count(*)::int AS depth, COALESCE(GREATEST(0, EXTRACT(EPOCH FROM now() - min(created_on))), 0)::float8 AS lag_s
     FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry')`,
    [RUNS_QUEUE],
  );
  return { ...q[0]!, dead_letters };
}
