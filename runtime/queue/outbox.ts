// Over 300 lines: one table (opsgraph_outbox) and its keyed, locked, deliver-once semantics; the Outbox class shares its SQL with the thin sink, publisher and notifier adapters that close the file.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { fencedError, ownerOfRun } from "../runs/fencing.js";

/** What the outbox delivers. */
export type OutboxKind = "report.write" | "notification";

/** `report.write`: a Markdown file at an absolute path. */
export interface ReportWritePayload {
  path: string;
  markdown: string;
}

/** `notification`: a row of opsgraph_notifications, under the entry's own key. */
export interface NotificationPayload {
  kind: string;
  payload: object;
}

export interface OutboxEntry {
  /** Unique: the same key enqueued again (a step run again) is the same side effect. */
  key: string;
  kind: OutboxKind;
  run_id?: string | null;
  thread_id?: string | null;
  payload: ReportWritePayload | NotificationPayload;
}

const INSERT_DELIVERED = `INSERT INTO opsgraph_outbox (key, kind, run_id, thread_id, payload, status, attempts, delivered_at)`;

/**
 * The CTE `owner`, first of a statement whose $2 is the run id: a row while the run's fence is
 * the token in parameter `$n` (runtime/runs/fencing.ts), always one with no token. Every insert of
 * the statement is conditioned on it, and the statement answers `owned`.
 */
const owner = (n?: number) => `owner AS (${n ? ownerOfRun(2, n) : "SELECT 1"})`;

/**
 * A notification's entry and its row, delivered, in one statement's CTEs (after `WITH` and
 * `owner`): $1 key, $2 run_id, $3 thread_id, $4 the entry's payload, $5 the row's kind, $6 the
 * row's payload. It inserts the row (`told` is 1) only when the entry is new and the run owned.
 */
const TELL = `e AS (${INSERT_DELIVERED} SELECT $1, 'notification', $2, $3, $4, 'delivered', 1, now() WHERE EXISTS (SELECT 1 FROM owner) ON CONFLICT (key) DO NOTHING RETURNING key, run_id),
  n AS (INSERT INTO opsgraph_notifications (key, kind, run_id, payload) SELECT key, $5, run_id, $6 FROM e ON CONFLICT (key) DO NOTHING RETURNING 1)
  SELECT (SELECT count(*) FROM n)::int AS told, EXISTS (SELECT 1 FROM owner) AS owned`;

const tellParams = (n: { key: string; run_id?: string | null; thread_id?: string | null; kind: string; payload: object }) => [
  n.key,
  n.run_id ?? null,
  n.thread_id ?? null,
  JSON.stringify({ kind: n.kind, payload: n.payload }),
  n.kind,
  JSON.stringify(n.payload),
];

/** The pool, or a client inside the caller's transaction. */
export type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

export interface DeliveryReport {
  delivered: number;
  failed: { key: string; error: string }[];
}

/** Writes a file atomically (temp file in the same directory, then rename): never half-written. */
export async function writeFileAtomic(target: string, content: string): Promise<void> {
  await (await stageFile(target, content)).commit();
}

/**
 * A file's content written beside it under a temporary name: `commit` renames it into place
 * (atomic: the file is never half-written), `discard` removes it. A failed write leaves nothing.
 */
export async function stageFile(target: string, content: string): Promise<{ commit(): Promise<void>; discard(): Promise<void> }> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const discard = () => fs.rm(tmp, { force: true }).catch(() => {});
  try {
    await fs.writeFile(tmp, content);
  } catch (e) {
    await discard();
    throw e;
  }
  return {
    async commit() {
      try {
        await fs.rename(tmp, target);
      } catch (e) {
        await discard();
        throw e;
      }
    },
    discard,
  };
}

/**
 * Side effects go through `opsgraph_outbox`, keyed: a step that runs again (a crash, a retry,
 * a replay from a checkpoint) enqueues the same key, which is kept once, and an entry is
 * delivered once. Delivery locks the entry (`FOR UPDATE SKIP LOCKED`), so concurrent
 * deliverers never deliver the same entry at once; a crash between the side effect and the
 * mark repeats nothing harmful: a notification row is inserted in the marking transaction
 * (under its key), and a report is the same content written to the same path.
 */
