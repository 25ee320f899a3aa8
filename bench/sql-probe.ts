import type pg from "pg";

/** What a statement is for, from its SQL. */
export type SqlCategory =
  | "checkpoint_put" // INSERT INTO checkpoints (PostgresSaver.put; opsgraph's saver: with its blobs)
  | "checkpoint_blob_put" // upsert of a channel's blob (PostgresSaver.put, one statement per blob)
  | "checkpoint_writes_put" // upsert of a pending write (PostgresSaver.putWrites, one statement per write)
  | "checkpoint_read" // getTuple / list: SELECT ... FROM checkpoints, pending sends
  | "store_read"
  | "store_write"
  | "run_row" // opsgraph_runs
  | "thread_lock" // pg_try_advisory_lock / pg_advisory_unlock
  | "outbox" // opsgraph_outbox, opsgraph_notifications
  | "queue" // pgboss.*
  | "begin_commit" // BEGIN, COMMIT, ROLLBACK
  | "other";

export function categorize(sql: string): SqlCategory {
  const s = sql.trimStart();
  if (/^(BEGIN|COMMIT|ROLLBACK)\b/i.test(s)) return "begin_commit";
  if (/advisory_(try_)?(un)?lock|pg_try_advisory_lock|pg_advisory_unlock/i.test(s)) return "thread_lock";
  // opsgraph's saver: a checkpoint's blobs and its row in one statement (runtime/db/checkpointer.ts)
  if (/^WITH blobs AS \(\s*INSERT INTO checkpoint_blobs/i.test(s)) return "checkpoint_put";
  if (/INSERT INTO\s+("?\w+"?\.)?checkpoint_blobs/i.test(s)) return "checkpoint_blob_put";
  if (/INSERT INTO\s+("?\w+"?\.)?checkpoint_writes/i.test(s)) return "checkpoint_writes_put";
  if (/INSERT INTO\s+("?\w+"?\.)?checkpoints\b/i.test(s)) return "checkpoint_put";
  if (/\bfrom\s+("?\w+"?\.)?checkpoints\b|checkpoint_writes|checkpoint_blobs/i.test(s)) return "checkpoint_read";
  if (/"?\w+"?\.store\b|\bstore\s*\(/i.test(s)) return /^\s*(INSERT|UPDATE|DELETE)/i.test(s) ? "store_write" : "store_read";
  if (/opsgraph_runs/i.test(s)) return "run_row";
  if (/opsgraph_outbox|opsgraph_notifications/i.test(s)) return "outbox";
  if (/pgboss\./i.test(s)) return "queue";
  return "other";
}

export interface CategoryStats {
  /** Statements (round trips). */
  n: number;
  /** Summed time from sending to the answer (ms); statements of parallel branches overlap. */
  ms: number;
  /** Rows inserted, updated or deleted. */
  rows: number;
}

/** The table a write statement changes (its first INSERT INTO / UPDATE / DELETE FROM target), or undefined. */
export function writtenTable(sql: string): string | undefined {
  const m = /\b(?:INSERT\s+INTO|(?<!FOR\s+)(?<!FOR\s+NO\s+KEY\s+)UPDATE|DELETE\s+FROM)\s+((?:"?\w+"?\.)?"?\w+"?)/i.exec(sql);
  return m ? m[1]!.replace(/"/g, "") : undefined;
}

export type ProbeSnapshot = {
  byCategory: Record<string, CategoryStats>;
  /** Rows inserted, updated or deleted, by table. */
  rowsByTable: Record<string, number>;
  /** Transactions that wrote: COMMITs, and writes outside a transaction. */
  commits: number;
  /** Pool checkouts (pool.query and pool.connect). */
  checkouts: number;
};

/**
 * Counts and times every statement made through a pool (pool.query and checked-out clients
 * alike), by what it is for, and the transactions that wrote (COMMIT, or a write outside a
 * transaction). Instruments the pool's clients at checkout; costs a few µs a statement.
 */
export function probePool(pool: pg.Pool) {
  const byCategory: Record<string, CategoryStats> = {};
  const rowsByTable: Record<string, number> = {};
  let commits = 0;
  let checkouts = 0;
  const patched = new WeakSet<object>();
  pool.on("acquire", (client: pg.PoolClient) => {
    checkouts++;
    if (patched.has(client)) return;
    patched.add(client);
    let inTx = false;
    const orig = client.query.bind(client) as (...args: unknown[]) => unknown;
    const record = (text: string, t0: number, res: { rowCount?: number | null } | undefined) => {
      const cat = categorize(text);
      const st = (byCategory[cat] ??= { n: 0, ms: 0, rows: 0 });
      st.n++;
      st.ms += performance.now() - t0;
      const write = /^\s*(INSERT|UPDATE|DELETE|WITH[\s\S]*\b(INSERT|UPDATE|DELETE)\b)/i.test(text);
      if (write && res) {
        st.rows += res.rowCount ?? 0;
        const table = writtenTable(text) ?? "?";
        rowsByTable[table] = (rowsByTable[table] ?? 0) + (res.rowCount ?? 0);
      }
      if (/^\s*BEGIN/i.test(text)) inTx = true;
      else if (/^\s*(COMMIT|ROLLBACK)/i.test(text)) {
        if (/^\s*COMMIT/i.test(text)) commits++;
        inTx = false;
      } else if (write && !inTx && (res?.rowCount ?? 0) > 0) commits++; // a write of no row commits nothing to wait for
    };
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string };
      const text = typeof first === "string" ? first : (first?.text ?? "");
      const t0 = performance.now();
      const last = args[args.length - 1];
      if (typeof last === "function") {
        args[args.length - 1] = (err: unknown, res: { rowCount?: number | null } | undefined) => {
          record(text, t0, err ? undefined : res);
          (last as (e: unknown, r: unknown) => void)(err, res);
        };
        return orig(...args);
      }
      const r = orig(...args) as Promise<{ rowCount?: number | null }> | undefined;
      if (r && typeof r.then === "function")
        r.then(
          (res) => record(text, t0, res),
          () => record(text, t0, undefined),
        );
      return r;
    };
  });
  return {
    snapshot(): ProbeSnapshot {
      return { byCategory: structuredClone(byCategory), rowsByTable: { ...rowsByTable }, commits, checkouts };
    },
  };
}

/** b − a. */
export function diff(a: ProbeSnapshot, b: ProbeSnapshot): ProbeSnapshot {
  const out: Record<string, CategoryStats> = {};
  for (const [k, v] of Object.entries(b.byCategory)) {
    const p = a.byCategory[k] ?? { n: 0, ms: 0, rows: 0 };
    if (v.n - p.n > 0) out[k] = { n: v.n - p.n, ms: v.ms - p.ms, rows: v.rows - p.rows };
  }
  const rows: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.rowsByTable)) if (v - (a.rowsByTable[k] ?? 0) > 0) rows[k] = v - (a.rowsByTable[k] ?? 0);
  return { byCategory: out, rowsByTable: rows, commits: b.commits - a.commits, checkouts: b.checkouts - a.checkouts };
}

/** The mean per run of several diffs. */
export function meanOf(snaps: ProbeSnapshot[]): ProbeSnapshot {
  const out: Record<string, CategoryStats> = {};
  for (const s of snaps)
    for (const [k, v] of Object.entries(s.byCategory)) {
      const o = (out[k] ??= { n: 0, ms: 0, rows: 0 });
      o.n += v.n / snaps.length;
      o.ms += v.ms / snaps.length;
      o.rows += v.rows / snaps.length;
    }
  const rows: Record<string, number> = {};
  for (const s of snaps) for (const [k, v] of Object.entries(s.rowsByTable)) rows[k] = (rows[k] ?? 0) + v / snaps.length;
  const avg = (f: (s: ProbeSnapshot) => number) => snaps.reduce((n, s) => n + f(s), 0) / snaps.length;
  return { byCategory: out, rowsByTable: rows, commits: avg((s) => s.commits), checkouts: avg((s) => s.checkouts) };
}

export const totalOf = (s: ProbeSnapshot) =>
  Object.values(s.byCategory).reduce((t, v) => ({ n: t.n + v.n, ms: t.ms + v.ms, rows: t.rows + v.rows }), { n: 0, ms: 0, rows: 0 });
