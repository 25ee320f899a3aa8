// The runs table's SQL (opsgraph_runs): a run's insert, its claims and updates, its reads and the listing.
import type pg from "pg";
import type { Attempt } from "../../nodes/agent.js";
import { tiersUsed, tiersUsedByAgent } from "../../nodes/agent-step.js";
import type { RunLease } from "./fencing.js";
import type { TierOrders } from "../models/tier-stats.js";
import type { RunRecord, RunRow, RunStatus } from "./run-types.js";

/** What an execution of `opsgraph run`, resume or a dead letter's retry sets when it takes its run (no lease: the thread's lock). */
export const IN_PROCESS = `status = 'running', error = NULL, worker_id = NULL, heartbeat_at = NULL, lock_pid = NULL, lease_ms = NULL`;
/** A worker's claim ($2 worker, $3 lease ms), on the lock's connection (lock_pid: a taker can end it once the lease ran out). */
export const BY_WORKER = `status = 'running', worker_id = $2, heartbeat_at = now(), lock_pid = pg_backend_pid(), lease_ms = $3`;
/** A queued run, or a running one whose worker stopped renewing its lease ($3 ms). */
export const CLAIMABLE = `status = 'queued' OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $3 / 1000.0)))`;

/** A run row as a record: `withResult` false for the listing (no result, no tier order). */
export function toRecord(row: RunRow, withResult = true): RunRecord {
  const rec: RunRecord = {
    run_id: row.run_id,
    thread_id: row.thread_id,
    request_id: row.request_id,
    flow: row.flow,
    status: row.status,
    model_calls: row.model_calls,
    tiers_used: row.tiers_used,
    ...(row.tiers_used_by_agent ? { tiers_used_by_agent: row.tiers_used_by_agent } : {}),
    duration_ms: row.duration_ms,
  };
  if (withResult) rec.result = row.result;
  if (withResult && row.tier_order) rec.tier_order = row.tier_order;
  if (row.error) rec.error = row.error;
  if (row.status === "running" && row.worker_id) rec.worker_id = row.worker_id;
  return rec;
}

/**
 * Takes the run for one execution, on the thread's lock (`client`, its connection): its fence
 * goes up, so every write of an earlier execution is refused from now on (runtime/runs/fencing.ts).
 * `set`: the columns the execution sets; `where`: the condition of the claim, with `values` from
 * $2. Returns the lease, with its token; throws RunNotClaimable when `where` does not hold.
 */
export async function takeRun(
  client: pg.PoolClient,
  run_id: string,
  lease: RunLease,
  o: { set?: string; where?: string; values?: unknown[] } = {},
): Promise<RunLease> {
  const sentAt = lease.now();
  const { rows } = await client.query<{ fence: string }>(
    `UPDATE opsgraph_runs SET fence = fence + 1, updated_at = now()${o.set ? `, ${o.set}` : ""} WHERE run_id = $1 AND (${o.where ?? "TRUE"}) RETURNING fence::text`,
    [run_id, ...(o.values ?? [])],
  );
  if (!rows[0]) throw Object.assign(new Error(`run ${run_id}: not claimable (finished, paused, or held by a live worker)`), { name: "RunNotClaimable" });
  lease.claimed(Number(rows[0].fence), sentAt);
  return lease;
}

/** A lease's renewal: its run's heartbeat, while the run is still this execution's (its fence). */
export const renewHeartbeat = (pool: pg.Pool, lease: RunLease) =>
  pool.query(`UPDATE opsgraph_runs SET heartbeat_at = now() WHERE run_id = $1 AND fence = $2 AND status = 'running'`, [lease.runId, lease.fence]);

/** What an invocation ended with, as its run row's last update writes it. */
export interface RunEndedUpdate {
  run_id: string;
  status: RunStatus;
  /** Model calls of this invocation (added to the row's). */
  calls: number;
  /** Every attempt of the run (the ledger): tiers used and tokens. */
  attempts: Attempt[];
  duration_ms: number;
  /** Kept for a completed or paused run. */
  result: unknown;
  error: string | null;
  fence: number | undefined;
}

/** The run row's last update of an invocation (RETURNING the row): only while the run is this execution's (its fence, $9). */
export function runEndedUpdate(u: RunEndedUpdate): { sql: string; values: unknown[] } {
  const sql = `UPDATE opsgraph_runs SET status = $2, model_calls = model_calls + $3, tiers_used = $4, duration_ms = duration_ms + $5,
         result = $6, error = $7, tokens = $8, tiers_used_by_agent = $10, worker_id = NULL, heartbeat_at = NULL, lock_pid = NULL, lease_ms = NULL, updated_at = now()
       WHERE run_id = $1 AND fence = $9 RETURNING *`;
  const values = [
    u.run_id,
    u.status,
    u.calls,
    JSON.stringify(tiersUsed(u.attempts)),
    u.duration_ms,
    u.status === "completed" || u.status === "awaiting_review" ? JSON.stringify(u.result) : null,
    u.error,
    JSON.stringify(tokenTotals(u.attempts)),
    u.fence,
    JSON.stringify(tiersUsedByAgent(u.attempts)),
  ];
  return { sql, values };
}

