// Over 300 lines: the EventBus is one mechanism (publish with the outbox, subscribe, consume with the consumption record in one transaction, redeliver lost deliveries) whose steps share its queue names and SQL; it knows no flow: its caller gives the event checker.
import type pg from "pg";
import type PgBoss from "pg-boss";
import type { DeadLetterQueue } from "./dead-letters.js";
import type { Logger } from "../observability/log.js";
import { bossDb, notifyRuns } from "./queue.js";

/** An event as published: its type is `<name>.v<version>`, its id its idempotency key. */
export interface Emitted {
  id: string;
  type: string;
  correlation_id: string;
  /** The event it answers; null for a first one (a discovery). */
  causation_id: string | null;
  payload: unknown;
}

/** An event as checked against its type's schema: what a subscriber is handed. */
export interface CheckedEvent {
  id: string;
  type: string;
}

/**
 * What the bus knows of its events, given by the flow whose events they are: the bus checks
 * every event on publish and on consume, and names no event type itself.
 */
export interface EventTypes<E extends CheckedEvent> {
  /** The flow the events belong to: its subscribers' queues are `<flow>-<consumer>`, refused events its dead letters. */
  flow: string;
  /** The reason an envelope (`{ id, name, version, correlation_id, causation_id, payload }`) is refused, or the typed event. */
  check(raw: unknown): { ok: true; event: E } | { ok: false; reason: string };
  /** `company.discovered.v1` as its name and version. */
  split(type: string): { name: string; version: number };
}

/** What a subscriber did with an event: committed with its consumption, in one transaction. */
export interface Handled {
  outcome: "handled" | "ignored" | "dead_lettered" | "failed";
  run_id?: string | null;
  /** The events it publishes in answer. */
  publish?: Emitted[];
  /** Its own writes, in the same transaction (an outreach draft, a CRM row). */
  commit?(tx: pg.PoolClient): Promise<void>;
}

/**
 * A consumer of one event type. `handle` does the work durably and may run again for the same
 * event (a crash before the commit): it must answer the same again without repeating the work.
 */
export interface Subscriber<E extends CheckedEvent = CheckedEvent> {
  /** Its name: its queue, and its key in the consumption records. */
  name: string;
  subscribes: E["type"];
  /** `holder`: the consumer's worker and lease, which the run is held by (renewed as it runs, so a frozen worker's run is taken over). */
  handle(event: E, holder?: { workerId: string; leaseMs: number }): Promise<Handled>;
}

/** What a worker polls. */
export interface EventConsumer {
  /** Handles up to `limit` delivered events; resolves with how many it took off its queue. */
  poll(limit: number): Promise<number>;
}

export interface PublishReport {
  published: number;
  /** Already on the bus (same id): a re-run or a re-ingest. */
  duplicates: number;
  /** Refused by its schema: dead-lettered with the reason. */
  invalid: number;
}

/** The queue a subscriber of `flow`'s events has its deliveries wait in. */
export const consumerQueue = (flow: string, consumer: string) => `${flow}-${consumer}`;

export interface EventBusOptions<E extends CheckedEvent> {
  pool: pg.Pool;
  boss: PgBoss;
  deadLetters: DeadLetterQueue;
  /** The events it carries (a flow's): their schemas, their flow. */
  events: EventTypes<E>;
  log?: Logger;
}

/**
 * An event bus on PostgreSQL, for one flow's events. Every event is a row of opsgraph_events (its id the
 * primary key: the same event published twice is one), and a job on the pg-boss queue of
 * each subscriber (pg-boss's subscription table). Publishing is one transaction with the
 * publisher's consumption record, so a crash never publishes twice. Events are checked
 * against their schema on publish and on consume; a refused one is a dead letter with its
 * reason, and the others go on.
 */
export class EventBus<E extends CheckedEvent = CheckedEvent> {
  private readonly pool: pg.Pool;
  private readonly boss: PgBoss;
  private readonly deadLetters: DeadLetterQueue;
  private readonly events: EventTypes<E>;
  private readonly log?: Logger;

  constructor(o: EventBusOptions<E>) {
    ({ pool: this.pool, boss: this.boss, deadLetters: this.deadLetters, events: this.events, log: this.log } = o);
  }

  /** The queue `consumer`'s deliveries wait in. */
  private queueOf(consumer: string): string {
    return consumerQueue(this.events.flow, consumer);
  }

