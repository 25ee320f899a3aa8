import type pg from "pg";
import type { CircuitState } from "../../nodes/circuit-breaker.js";
import { costOf, DEFAULT_PRICES, type PriceTable } from "../models/prices.js";
import { RUNS_QUEUE } from "../queue/queue.js";
import type { TierStats } from "../../nodes/tier-order.js";
import { readTierStats, TIER_STATS_WINDOW, tierOrdersOf, type TierOrders } from "../models/tier-stats.js";
import type { RunStatus } from "../runs/flow-runner.js";
import type { Config } from "../config.js";
import { breakerKeyOf, endpointOf, type ModelTierSpec, type Provider } from "../models/tier-spec.js";

/** A worker that is alive: not stopped, and its heartbeat within 3 leases. */
export interface LiveWorker {
  worker_id: string;
  host: string;
  pid: number;
  concurrency: number;
  in_flight: number;
  started_at: string;
  heartbeat_at: string;
  /** Since its last heartbeat (ms), on the database's clock. */
  heartbeat_age_ms: number;
}

/** A configured model tier as `opsgraph status` shows it: never its key, only the key's variable. */
export interface TierStatus {
  /** `provider:model` (with `@endpoint` when one was written): the name in runs' `tiers_used`. */
  id: string;
  provider: Provider;
  /** Where its requests go. */
  endpoint: string;
  /** The variable its key is read from (null: it sends none), and whether that is set. */
  key_env: string | null;
  key_set: boolean;
  /** Its circuit breaker's key (`provider:model@endpoint`) and state (closed when no process has tripped it). */
  breaker: string;
  breaker_state: CircuitState;
}

/** The model chains of the configuration read: the flows' (OPSGRAPH_MODELS) and the agents' own. */
export interface ModelsStatus {
  /** Tier ids in order; rules is always last and not listed. */
  chains: { default: string[]; agents: Record<string, string[]> };
  /** Each tier once, in the order first named. */
  tiers: TierStatus[];
}

/** One model's circuit breaker, shared by every process. */
export interface BreakerStatus {
  /** The breaker's key: provider:model@endpoint (one per provider, endpoint and model). */
  model: string;
  /** half_open: past its cooldown, its probe out or about to be. */
  state: CircuitState;
  /** Failures in a row, every process's calls counted. */
  failures: number;
  /** The share of failures over the recent calls of the process that failed or answered last. */
  failure_rate: number;
  /** In this state since (open, half_open: since the outage began); ms ago on the database's clock. */
  since: string;
  since_ms: number;
  /** half_open: the process whose probe is out, and how long it has left (0: its worker is gone, claimable). */
  probe_owner: string | null;
  probe_left_ms: number | null;
  /** Live processes that see it open (written by runtime/observability/alert-signals.ts every few seconds). */
  processes: number;
}

/** The whole deployment on one screen (`opsgraph status`). */
export interface Status {
  /** The database's clock when read. */
  at: string;
  workers: {
    alive: LiveWorker[];
    /** Not stopped, but silent for more than 3 leases: killed, or its host is gone. */
    lost: number;
    /** Stopped cleanly (drained). */
    stopped: number;
  };
  queue: {
    /** Run jobs waiting to be fetched (created or retry); 0 when no queue was ever opened. */
    depth: number;
    /** Age of the oldest waiting job (ms); null when none waits. */
    lag_ms: number | null;
  };
  /** Every run status with its count, zeros included. */
  runs: Record<RunStatus, number>;
  dead_letters: { waiting: number };
  /** Every model's circuit breaker as the fleet shares it (opsgraph_circuit_breakers), by model. */
  breakers: BreakerStatus[];
  /** Model spend of the runs that ran today (the database's day), from their token counts and the price table. */
  spend_today: { usd: number; by_model: Record<string, { usd: number; input_tokens: number; output_tokens: number }> };
  /**
   * With OPSGRAPH_ADAPTIVE_TIERS: the attempt ledger's stats per (agent, model) over its window,
   * and the order each agent with stats tries its tiers in now (outside its runs' traffic floor).
   */
  adaptive_tiers?: { window: typeof TIER_STATS_WINDOW; stats: TierStats[]; order: TierOrders };
  /** The configured chains (when read with the configuration), each tier with its breaker's state. */
  models?: ModelsStatus;
}

