import { randomUUID } from "node:crypto";
import os from "node:os";
import { RunControl } from "@langchain/langgraph";
import pg from "pg";
import type PgBoss from "pg-boss";
import type { Logger } from "../observability/log.js";
import { notifyRuns, RUNS_CHANNEL, RUNS_QUEUE, type RunJob } from "./queue.js";
import { prune } from "../db/retention.js";
import { isFenced, ThreadBusyError, type FlowRunner } from "../runs/flow-runner.js";
import { RunLease } from "../runs/fencing.js";
import { StateVersionError } from "../db/state-version.js";
import type { EventConsumer } from "./event-bus.js";

/** A runner that also consumes events (a sourcing stage): the worker polls its consumer. */
type ConsumingRunner = { consumer?(o: { workerId: string; leaseMs: number }): EventConsumer | undefined };

export interface WorkerOptions {
  pool: pg.Pool;
  queue: PgBoss;
  /** The flows this worker executes, by their runners; a job of another flow is left to another worker. */
  runners: FlowRunner[];
  /** Runs executed at once. */
  concurrency: number;
  /** A running run whose worker has not renewed its lease for this long is picked up again. Default 30 s. */
  leaseMs?: number;
  /** How often an idle worker asks the queue for work, besides waking when a run is submitted (LISTEN). Default 500 ms. */
  pollMs?: number;
  /** Checkpoints of threads finished longer ago than this are pruned (hourly). Default 30 days. */
  retentionMs?: number;
  /** How often to prune. Default 1 hour. */
  pruneEveryMs?: number;
  /** Cron schedules whose due ticks this worker starts (each tick one run, whatever the number of workers). */
  schedules?: { fireDue(): Promise<unknown[]> };
  /** How often to look for due schedules. Default 5 s. */
  scheduleEveryMs?: number;
  /** Event consumers (the sourcing bus's subscribers), polled each round with the free slots. Default: those its runners offer (`consumer()`). */
  consumers?: EventConsumer[];
  log?: Logger;
}

/**
 * Executes queued runs, `concurrency` at a time. Any number of workers, on any number of
 * machines, share one database:
 * - a run is claimed with a lease (worker_id, heartbeat_at) renewed every leaseMs/3, and
 *   executed under the thread's advisory lock; the claim raises the run's fence, which every
 *   write of the execution carries (a write of an execution that lost its lease is refused);
 * - an execution whose lease is not renewed for leaseMs (this process was frozen, or cut off)
 *   is aborted here, before its next model call; a worker that finds the thread's lock held by
 *   such an execution ends that holder's connection and takes the run;
 * - runs whose lease ran out (their worker was killed) are put back on the queue by any
 *   live worker's sweep, and resume from their last checkpoint;
 * - `drain()` (SIGTERM) stops taking runs, lets in-flight runs reach a checkpoint, hands
 *   them back to the queue, and resolves.
 */
export class Worker {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly inFlight = new Map<string, { control: RunControl; done: Promise<void>; lease: RunLease }>();
  private draining = false;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Set by a notification that came while the fetch loop was not waiting. */
  private notified = false;
  private stopListening: (() => void) | undefined;
  /** Runs whose state this build refused (their version), told once. */
  private readonly refused = new Set<string>();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly consumers: EventConsumer[];

