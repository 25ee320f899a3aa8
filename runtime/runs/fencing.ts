import { setMaxListeners } from "node:events";
import type pg from "pg";
import type { ModelTier } from "../../nodes/agent.js";

/**
 * Raised by a write of an execution whose run was claimed since by another (its fencing token
 * is lower than the run's), and by an execution whose lease ran out here. It ends that
 * execution with nothing more written, and is not the run's failure: the new owner has it.
 */
export class FencedError extends Error {
  override name = "FencedError";
}

/** The configurable key that carries an execution's fencing token to the checkpointer. */
export const FENCE_KEY = "opsgraph_fence";

/**
 * SQL: the run row of the thread in parameter `$thread` while its fence is `$fence`, share-locked
 * until the statement's transaction ends, so a claim (an UPDATE of the fence) waits for a write
 * that passed the check, and a write that waited on a claim sees its new fence and is refused.
 */
export const ownerOfThread = (thread: number, fence: number) =>
  `SELECT 1 FROM opsgraph_runs WHERE thread_id = $${thread} AND fence = $${fence}::bigint FOR SHARE`;
/** The same, by run id. */
export const ownerOfRun = (run: number, fence: number) => `SELECT 1 FROM opsgraph_runs WHERE run_id = $${run}::uuid AND fence = $${fence}::bigint FOR SHARE`;

/** The FencedError of a write refused by `fence`: it names the run and the fence that holds it now. */
export async function fencedError(db: Pick<pg.Pool, "query">, by: { run_id?: string | null; thread_id?: string | null }, fence: number): Promise<FencedError> {
  const { rows } = await db
    .query<{ run_id: string; fence: string }>(`SELECT run_id::text, fence::text FROM opsgraph_runs WHERE run_id::text = $1 OR thread_id = $2`, [
      by.run_id ?? null,
      by.thread_id ?? null,
    ])
    .catch(() => ({ rows: [] as { run_id: string; fence: string }[] }));
  const row = rows[0];
  return new FencedError(`run ${row?.run_id ?? by.run_id ?? by.thread_id}: lease lost to another worker (fence ${fence} < ${row?.fence ?? "?"})`);
}

/**
 * One execution's hold on its run: the fencing token its writes carry, and its lease as this
 * process knows it. A worker's execution holds a lease of `leaseMs` from each renewal the
 * database acknowledged, timed from when the renewal was sent (so it runs out here no later
 * than there); past it, or told the run is someone else's, the execution is aborted through
 * `signal` (in-flight model calls included) and `check()` throws: a process thawed after a
 * freeze sees its monotonic clock far past its lease before it makes another model call.
 * An execution of `opsgraph run` (no leaseMs) holds the thread's lock instead and never expires.
 */
export class RunLease {
  fence: number | undefined;
  private renewedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly controller = (() => {
    const c = new AbortController();
    // the run's signal: every task of the run in flight listens to it at once (20 companies' workers, say)
    setMaxListeners(0, c.signal);
    return c;
  })();

  constructor(
    readonly runId: string,
    readonly leaseMs?: number,
    /** The monotonic clock leases are timed on (ms). */
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Aborted once the lease is lost. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the lease is lost, once it is. */
  get lost(): FencedError | undefined {
    return this.controller.signal.aborted ? (this.controller.signal.reason as FencedError) : undefined;
  }

  /** The run was claimed with `fence` by a statement sent at `sentAt` (this clock). */
  claimed(fence: number, sentAt = this.now()): void {
    this.fence = fence;
    this.renewed(sentAt);
  }

  /** The database renewed the lease, by a statement sent at `sentAt`. */
  renewed(sentAt: number): void {
    if (this.lost || this.leaseMs === undefined) return;
    this.renewedAt = Math.max(this.renewedAt, sentAt);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(false), Math.max(0, this.renewedAt + this.leaseMs - this.now()) + 1);
    this.timer.unref?.();
  }

  /** The run is no longer this execution's: everything it does is aborted. */
  lose(why: string): void {
    clearTimeout(this.timer);
    if (!this.lost) this.controller.abort(new FencedError(`run ${this.runId}: lease lost (${why})`));
  }

  /** Throws (FencedError) once the lease is lost or has run out here. No database round trip. */
  check(raise = true): void {
    if (!this.lost && this.leaseMs !== undefined && this.fence !== undefined) {
      const since = this.now() - this.renewedAt;
      if (since > this.leaseMs) this.lose(`not renewed for ${Math.round(since)} ms, lease ${this.leaseMs} ms`);
    }
    if (raise && this.lost) throw this.lost;
  }

  /** The execution ended: no timer left behind. */
  end(): void {
    clearTimeout(this.timer);
  }

  /** `tier`, checking the lease before each call and passing the execution's signal (a lost lease cancels a call in flight). */
  guard<T extends ModelTier>(tier: T): T {
    return {
      ...tier,
      invoke: async (call) => {
        this.check();
        return tier.invoke({ ...call, signal: call.signal ? AbortSignal.any([call.signal, this.signal]) : this.signal });
      },
    };
  }
}