export class Outbox {
  constructor(readonly pool: pg.Pool) {}

  /** Adds an entry unless its key is there already. Returns true when it was new. */
  async enqueue(db: Queryable, entry: OutboxEntry): Promise<boolean> {
    const { rowCount } = await (db as Pick<pg.Pool, "query">).query(
      `INSERT INTO opsgraph_outbox (key, kind, run_id, thread_id, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING`,
      [entry.key, entry.kind, entry.run_id ?? null, entry.thread_id ?? null, JSON.stringify(entry.payload)],
    );
    return rowCount === 1;
  }

  /** The stored entry of a key, if any. */
  async get(key: string): Promise<(OutboxEntry & { status: "pending" | "delivered"; attempts: number }) | undefined> {
    const { rows } = await this.pool.query<OutboxEntry & { status: "pending" | "delivered"; attempts: number }>(
      `SELECT key, kind, run_id, thread_id, payload, status, attempts FROM opsgraph_outbox WHERE key = $1`,
      [key],
    );
    return rows[0];
  }

  /**
   * Delivers pending entries (all of them, or only `keys`), each in its own transaction, oldest
   * first. An entry whose side effect fails stays pending with `attempts` counted, and is
   * reported in `failed`; the others go on. Entries another deliverer holds are skipped.
   */
  async deliver(opts: { keys?: string[]; limit?: number } = {}): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, failed: [] };
    const tried: string[] = [];
    const limit = opts.limit ?? Infinity;
    while (report.delivered + report.failed.length < limit && !(opts.keys && tried.length >= opts.keys.length)) {
      const client = await this.pool.connect();
      let entry: { id: string; key: string; kind: OutboxKind; run_id: string | null; payload: unknown } | undefined;
      try {
        await client.query("BEGIN");
        const { rows } = await client.query<NonNullable<typeof entry>>(
          `SELECT id::text, key, kind, run_id, payload FROM opsgraph_outbox
           WHERE status = 'pending' AND ($1::text[] IS NULL OR key = ANY($1)) AND NOT (id = ANY($2::bigint[]))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [opts.keys ?? null, tried],
        );
        entry = rows[0];
        if (!entry) {
          await client.query("COMMIT");
          return report;
        }
        tried.push(entry.id);
        await this.effect(client, entry);
        await client.query(`UPDATE opsgraph_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = now() WHERE id = $1`, [entry.id]);
        await client.query("COMMIT");
        report.delivered++;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => {});
        if (!entry) throw e; // the outbox itself is unreachable
        report.failed.push({
          key: entry.key,
          error: String((e as Error).message ?? e)
            .split("\n")[0]!
            .slice(0, 500),
        });
        await this.pool.query(`UPDATE opsgraph_outbox SET attempts = attempts + 1 WHERE id = $1`, [entry.id]).catch(() => {});
      } finally {
        client.release();
      }
    }
    return report;
  }

  /**
   * Enqueues a notification and delivers it in one statement (a step's side effect, done as the
   * step runs). Its key there already: nothing is done again, and the stored entry is returned
   * (delivered, or delivered now if an earlier attempt left it pending). Reports go through
   * deliverReport.
   */
  async enqueueAndDeliver(
    entry: OutboxEntry & { kind: "notification"; payload: NotificationPayload; fence?: number },
  ): Promise<{ created: boolean; payload: OutboxEntry["payload"] }> {
    const fenced = entry.fence !== undefined;
    const { rows } = await this.pool.query<{ told: number; owned: boolean }>(`WITH ${owner(fenced ? 7 : undefined)}, ${TELL}`, [
      ...tellParams({ ...entry, kind: entry.payload.kind, payload: entry.payload.payload }),
      ...(fenced ? [entry.fence] : []),
    ]);
    if (!rows[0]!.owned) throw await fencedError(this.pool, entry, entry.fence!);
    if (rows[0]!.told === 1) return { created: true, payload: entry.payload };
    // there already: delivered then, or left pending by an older build (deliver it now)
    await this.deliverOrThrow([entry.key]);
    const stored = await this.get(entry.key);
    return { created: false, payload: stored?.payload ?? entry.payload };
  }

  /**
   * A report file and, optionally, the notification that tells of it, as one side effect: the
   * file is written first (atomically), then its entry, the notification's entry and the
   * notification row are recorded delivered in one statement. A report whose entry is there
   * already (the step run again) is not written again, and its stored path is the one told.
   * A crash between the file and the statement leaves no entry: the step run again writes the
   * same file again and records it then. A failed write throws and records nothing.
   */
  async deliverReport(
    report: { key: string; run_id?: string | null; thread_id?: string | null; path: string; markdown: string; fence?: number },
    notification?: (path: string) => { key: string; kind: string; payload: object },
  ): Promise<{ path: string; created: boolean }> {
    const fenced = report.fence !== undefined;
    const ids = [report.run_id ?? null, report.thread_id ?? null];
    // the file is written beside its place while the entry is looked up (and, for a fenced run,
    // its owner checked); it goes into place only if the entry is new and the run still ours
    const [looked, staged] = await Promise.allSettled([
      this.pool.query<{ status: "pending" | "delivered" | null; path: string | null; owned: boolean }>(
        `WITH ${owner(fenced ? 3 : undefined)}
         SELECT o.status, o.payload->>'path' AS path, EXISTS (SELECT 1 FROM owner) AS owned FROM (SELECT 1) one LEFT JOIN opsgraph_outbox o ON o.key = $1`,
        [report.key, ...(fenced ? [ids[0], report.fence] : [])],
      ),
      stageFile(report.path, report.markdown),
    ]);
    const found = looked.status === "fulfilled" ? looked.value.rows[0] : undefined;
    const stored = found?.status ? (found as { status: "pending" | "delivered"; path: string }) : undefined;
    if (looked.status === "rejected" || stored || !found?.owned) await (staged.status === "fulfilled" ? staged.value.discard() : undefined);
    if (looked.status === "rejected") throw looked.reason;
    if (!found!.owned) throw await fencedError(this.pool, report, report.fence!);
    if (stored?.status === "pending")
      await this.deliverOrThrow([report.key]); // left pending by an older build
    else if (!stored) {
      if (staged.status === "rejected") throw staged.reason;
      await staged.value.commit();
    }
    const at = stored?.path ?? report.path;
    const note = notification?.(at);
    const reportPayload = JSON.stringify({ path: report.path, markdown: report.markdown });
    const fence = fenced ? [report.fence] : [];
    if (!note) {
      if (stored) return { path: at, created: false };
      const { rows } = await this.pool.query<{ owned: boolean }>(
        `WITH ${owner(fenced ? 5 : undefined)}, r AS (${INSERT_DELIVERED} SELECT $1, 'report.write', $2, $3, $4, 'delivered', 1, now() WHERE EXISTS (SELECT 1 FROM owner) ON CONFLICT (key) DO NOTHING)
         SELECT EXISTS (SELECT 1 FROM owner) AS owned`,
        [report.key, ...ids, reportPayload, ...fence],
      );
      if (!rows[0]!.owned) throw await fencedError(this.pool, report, report.fence!);
      return { path: at, created: true };
    }
    // the report's entry (when new) beside the notification's: $7-$9 after TELL's six, the token $10
    const { rows } = await this.pool.query<{ told: number; owned: boolean }>(
      `WITH ${owner(fenced ? 10 : undefined)},
       r AS (${INSERT_DELIVERED} SELECT $7, 'report.write', $2, $3, $8, 'delivered', 1, now() WHERE $9::boolean AND EXISTS (SELECT 1 FROM owner) ON CONFLICT (key) DO NOTHING), ${TELL}`,
      [...tellParams({ ...note, run_id: report.run_id, thread_id: report.thread_id }), report.key, reportPayload, !stored, ...fence],
    );
    if (!rows[0]!.owned) throw await fencedError(this.pool, report, report.fence!);
    if (rows[0]!.told === 0) await this.deliverOrThrow([note.key]); // told before: delivered then, or left pending by an older build
    return { path: at, created: !stored };
  }

  /** Delivers the given keys; throws when one of them could not be delivered. */
  async deliverOrThrow(keys: string[]): Promise<void> {
    const { failed } = await this.deliver({ keys });
    if (failed[0]) throw new Error(`outbox ${failed[0].key}: delivery failed: ${failed[0].error}`);
  }

  private async effect(client: pg.PoolClient, entry: { key: string; kind: OutboxKind; run_id: string | null; payload: unknown }): Promise<void> {
    switch (entry.kind) {
      case "report.write": {
        const p = entry.payload as ReportWritePayload;
        await writeFileAtomic(p.path, p.markdown);
        return;
      }
      case "notification": {
        const p = entry.payload as NotificationPayload;
        await client.query(`INSERT INTO opsgraph_notifications (key, kind, run_id, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`, [
          entry.key,
          p.kind,
          entry.run_id,
          JSON.stringify(p.payload),
        ]);
        return;
      }
      default:
        throw new Error(`unknown outbox kind ${String(entry.kind)}`);
    }
  }
}

/** Where a flow's finished report goes: stored, and where it is returned. Same name, same content: safe to repeat. */
export interface ReportSink {
  write(name: string, content: string): Promise<string>;
}

/** A notification a flow tells of: `key` names it, so the same key again repeats nothing. */
export interface OutboxNotification {
  key: string;
  kind: string;
  payload: object;
}

/** Writes a report and tells of it as one side effect, the notification built from the path written; returns the path. */
export type ReportPublisher = (report: { name: string; markdown: string }, event: (report_path: string) => OutboxNotification) => Promise<string>;

/** Tells of one notification. */
export type Notifier = (event: OutboxNotification) => Promise<void>;

/** The run an outbox-backed sink belongs to. */
export interface OutboxIds {
  run_id?: string | null;
  thread_id: string;
  /** The execution's fencing token: its side effects are recorded only while it holds the run. */
  fence?: number;
}

/**
 * A ReportSink through the outbox: the report is enqueued under `<thread_id>:report:<name>`
 * and delivered (written atomically under `dir`). A report step run again writes nothing:
 * the entry is there already, and the path returned is the one first enqueued.
 */
export function outboxReportSink(outbox: Outbox, dir: string, ids: OutboxIds): ReportSink {
  return {
    async write(name, markdown) {
      const { path: at } = await outbox.deliverReport({
        key: reportKey(ids, name),
        run_id: ids.run_id,
        thread_id: ids.thread_id,
        fence: ids.fence,
        path: path.resolve(dir, name),
        markdown,
      });
      return at;
    },
  };
}

const reportKey = (ids: OutboxIds, name: string) => `${ids.thread_id}:report:${name}`;

/**
 * The flow's `publish` through the outbox: the report as outboxReportSink writes it, and its
 * notification in the same statement (see Outbox.deliverReport).
 */
export function outboxPublisher(outbox: Outbox, dir: string, ids: OutboxIds): ReportPublisher {
  return async ({ name, markdown }, event) => {
    const report = { key: reportKey(ids, name), run_id: ids.run_id, thread_id: ids.thread_id, fence: ids.fence, path: path.resolve(dir, name), markdown };
    return (await outbox.deliverReport(report, event)).path;
  };
}

/** The flow's `notify` through the outbox: one `notification` entry per event key, delivered at once. */
export function outboxNotifier(outbox: Outbox, ids: OutboxIds): Notifier {
  return async (event) => {
    await outbox.enqueueAndDeliver({
      key: event.key,
      kind: "notification",
      run_id: ids.run_id,
      thread_id: ids.thread_id,
      fence: ids.fence,
      payload: { kind: event.kind, payload: event.payload },
    });
  };
}
