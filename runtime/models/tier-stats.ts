import type pg from "pg";
import type { Attempt } from "../../nodes/agent.js";
import { PERSON_TIER, RULES_TIER } from "../../nodes/agent-step.js";
import { orderTiers, type TierOrder, type TierStats } from "../../nodes/tier-order.js";

/**
 * What the stats of an (agent, tier) are read over: its last `calls` calls, made within
 * `hours`. Small enough that a model that recovered (tried on its traffic floor) gets back
 * under the demotion threshold in a few dozen of its calls.
 */
export const TIER_STATS_WINDOW = { calls: 50, hours: 24 };

/** Per agent, the order its tiers are tried in and why (a run's `tier_order`). */
export type TierOrders = Record<string, TierOrder>;

/**
 * The attempt ledger in PostgreSQL (opsgraph_tier_attempts): every model call of a run's
 * invocation, written when the invocation ends (a run observer), read back as per-(agent, tier)
 * stats by the runs that start after it. Only when OPSGRAPH_ADAPTIVE_TIERS is on.
 */
export class TierLedger {
  private lastPrune = 0;
  constructor(private readonly pool: pg.Pool) {}

  async runEnded(e: { flow: string; run_id: string; attempts: readonly Attempt[] }): Promise<void> {
    const calls = e.attempts.filter((a) => a.outcome !== "skipped" && a.tier !== RULES_TIER && a.tier !== PERSON_TIER);
    if (calls.length === 0) return;
    await this.pool.query(
      `INSERT INTO opsgraph_tier_attempts (agent, tier, flow, run_id, outcome, error_class, ms)
       SELECT a, t, $3, $4, o, c, m FROM unnest($1::text[], $2::text[], $5::text[], $6::text[], $7::int[]) AS x(a, t, o, c, m)`,
      [
        calls.map((a) => a.agent),
        calls.map((a) => a.tier),
        e.flow,
        e.run_id,
        calls.map((a) => a.outcome),
        calls.map((a) => a.error_class ?? null),
        calls.map((a) => Math.round(a.ms)),
      ],
    );
    if (Date.now() - this.lastPrune > 3_600_000) {
      this.lastPrune = Date.now();
      await this.pool.query(`DELETE FROM opsgraph_tier_attempts WHERE at < now() - make_interval(hours => $1)`, [TIER_STATS_WINDOW.hours * 7]);
    }
  }
}

/** Per (agent, tier), over the window: one statement. `agents`: only these (default: all). */
export async function readTierStats(db: Pick<pg.Pool, "query">, agents?: readonly string[]): Promise<TierStats[]> {
  const { rows } = await db.query<Omit<TierStats, "p95_ms"> & { p95_ms: number | null }>(
    `WITH recent AS (
       SELECT agent, tier, outcome, error_class, ms, row_number() OVER (PARTITION BY agent, tier ORDER BY id DESC) AS n
       FROM opsgraph_tier_attempts
       WHERE at >= now() - make_interval(hours => $2) AND ($1::text[] IS NULL OR agent = ANY($1))
     )
     SELECT agent, tier, count(*)::int AS calls,
            count(*) FILTER (WHERE outcome = 'ok')::int AS ok,
            count(*) FILTER (WHERE outcome = 'invalid')::int AS invalid,
            count(*) FILTER (WHERE outcome = 'error' AND error_class = 'transient')::int AS transient,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE outcome = 'ok') AS p95_ms
     FROM recent WHERE n <= $3 GROUP BY agent, tier ORDER BY agent, tier`,
    [agents ? [...agents] : null, TIER_STATS_WINDOW.hours, TIER_STATS_WINDOW.calls],
  );
  return rows.map((r) => ({ ...r, p95_ms: r.p95_ms === null ? null : Math.round(Number(r.p95_ms)) }));
}

/** Each agent's order of its `tiers` (one list for all, or each agent's own) from `stats`; `runId`: the run it is for (its traffic floor), none for status. */
export function tierOrdersOf(
  agents: readonly string[],
  tiers: readonly string[] | ((agent: string) => readonly string[]),
  stats: readonly TierStats[],
  runId?: string,
): TierOrders {
  const own = typeof tiers === "function" ? tiers : () => tiers;
  return Object.fromEntries(agents.map((agent) => [agent, orderTiers({ agent, tiers: own(agent), stats, ...(runId === undefined ? {} : { runId }) })]));
}