  constructor(private readonly o: WorkerOptions) {
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = o.pollMs ?? 500;
    this.consumers = o.consumers ?? o.runners.flatMap((r) => (r as ConsumingRunner).consumer?.({ workerId: this.id, leaseMs: this.leaseMs }) ?? []);
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Starts the fetch, lease and sweep loops; resolves once the worker is registered. */
  async start(): Promise<void> {
    await this.o.pool.query(
      `INSERT INTO opsgraph_workers (worker_id, host, pid, concurrency) VALUES ($1, $2, $3, $4)
       ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`,
      [this.id, os.hostname(), process.pid, this.o.concurrency],
    );
    const heartbeat = setInterval(
      () => void this.renewLeases().catch((e) => this.o.log?.warn({ err: String(e) }, "lease renewal failed")),
      Math.max(100, this.leaseMs / 3),
    );
    const listening = this.listen();
    this.stopped = this.fetchLoop().finally(async () => {
      clearInterval(heartbeat);
      this.stopListening?.();
      await listening;
    });
  }

  /** Stops taking runs, drains the ones in flight at their next checkpoint, hands them back. */
  async drain(reason = "worker stopping"): Promise<void> {
    this.draining = true;
    this.wake?.();
    for (const { control } of this.inFlight.values()) control.requestDrain(reason);
    await this.stopped;
    await this.o.pool.query(`UPDATE opsgraph_workers SET stopped_at = now(), in_flight = 0 WHERE worker_id = $1`, [this.id]).catch(() => {});
  }

  /**
   * LISTENs on RUNS_CHANNEL on a connection of its own (a pooled one would be handed to others),
   * so a submitted run starts at once; reconnects after a lost connection. Polling remains the
   * fallback: a notification lost with a connection costs at most one poll.
   */
  private async listen(): Promise<void> {
    while (!this.draining) {
      const client = new pg.Client(this.o.pool.options);
      client.on("error", () => {}); // ends the wait below through "end"
      try {
        await client.connect();
        client.on("notification", () => {
          this.notified = true;
          this.wake?.();
        });
        await client.query(`LISTEN ${RUNS_CHANNEL}`);
        await new Promise<void>((resolve) => {
          client.once("end", resolve);
          this.stopListening = resolve;
          if (this.draining) resolve();
        });
      } catch (e) {
        this.o.log?.debug({ err: String(e) }, "listen failed; polling until it reconnects");
      } finally {
        await client.end().catch(() => {});
      }
      if (!this.draining) await new Promise<void>((r) => setTimeout(r, this.pollMs));
    }
  }

  private async fetchLoop(): Promise<void> {
    let lastSweep = 0;
    let lastPrune = Date.now();
    let lastSchedules = 0;
    while (!this.draining) {
      if (this.o.schedules && Date.now() - lastSchedules >= (this.o.scheduleEveryMs ?? 5_000)) {
        lastSchedules = Date.now();
        await this.o.schedules
          .fireDue()
          .then((fired) => fired.length && this.o.log?.info({ fired }, "scheduled runs started"))
          .catch((e) => this.o.log?.warn({ err: String(e) }, "firing due schedules failed"));
      }
      if (Date.now() - lastSweep > this.leaseMs / 3) {
        lastSweep = Date.now();
        await this.sweep().catch((e) => this.o.log?.warn({ err: String(e) }, "sweep failed"));
        // side effects whose step crashed between enqueueing and delivering them
        await this.o.runners[0]!.outbox.deliver({ limit: 100 }).catch((e) => this.o.log?.warn({ err: String(e) }, "outbox delivery failed"));
      }
      if (Date.now() - lastPrune > (this.o.pruneEveryMs ?? 3_600_000)) {
        lastPrune = Date.now();
        await prune(this.o.pool, { olderThanMs: this.o.retentionMs ?? 30 * 86_400_000 })
          .then((r) => r.threads && this.o.log?.info(r, "pruned checkpoints of finished threads"))
          .catch((e) => this.o.log?.warn({ err: String(e) }, "prune failed"));
      }
      this.notified = false;
      const free = this.o.concurrency - this.inFlight.size;
      let jobs: PgBoss.Job<RunJob>[] = [];
      if (free > 0) {
        jobs = await this.o.queue.fetch<RunJob>(RUNS_QUEUE, { batchSize: free }).catch((e: unknown) => {
          this.o.log?.warn({ err: String(e) }, "queue fetch failed; retrying");
          return [];
        });
      }
      for (const job of jobs) this.handle(job);
      let consumed = 0;
      for (const c of this.consumers) {
        if (this.draining) break;
        consumed += await c.poll(Math.max(1, free)).catch((e: unknown) => {
          this.o.log?.warn({ err: String(e) }, "event consumer poll failed; retrying");
          return 0;
        });
      }
      if ((jobs.length === 0 && consumed === 0 && !this.notified) || this.inFlight.size >= this.o.concurrency) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    await Promise.all([...this.inFlight.values()].map((r) => r.done));
  }

  private handle(job: PgBoss.Job<RunJob>) {
    const control = new RunControl();
    const { run_id, flow = "contract-review" } = job.data;
    const lease = new RunLease(run_id, this.leaseMs);
    const done = (async () => {
      let handedBack = false;
      try {
        const runner = this.o.runners.find((r) => r.flow === flow);
        if (!runner) throw new Error(`run ${run_id}: no runner for flow ${flow} in this worker`);
        const run = await runner.runQueued(run_id, { workerId: this.id, control, claim: { leaseMs: this.leaseMs }, lease });
        handedBack = run.status === "queued";
        this.o.log?.info({ run_id, status: run.status, model_calls: run.model_calls, worker: this.id }, "run executed");
      } catch (e) {
        if (e instanceof ThreadBusyError || (e as Error).name === "RunNotClaimable") {
          this.o.log?.debug({ run_id }, (e as Error).message);
        } else if (isFenced(e)) {
          // not the run's failure: its new owner goes on with it
          this.o.log?.warn({ run_id, worker: this.id, err: (e as Error).message }, "run given up: its lease was lost");
        } else if (e instanceof StateVersionError) {
          // a state this build cannot read stays queued, untouched, for a worker that can: the
          // sweep offers it again once a lease, and this worker says so once
          if (!this.refused.has(run_id)) this.o.log?.warn({ run_id, worker: this.id }, `${e.message}; left queued for a worker that reads it`);
          this.refused.add(run_id);
        } else {
          // the run's lease runs out and a sweep puts it back on the queue
          this.o.log?.warn({ run_id, err: String((e as Error).message ?? e) }, "run interrupted; it will be picked up again");
        }
      } finally {
        lease.end();
        this.inFlight.delete(run_id);
        this.wake?.();
        await this.o.queue.complete(RUNS_QUEUE, job.id).catch(() => {});
        if (handedBack) await this.requeue([run_id]).catch(() => {});
      }
    })();
    this.inFlight.set(run_id, { control, done, lease });
  }

  /**
   * Renews the leases of the runs in flight, each only while it holds the run (its fence): one
   * that is no longer its execution's (another worker claimed it) loses its lease here at once.
   */
  private async renewLeases() {
    const held = [...this.inFlight.values()].map((r) => r.lease).filter((l) => l.fence !== undefined);
    const sentAt = performance.now();
    const { rows } = await this.o.pool.query<{ run_id: string }>(
      `UPDATE opsgraph_runs r SET heartbeat_at = now() FROM unnest($2::text[], $3::bigint[]) AS l(run_id, fence)
       WHERE r.run_id::text = l.run_id AND r.fence = l.fence AND r.worker_id = $1 AND r.status = 'running' RETURNING r.run_id::text`,
      [this.id, held.map((l) => l.runId), held.map((l) => l.fence)],
    );
    const renewed = new Set(rows.map((r) => r.run_id));
    // a run that ended meanwhile is not renewed either: its execution has nothing left to lose
    for (const l of held)
      if (renewed.has(l.runId)) l.renewed(sentAt);
      else l.lose("another execution holds the run");
    await this.o.pool.query(`UPDATE opsgraph_workers SET heartbeat_at = now(), in_flight = $2 WHERE worker_id = $1`, [this.id, this.inFlight.size]);
  }

  /** Puts back on the queue the runs whose worker stopped renewing their lease (it died). */
  async sweep(): Promise<string[]> {
    const { rows } = await this.o.pool.query<{ run_id: string }>(
      `UPDATE opsgraph_runs SET status = 'queued', worker_id = NULL, heartbeat_at = NULL, updated_at = now()
       WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1 / 1000.0) RETURNING run_id`,
      [this.leaseMs],
    );
    const ids = rows.map((r) => r.run_id);
    if (ids.length) this.o.log?.warn({ runs: ids }, "runs of a lost worker put back on the queue");
    // Queued runs with no live job: the job of a worker killed between fetching and claiming
    // it, or a re-enqueue lost with the database (a restart between the two statements).
    const { rows: orphans } = await this.o.pool.query<{ run_id: string }>(
      `UPDATE opsgraph_runs r SET updated_at = now()
       WHERE r.status = 'queued' AND r.updated_at < now() - make_interval(secs => $1 / 1000.0)
         AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = $2 AND j.data->>'run_id' = r.run_id::text
                         AND (j.state IN ('created', 'retry') OR (j.state = 'active' AND j.started_on > now() - make_interval(secs => $1 / 1000.0))))
       RETURNING r.run_id`,
      [this.leaseMs, RUNS_QUEUE],
    );
    if (orphans.length) this.o.log?.warn({ runs: orphans.map((r) => r.run_id) }, "queued runs without a job put back on the queue");
    const all = [...ids, ...orphans.map((r) => r.run_id)];
    if (all.length) await this.requeue(all);
    return all;
  }

  private async requeue(runIds: string[]) {
    if (!runIds.length) return;
    const { rows } = await this.o.pool.query<{ run_id: string; flow: string }>(`SELECT run_id::text, flow FROM opsgraph_runs WHERE run_id::text = ANY($1)`, [
      runIds,
    ]);
    for (const { run_id, flow } of rows) await this.o.queue.send(RUNS_QUEUE, { run_id, flow } satisfies RunJob);
    if (runIds.length) await notifyRuns(this.o.pool);
  }
}
