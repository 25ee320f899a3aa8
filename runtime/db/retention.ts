import type pg from "pg";
import { PART_ANSWERS_NS } from "../../nodes/part-answers.js";
import { InputError } from "../errors.js";

/** Run statuses whose thread is finished: its checkpoints may be pruned after the retention period. */
export const FINISHED_STATUSES = ["completed", "failed", "dead_lettered"] as const;

export interface PruneOptions {
  /** Threads whose run was last updated longer ago than this (ms) are pruned. */
  olderThanMs: number;
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  /** Finished threads whose checkpoints were (or would be) deleted. */
  threads: number;
  checkpoints: number;
  blobs: number;
  writes: number;
  /** Trace spans of those runs (opsgraph_spans). */
  spans: number;
  /** Model answers to parts of split inputs kept in the Store for those threads (nodes/part-answers.ts). */
  part_answers: number;
  /** Runs last updated before this instant (the database's clock) were eligible. */
  cutoff: string;
}

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 };

/** `30d`, `12h`, `90m`, `45s` to milliseconds; anything else is an InputError naming `what` (a flag). */
export function parseDuration(value: string, what = "--older-than"): number {
  const m = /^(\d+)([dhms])$/.exec(value.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!m || !Number.isSafeInteger(ms) || ms <= 0) {
    throw new InputError(`${what}: "${value}" is not a duration: give a whole number above 0 and a unit, d, h, m or s (30d, 12h, 90m, 45s)`);
  }
  return ms;
}

/**
 * Deletes the checkpoints, checkpoint blobs and checkpoint writes (PostgresSaver's tables), and
 * the trace spans, of finished threads: runs `completed`, `failed` or `dead_lettered` whose row was last updated
 * before now minus `olderThanMs`. Never a paused (`awaiting_review`), `running` or queued run;
 * never a dead-lettered run whose dead letter still waits (`opsgraph dlq retry` needs its
 * checkpoints: discard the letter to let it go); never a thread another process is
 * executing (its advisory lock is held). Run rows (the summary and result) stay, and the
 * Store is left alone but for the threads' part answers: a document there is keyed by the
 * contract's sha256 and may be shared with other runs.
 *
 * One transaction. With `dryRun` it counts the same rows and deletes nothing. Safe to call
 * from a worker on a schedule: concurrent calls skip each other's rows.
 */
export async function prune(pool: pg.Pool, { olderThanMs, dryRun = false }: PruneOptions): Promise<PruneResult> {
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new InputError(`olderThanMs: must be a number of milliseconds of at least 0, not ${olderThanMs}`);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows: cut } = await client.query<{ cutoff: Date }>(`SELECT now() - $1::bigint * interval '1 millisecond' AS cutoff`, [Math.round(olderThanMs)]);
    const cutoff = cut[0]!.cutoff;
    // Lock the runs' rows (a run restarted meanwhile is skipped, or seen with its new status).
    const { rows: candidates } = await client.query<{ thread_id: string }>(
      `SELECT r.thread_id FROM opsgraph_runs r
       WHERE r.status = ANY($1::text[]) AND r.updated_at < $2
         AND NOT EXISTS (SELECT 1 FROM opsgraph_dead_letters d WHERE d.thread_id = r.thread_id AND d.status = 'waiting')
         AND (EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = r.thread_id)
              OR EXISTS (SELECT 1 FROM checkpoint_blobs b WHERE b.thread_id = r.thread_id)
              OR EXISTS (SELECT 1 FROM checkpoint_writes w WHERE w.thread_id = r.thread_id))
       ORDER BY r.updated_at
       FOR UPDATE OF r SKIP LOCKED`,
      [FINISHED_STATUSES, cutoff],
    );
    // ...and skip a thread some process is executing (the runner's per-thread advisory lock).
    const { rows: free } = await client.query<{ thread_id: string }>(
      `SELECT t AS thread_id FROM unnest($1::text[]) AS t WHERE pg_try_advisory_xact_lock(hashtext('opsgraph:thread'), hashtext(t))`,
      [candidates.map((c) => c.thread_id)],
    );
    const threads = free.map((r) => r.thread_id);
    const tables = { writes: "checkpoint_writes", blobs: "checkpoint_blobs", checkpoints: "checkpoints" } as const;
    const counts = { writes: 0, blobs: 0, checkpoints: 0 };
    for (const [k, table] of Object.entries(tables) as [keyof typeof tables, string][]) {
      if (threads.length === 0) break;
      if (dryRun) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE thread_id = ANY($1::text[])`, [threads]);
        counts[k] = rows[0]!.n;
      } else {
        counts[k] = (await client.query(`DELETE FROM ${table} WHERE thread_id = ANY($1::text[])`, [threads])).rowCount ?? 0;
      }
    }
    // the runs' traces go with their checkpoints (the run row keeps the summary)
    let spans = 0;
    if (threads.length) {
      spans = dryRun
        ? (
            await client.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM opsgraph_spans s JOIN opsgraph_runs r ON s.run_id = r.run_id WHERE r.thread_id = ANY($1::text[])`,
              [threads],
            )
          ).rows[0]!.n
        : ((await client.query(`DELETE FROM opsgraph_spans s USING opsgraph_runs r WHERE s.run_id = r.run_id AND r.thread_id = ANY($1::text[])`, [threads]))
            .rowCount ?? 0);
    }
    // what a split step's parts answered, kept only to spare a crashed task's re-run its calls
    let partAnswers = 0;
    if (threads.length) {
      const where = `FROM store WHERE starts_with(namespace_path, '${PART_ANSWERS_NS.join(":")}:') AND value->>'thread_id' = ANY($1::text[])`;
      partAnswers = dryRun
        ? (await client.query<{ n: number }>(`SELECT count(*)::int AS n ${where}`, [threads])).rows[0]!.n
        : ((await client.query(`DELETE ${where}`, [threads])).rowCount ?? 0);
    }
    await client.query(dryRun ? "ROLLBACK" : "COMMIT");
    return {
      threads: threads.length,
      checkpoints: counts.checkpoints,
      blobs: counts.blobs,
      writes: counts.writes,
      spans,
      part_answers: partAnswers,
      cutoff: cutoff.toISOString(),
    };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
