import PgBoss from "pg-boss";
import type pg from "pg";

/** The pg-boss queue runs are jobs on. */
export const RUNS_QUEUE = "opsgraph-runs";

/** The PostgreSQL channel told when runs are put on the queue: idle workers wake at once instead of at their next poll. */
export const RUNS_CHANNEL = "opsgraph_runs";

/** Tells listening workers there is work (inside a transaction: on its commit). */
export async function notifyRuns(sql: SqlRunner): Promise<void> {
  await sql.query(`SELECT pg_notify('${RUNS_CHANNEL}', '')`);
}

export interface RunJob {
  run_id: string;
  /** The run's flow (jobs of older builds have none: contract-review). */
  flow?: string;
}

/** Something that runs SQL: the pool, or a client inside a transaction. */
export interface SqlRunner {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** pg-boss's view of a connection: the runtime's own pool (or a transaction's client). */
export const bossDb = (sql: SqlRunner): PgBoss.Db => ({
  executeSql: async (text, values) => ({ rows: (await sql.query(text, values)).rows as unknown[] }),
});

/**
 * The job queue on the runtime's PostgreSQL (pg-boss 10, in schema `pgboss`), on the
 * runtime's pool. Its own maintenance and scheduling are off here: workers supervise it.
 */
export async function openQueue(pool: pg.Pool, opts: { supervise?: boolean } = {}): Promise<PgBoss> {
  const boss = new PgBoss({ db: bossDb(pool), schema: "pgboss", supervise: opts.supervise ?? false, schedule: false, migrate: true });
  boss.on("error", () => {}); // a lost connection is retried by the next poll; errors of a run are the run's
  // pg-boss creates its schema on first start and a queue's tables on createQueue; workers
  // starting together on a new database would race to create them (duplicate key on
  // pg_namespace, deadlocks): one process at a time
  const lock = await pool.connect();
  try {
    await lock.query("SELECT pg_advisory_lock(hashtext('opsgraph:pgboss-start'))");
    await boss.start();
    await boss.createQueue(RUNS_QUEUE).catch((e: Error) => {
      if (!/already exists/.test(e.message)) throw e;
    });
  } finally {
    await lock.query("SELECT pg_advisory_unlock(hashtext('opsgraph:pgboss-start'))").catch(() => {});
    lock.release();
  }
  return boss;
}
