// A thread's advisory lock: one execution per thread, across processes.
import type pg from "pg";
import type { Logger } from "../observability/log.js";
import type { RunRow } from "./run-types.js";

/** Raised when another process executes the same thread: one run at a time per thread. */
export class ThreadBusyError extends Error {
  override name = "ThreadBusyError";
}

/** The advisory lock key of a thread, its id being parameter `$n`. */
const lockKey = (n = 1) => `hashtext('opsgraph:thread'), hashtext($${n})`;

/** A thread's advisory lock, held on `client` (a session lock: it outlives transactions). */
export class ThreadLock {
  released = false;
  private returned = false;
  /** Set when the connection fails while the lock is held (a PostgreSQL restart): the lock went with it. */
  private lost: Error | undefined;
  private readonly onError = (e: Error) => (this.lost = e);
  constructor(
    readonly client: pg.PoolClient,
    readonly thread_id: string,
  ) {
    // held across a whole run, mostly idle: a connection that dies meanwhile must not be an unhandled error
    client.on("error", this.onError);
  }

  /** Lets go of the lock (unless a write did already) and gives the connection back. */
  async release(): Promise<void> {
    if (this.returned) return;
    this.returned = true;
    // if the connection died, PostgreSQL released the lock with it
    if (!this.released && !this.lost) await this.client.query(`SELECT pg_advisory_unlock(${lockKey()})`, [this.thread_id]).catch(() => {});
    this.released = true;
    this.client.removeListener("error", this.onError);
    this.client.release(this.lost ?? undefined);
  }

  /**
   * Runs a write returning its rows (`sql` with `values`) and lets go of the lock
   * in the same round trip, once the write is committed: the statement also takes the lock for
   * its own transaction (the same session holds it already) and drops the session's, so the lock
   * is free only when that transaction ends. No row written: the lock is kept (withThreadLock
   * lets go of it).
   */
  async releaseWith<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> {
    const key = lockKey(values.length + 1);
    const { rows } = await this.client.query<R & { released__: boolean }>(
      `WITH w AS (${sql}), held AS (SELECT pg_advisory_xact_lock(${key}) FROM w LIMIT 1)
       SELECT w.*, pg_advisory_unlock(${key}) AS released__ FROM w, held`,
      [...values, this.thread_id],
    );
    if (rows.length === 0) return rows;
    this.released = rows[0]!.released__;
    // the caller's row type R, without the lock's own column: pg types rows as any record
    return rows.map(({ released__: _, ...r }) => r as unknown as R);
  }
}

/** The thread's lock on a connection of the pool, or null when another session holds it. */
export async function tryThreadLock(pool: pg.Pool, thread_id: string): Promise<ThreadLock | null> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${lockKey()}) AS ok`, [thread_id]);
    if (rows[0]!.ok) return new ThreadLock(client, thread_id);
  } catch (e) {
    client.release(true);
    throw e;
  }
  client.release();
  return null;
}

/**
 * Holds the thread's advisory lock for the duration of `fn`: one execution per thread, across
 * processes. `fn` may let go of it early with its last statement (ThreadLock.releaseWith).
 */
export async function withThreadLock<T>(pool: pg.Pool, thread_id: string, fn: (lock: ThreadLock) => Promise<T>): Promise<T> {
  const lock = await tryThreadLock(pool, thread_id);
  if (!lock) throw new ThreadBusyError(`thread ${thread_id}: another process is executing it`);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/**
 * The thread's lock, when a worker's execution holds it past its own lease (its process
 * frozen, or cut off from the database while its connection lives): that backend is ended,
 * which frees the lock, and the lock is taken. Whatever the old holder does next is refused:
 * the claim that follows raises the run's fence above its token. Null: the holder is no such
 * execution (a live one, or `opsgraph run`, which holds no lease), or another took the lock first.
 */
export async function takeFromStaleHolder(pool: pg.Pool, row: Pick<RunRow, "run_id" | "thread_id">, log?: Logger): Promise<ThreadLock | null> {
  const { rows } = await pool.query<{ pid: number; ended: boolean }>(
    `SELECT l.pid, pg_terminate_backend(l.pid, 5000) AS ended
     FROM opsgraph_runs r JOIN pg_locks l ON l.pid = r.lock_pid
     WHERE r.run_id = $1 AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.classid = hashtext('opsgraph:thread')::oid AND l.objid = hashtext($2)::oid
       AND (r.status = 'queued' OR (r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => r.lease_ms / 1000.0)))`,
    [row.run_id, row.thread_id],
  );
  if (!rows.some((r) => r.ended)) return null;
  log?.warn({ run_id: row.run_id, thread_id: row.thread_id, backend: rows[0]!.pid }, "ended the connection of a worker that held the thread past its lease");
  return tryThreadLock(pool, row.thread_id);
}