/** The chains of a configuration, for status: what each tier calls and with which key variable, never a key. */
export function modelsOf(
  config: Pick<Config, "modelTiers" | "agentTiers" | "apiKeys" | "openai">,
): Omit<ModelsStatus, "tiers"> & { tiers: Omit<TierStatus, "breaker_state">[] } {
  const tiers = new Map<string, Omit<TierStatus, "breaker_state">>();
  const ids = (list: readonly ModelTierSpec[]) =>
    list.map((spec) => {
      if (!tiers.has(spec.id)) {
        const endpoint = endpointOf(spec, config.openai.baseURL);
        tiers.set(spec.id, {
          id: spec.id,
          provider: spec.provider,
          endpoint,
          key_env: spec.keyEnv ?? null,
          key_set: config.apiKeys.get(spec.keyEnv) !== undefined,
          breaker: breakerKeyOf(spec, endpoint),
        });
      }
      return spec.id;
    });
  const chains = { default: ids(config.modelTiers), agents: Object.fromEntries(Object.entries(config.agentTiers).map(([agent, list]) => [agent, ids(list)])) };
  return { chains, tiers: [...tiers.values()] };
}

const RUN_STATUSES: RunStatus[] = ["queued", "running", "awaiting_review", "completed", "failed", "dead_lettered"];

/**
 * Reads the status in one read-only snapshot. `leaseMs`: OPSGRAPH_LEASE_MS; a worker is alive
 * when it is not stopped and its heartbeat (every lease/3) is within 3 leases.
 */