/**
 * A new request's row, taken by its first execution (fence 1), or nothing when the request (or
 * its thread) has a row already. `holder`: held by a lease (an event consumer's): its worker and
 * lease, renewed as it runs.
 */
export function insertRunning(
  pool: pg.Pool,
  r: {
    run_id: string;
    request_id: string;
    thread_id: string;
    flow: string;
    input: RunRow["input"];
    tier_order: TierOrders | null;
    holder?: { workerId: string; leaseMs: number };
  },
) {
  return pool.query<{ run_id: string }>(
    // any conflict: request_id's or thread_id's (the same request, see insertQueued)
    `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input, fence, tier_order, worker_id, heartbeat_at, lease_ms)
     VALUES ($1, $2, $3, $4, 'running', $5, 1, $6, $7, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, $8)
     ON CONFLICT DO NOTHING RETURNING run_id`,
    [
      r.run_id,
      r.request_id,
      r.thread_id,
      r.flow,
      JSON.stringify(r.input),
      r.tier_order && JSON.stringify(r.tier_order),
      r.holder?.workerId ?? null,
      r.holder?.leaseMs ?? null,
    ],
  );
}

/** Marks the lock's connection in the run's row: a taker can end it once the lease ran out (its holder frozen). */
export const setLockPid = (client: pg.PoolClient, run_id: string) =>
  client.query(`UPDATE opsgraph_runs SET lock_pid = pg_backend_pid() WHERE run_id = $1`, [run_id]);

/** A queued run's row, in the caller's transaction (`client`), or nothing when the request has one. */
export function insertQueued(client: pg.PoolClient, r: { run_id: string; request_id: string; thread_id: string; flow: string; input: RunRow["input"] }) {
  return client.query<{ run_id: string }>(
    // any conflict, not only request_id's: the thread id is unique too, and two inserts of the same
    // request at once may meet first on its index, which would be an error under ON CONFLICT (request_id)
    `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input) VALUES ($1, $2, $3, $4, 'queued', $5)
     ON CONFLICT DO NOTHING RETURNING run_id`,
    [r.run_id, r.request_id, r.thread_id, r.flow, JSON.stringify(r.input)],
  );
}

/** A run's row, by its id or its request's. */
export async function getRun(pool: pg.Pool, by: { runId?: string; requestId?: string }): Promise<RunRow | undefined> {
  const { rows } = by.runId
    ? await pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE run_id::text = $1`, [by.runId])
    : await pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE request_id = $1`, [by.requestId]);
  return rows[0];
}

/** Runs of every flow (or of `flow`, and of its stages `flow.*`), newest first. */
export async function listRuns(pool: pg.Pool, status?: RunStatus, limit = 100, flow?: string): Promise<RunRecord[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT * FROM opsgraph_runs WHERE ($1::text IS NULL OR status = $1) AND ($3::text IS NULL OR flow = $3 OR flow LIKE $3 || '.%')
     ORDER BY created_at DESC LIMIT $2`,
    [status ?? null, limit, flow ?? null],
  );
  return rows.map((r) => toRecord(r, false));
}

/** Size in bytes of the newest checkpoint of a thread, with the blobs it references. */
export async function checkpointBytes(pool: pg.Pool, threadId: string): Promise<number> {
  const { rows } = await pool.query<{ bytes: string }>(
    `WITH cp AS (
       SELECT checkpoint, checkpoint_ns FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1)
     SELECT (SELECT pg_column_size(checkpoint) FROM cp) +
            COALESCE((SELECT sum(pg_column_size(b.blob)) FROM checkpoint_blobs b, cp, jsonb_each_text(cp.checkpoint->'channel_versions') v
                      WHERE b.thread_id = $1 AND b.checkpoint_ns = '' AND b.channel = v.key AND b.version = v.value), 0) AS bytes`,
    [threadId],
  );
  return Number(rows[0]?.bytes ?? 0);
}

/** A lost or refused database connection (a restart, a dropped link), as opposed to a run's own failure. */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: unknown };
  // 57P0x: shutdown; 08xxx: connection exceptions; 53300: too many connections
  if (typeof err?.code === "string" && /^(57P0[1-3]|08\d{3}|53300|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(err.code)) return true;
  if (
    /Connection terminated|connection timeout|Client has encountered a connection error|Client was closed and is not queryable|terminating connection|too many clients/i.test(
      String(err?.message ?? ""),
    )
  )
    return true;
  return err?.cause !== undefined && err.cause !== e && isDatabaseUnavailable(err.cause);
}

function tokenTotals(attempts: Attempt[]) {
  const totals: Record<string, { input_tokens: number; output_tokens: number }> = {};
  for (const a of attempts) {
    if (!a.tokens) continue;
    const t = (totals[a.tier] ??= { input_tokens: 0, output_tokens: 0 });
    t.input_tokens += a.tokens.input_tokens;
    t.output_tokens += a.tokens.output_tokens;
  }
  return totals;
}