  /** Subscribes a consumer to an event type (idempotent): from now on each such event is delivered to it. */
  async subscribe(type: E["type"], consumer: string): Promise<void> {
    // two processes subscribing at once (a worker's first poll, an ingest) may deadlock in
    // pg-boss's queue creation: PostgreSQL aborts one of them, which tries again
    for (let attempt = 1; ; attempt++) {
      try {
        await this.boss.createQueue(this.queueOf(consumer)).catch((e: Error) => {
          if (!/already exists/.test(e.message)) throw e;
        });
        await this.boss.subscribe(type, this.queueOf(consumer));
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== "40P01" || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 20 * attempt));
      }
    }
  }

  /** Publishes events in one transaction (the caller's, or one of its own). */
  async publish(events: Emitted[], tx?: pg.PoolClient): Promise<PublishReport> {
    if (tx) return this.publishIn(tx, events);
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const r = await this.publishIn(client, events);
      await client.query("COMMIT");
      return r;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  private async publishIn(tx: pg.PoolClient, events: Emitted[]): Promise<PublishReport> {
    const report: PublishReport = { published: 0, duplicates: 0, invalid: 0 };
    for (const e of events) {
      const { name, version } = this.events.split(e.type);
      const envelope = { id: e.id, name, version, correlation_id: e.correlation_id, causation_id: e.causation_id, payload: e.payload };
      const checked = this.events.check(envelope);
      if (!checked.ok) {
        report.invalid++;
        await this.deadLetter("publish", envelope, checked.reason);
        continue;
      }
      const { rows } = await tx.query<{ published_at: Date }>(
        `INSERT INTO opsgraph_events (id, name, version, correlation_id, causation_id, payload) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING published_at`,
        [e.id, name, version, e.correlation_id, e.causation_id, JSON.stringify(e.payload)],
      );
      if (!rows[0]) {
        report.duplicates++;
        continue;
      }
      // pg-boss's own publish() settles its sends and drops their errors: the fan-out is here, in the transaction
      const { rows: queues } = await tx.query<{ name: string }>(`SELECT name FROM pgboss.subscription WHERE event = $1`, [e.type]);
      for (const q of queues) await this.boss.send(q.name, envelope, { db: bossDb(tx) });
      report.published++;
    }
    if (report.published) await notifyRuns(tx);
    return report;
  }

  /** A refused event: a dead letter whose error is the reason. */
  private async deadLetter(consumer: string, raw: unknown, reason: string): Promise<void> {
    const e = (raw ?? {}) as { id?: unknown; name?: unknown; version?: unknown; correlation_id?: unknown };
    this.log?.warn({ consumer, event_id: e.id, name: e.name, version: e.version, reason }, "event dead-lettered");
    await this.deadLetters.put({
      run_id: null,
      thread_id: `event:${String(e.id ?? "unknown")}`,
      flow: this.events.flow,
      node: consumer,
      agent: consumer,
      input_ref: { event_id: e.id ?? null, name: e.name ?? null, version: e.version ?? null, correlation_id: e.correlation_id ?? null },
      errors: [{ agent: consumer, tier: "bus", attempt: 1, outcome: "invalid", error_class: "invalid", error: reason, ms: 0 }],
    });
  }

  /**
   * A subscriber's consumer, for a worker to poll. Each event it takes is checked, skipped
   * when already consumed (a redelivery), else handled and committed with what it publishes.
   * Deliveries lost with a dead worker are sent again after `leaseMs`.
   */
  consumer(sub: Subscriber<E>, opts: { workerId: string; leaseMs: number }): EventConsumer & { stats: { handled: number; skipped: number; refused: number } } {
    const queue = this.queueOf(sub.name);
    const stats = { handled: 0, skipped: 0, refused: 0 };
    let lastSweep = 0;
    let subscribed = false;
    const take = async (job: PgBoss.Job<object>) => {
      try {
        const checked = this.events.check(job.data);
        if (!checked.ok) {
          stats.refused++;
          await this.deadLetter(sub.name, job.data, checked.reason);
          // consumed, as a dead letter: a refused event is never delivered again
          const id = (job.data as { id?: unknown }).id;
          if (typeof id === "string" && /^[0-9a-f-]{36}$/i.test(id)) {
            await this.pool.query(
              `INSERT INTO opsgraph_event_consumptions (event_id, consumer, outcome, worker_id) VALUES ($1, $2, 'dead_lettered', $3) ON CONFLICT DO NOTHING`,
              [id, sub.name, opts.workerId],
            );
          }
          return;
        }
        const event = checked.event;
        if (event.type !== sub.subscribes) {
          stats.refused++;
          return await this.deadLetter(sub.name, job.data, `${sub.name} subscribes to ${sub.subscribes}, not ${event.type}`);
        }
        if (await this.consumed(event.id, sub.name)) {
          stats.skipped++;
          return;
        }
        const handled = await sub.handle(event, { workerId: opts.workerId, leaseMs: opts.leaseMs });
        if (await this.commit(event, sub.name, handled, opts.workerId)) stats.handled++;
        else stats.skipped++;
      } catch (e) {
        // not consumed: the sweep delivers it again once the lease is over
        this.log?.warn({ consumer: sub.name, job: job.id, err: String((e as Error).message ?? e) }, "event not handled; it will be delivered again");
      } finally {
        await this.boss.complete(queue, job.id).catch(() => {});
      }
    };
    return {
      stats,
      poll: async (limit) => {
        if (!subscribed) {
          await this.subscribe(sub.subscribes, sub.name);
          subscribed = true;
        }
        if (Date.now() - lastSweep > opts.leaseMs / 3) {
          lastSweep = Date.now();
          await this.redeliver(sub.name, opts.leaseMs).catch((e) => this.log?.warn({ err: String(e) }, "event redelivery sweep failed"));
        }
        const jobs = await this.boss.fetch<object>(queue, { batchSize: Math.max(1, limit) });
        await Promise.all(jobs.map(take));
        return jobs.length;
      },
    };
  }

  private async consumed(eventId: string, consumer: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM opsgraph_event_consumptions WHERE event_id = $1 AND consumer = $2`, [eventId, consumer]);
    return (rowCount ?? 0) > 0;
  }

  /**
   * A stage's run that stopped at its event (dead-lettered, paused for a person) and was then
   * carried on to its end (`dlq retry`, `resume`): its consumption becomes `handled` and what it
   * publishes is published, in one transaction, as if it had been handled the first time. False
   * when it was handled already (nothing published twice).
   */
  settleLater(event: E, consumer: string, handled: Handled, by: string): Promise<boolean> {
    return this.commit(event, consumer, handled, by, { replaceUnhandled: true });
  }

  /**
   * The consumption record, what it publishes and its own writes: all or nothing. False when
   * another got there first. `replaceUnhandled`: a record of a dead-lettered or failed handling
   * is replaced (see settleLater).
   */
  private async commit(event: E, consumer: string, handled: Handled, workerId: string, opts: { replaceUnhandled?: boolean } = {}): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const conflict = opts.replaceUnhandled
        ? `ON CONFLICT (event_id, consumer) DO UPDATE SET outcome = EXCLUDED.outcome, run_id = EXCLUDED.run_id, worker_id = EXCLUDED.worker_id, handled_at = clock_timestamp()
           WHERE opsgraph_event_consumptions.outcome IN ('dead_lettered', 'failed')`
        : "ON CONFLICT DO NOTHING";
      const { rowCount } = await client.query(
        `INSERT INTO opsgraph_event_consumptions (event_id, consumer, outcome, run_id, worker_id) VALUES ($1, $2, $3, $4, $5) ${conflict}`,
        [event.id, consumer, handled.outcome, handled.run_id ?? null, workerId],
      );
      if (!rowCount) {
        await client.query("ROLLBACK");
        return false;
      }
      const r = await this.publishIn(client, handled.publish ?? []);
      await handled.commit?.(client);
      await client.query(`UPDATE opsgraph_event_consumptions SET published = $3 WHERE event_id = $1 AND consumer = $2`, [event.id, consumer, r.published]);
      await client.query("COMMIT");
      return true;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /**
   * Sends again the events a subscriber has not consumed and has no live delivery of: the
   * delivery of a worker killed while it handled one. A second delivery is harmless: the
   * consumption record says it was handled, and the stage's thread answers from its result.
   */
  async redeliver(consumer: string, leaseMs: number): Promise<number> {
    const queue = this.queueOf(consumer);
    const { rows } = await this.pool.query<{
      id: string;
      name: string;
      version: number;
      correlation_id: string;
      causation_id: string | null;
      payload: unknown;
    }>(
      `SELECT e.id::text, e.name, e.version, e.correlation_id, e.causation_id::text, e.payload
       FROM opsgraph_events e JOIN pgboss.subscription s ON s.event = e.name || '.v' || e.version AND s.name = $1
       WHERE e.published_at >= s.created_on AND e.published_at < now() - make_interval(secs => $2 / 1000.0)
         AND NOT EXISTS (SELECT 1 FROM opsgraph_event_consumptions c WHERE c.event_id = e.id AND c.consumer = $3)
         AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = $1 AND j.data->>'id' = e.id::text
                         AND (j.state IN ('created', 'retry') OR (j.state = 'active' AND j.started_on > now() - make_interval(secs => $2 / 1000.0))))
       ORDER BY e.published_at LIMIT 200`,
      [queue, leaseMs, consumer],
    );
    for (const e of rows) await this.boss.send(queue, { ...e, redelivery: true });
    if (rows.length) this.log?.warn({ consumer, events: rows.length }, "events of a lost delivery sent again");
    return rows.length;
  }
}