export async function readStatus(
  pool: pg.Pool,
  {
    leaseMs,
    prices = DEFAULT_PRICES,
    adaptiveTiers,
    models,
  }: {
    leaseMs: number;
    prices?: PriceTable;
    /** The configured tier ids (one list, or each agent's own), when adaptive tier order is on. */
    adaptiveTiers?: readonly string[] | ((agent: string) => readonly string[]);
    /** The configuration's chains (modelsOf): shown with each tier's breaker state. */
    models?: ReturnType<typeof modelsOf>;
  },
): Promise<Status> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const alive = `stopped_at IS NULL AND heartbeat_at >= now() - make_interval(secs => $1 * 3 / 1000.0)`;
    const { rows: nowRows } = await client.query<{ at: Date }>("SELECT now() AS at");
    type WorkerRow = Omit<LiveWorker, "started_at" | "heartbeat_at" | "heartbeat_age_ms"> & { started_at: Date; heartbeat_at: Date; heartbeat_age_ms: string };
    const { rows: workers } = await client.query<WorkerRow>(
      `SELECT worker_id, host, pid, concurrency, in_flight, started_at, heartbeat_at,
              round(EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000) AS heartbeat_age_ms
       FROM opsgraph_workers WHERE ${alive} ORDER BY started_at, worker_id`,
      [leaseMs],
    );
    const { rows: others } = await client.query<{ lost: number; stopped: number }>(
      `SELECT count(*) FILTER (WHERE stopped_at IS NULL)::int AS lost, count(*) FILTER (WHERE stopped_at IS NOT NULL)::int AS stopped
       FROM opsgraph_workers WHERE NOT (${alive})`,
      [leaseMs],
    );
    // pg-boss creates its schema the first time a queue is opened (submit, worker)
    const { rows: boss } = await client.query<{ exists: boolean }>("SELECT to_regclass('pgboss.job') IS NOT NULL AS exists");
    let queue: Status["queue"] = { depth: 0, lag_ms: null };
    if (boss[0]?.exists) {
      const { rows } = await client.query<{ depth: number; lag_ms: string | null }>(
        `SELECT count(*)::int AS depth, round(EXTRACT(EPOCH FROM now() - min(created_on)) * 1000) AS lag_ms
         FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry')`,
        [RUNS_QUEUE],
      );
      queue = { depth: rows[0]!.depth, lag_ms: rows[0]!.lag_ms === null ? null : Math.max(0, Number(rows[0]!.lag_ms)) };
    }
    const { rows: runRows } = await client.query<{ status: RunStatus; n: number }>("SELECT status, count(*)::int AS n FROM opsgraph_runs GROUP BY status");
    const runs = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const r of runRows) runs[r.status] = r.n;
    const { rows: letters } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_dead_letters WHERE status = 'waiting'");
    // an open breaker past its cooldown is half-open, its probe claimed or not yet; a process
    // refreshes its opsgraph_breakers rows every few seconds: older rows are from a process gone
    type BreakerRow = Omit<BreakerStatus, "since"> & { since: Date };
    const { rows: breakerRows } = await client.query<BreakerRow>(
      `SELECT c.breaker_key AS model,
              CASE WHEN c.state = 'open' AND c.opened_at <= now() - make_interval(secs => c.cooldown_ms / 1000.0) THEN 'half_open' ELSE c.state END AS state,
              c.failures, c.failure_rate::float8 AS failure_rate, c.since,
              GREATEST(0, round(EXTRACT(EPOCH FROM now() - c.since) * 1000))::float8 AS since_ms,
              CASE WHEN c.state = 'half_open' THEN c.probe_owner END AS probe_owner,
              CASE WHEN c.state = 'half_open' AND c.probe_owner IS NOT NULL THEN GREATEST(0, round(EXTRACT(EPOCH FROM c.probe_deadline - now()) * 1000))::float8 END AS probe_left_ms,
              (SELECT count(*)::int FROM opsgraph_breakers p WHERE p.model = c.breaker_key AND p.seen_at >= now() - interval '60 seconds') AS processes
       FROM opsgraph_circuit_breakers c ORDER BY c.breaker_key`,
    );
    const breakers = breakerRows.map((b) => ({ ...b, since: b.since.toISOString() }));
    const { rows: spent } = await client.query<{ model: string; input_tokens: string; output_tokens: string }>(
      `SELECT t.key AS model, sum((t.value->>'input_tokens')::bigint) AS input_tokens, sum((t.value->>'output_tokens')::bigint) AS output_tokens
       FROM opsgraph_runs r, jsonb_each(r.tokens) t WHERE r.updated_at >= date_trunc('day', now()) GROUP BY t.key ORDER BY t.key`,
    );
    const tierStats = adaptiveTiers ? await readTierStats(client) : undefined;
    await client.query("COMMIT");
    const by_model: Status["spend_today"]["by_model"] = {};
    for (const m of spent) {
      const tokens = { input_tokens: Number(m.input_tokens), output_tokens: Number(m.output_tokens) };
      by_model[m.model] = { usd: costOf(m.model, tokens, prices), ...tokens };
    }
    return {
      at: nowRows[0]!.at.toISOString(),
      workers: {
        alive: workers.map((w) => ({
          ...w,
          started_at: w.started_at.toISOString(),
          heartbeat_at: w.heartbeat_at.toISOString(),
          heartbeat_age_ms: Math.max(0, Number(w.heartbeat_age_ms)),
        })),
        lost: others[0]!.lost,
        stopped: others[0]!.stopped,
      },
      queue,
      runs,
      dead_letters: { waiting: letters[0]!.n },
      breakers,
      spend_today: { usd: Object.values(by_model).reduce((n, m) => n + m.usd, 0), by_model },
      ...(adaptiveTiers && tierStats
        ? {
            adaptive_tiers: {
              window: TIER_STATS_WINDOW,
              stats: tierStats,
              order: tierOrdersOf([...new Set(tierStats.map((t) => t.agent))], adaptiveTiers, tierStats),
            },
          }
        : {}),
      ...(models
        ? {
            models: {
              chains: models.chains,
              tiers: models.tiers.map((t) => ({ ...t, breaker_state: breakers.find((b) => b.model === t.breaker)?.state ?? "closed" })),
            },
          }
        : {}),
    };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
