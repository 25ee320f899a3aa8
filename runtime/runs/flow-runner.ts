import { randomUUID } from "node:crypto";
import { Command, isGraphDrained, type RunControl } from "@langchain/langgraph";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import type pg from "pg";
import type PgBoss from "pg-boss";
import type { Attempt, ModelTier } from "../../nodes/agent.js";
import { countModelCalls, freshCursor, mostTiers, stepNodes, tiersOf, tiersUsed, tiersUsedByAgent, type AgentStepContext, type AgentStepState, type ExhaustedPolicy } from "../../nodes/agent-step.js";
import { budgetOf, type BudgetContext, type LimitInputs } from "../../nodes/budget.js";
import type { Clock } from "../../nodes/clock.js";
import { DEFAULT_BACKOFF } from "../../nodes/errors.js";
import { costOf, type PriceTable } from "../models/prices.js";
import { DeadLetterQueue, type DeadLetter } from "../queue/dead-letters.js";
import { InputError } from "../errors.js";
import { FENCE_KEY, FencedError, fencedError, RunLease } from "./fencing.js";
import type { Logger } from "../observability/log.js";
import { Outbox } from "../queue/outbox.js";
import { bossDb, notifyRuns, RUNS_QUEUE, type RunJob } from "../queue/queue.js";
import { ensureStateVersion, type FlowStateVersions, type VersionedGraph } from "../db/state-version.js";
import { readTierStats, tierOrdersOf, type TierOrders } from "../models/tier-stats.js";

export type RunStatus = "queued" | "running" | "completed" | "awaiting_review" | "failed" | "dead_lettered";

/** Raised when another process executes the same thread: one run at a time per thread. */
export class ThreadBusyError extends Error {
  override name = "ThreadBusyError";
}

/** A dead letter its run cannot be retried in place from (a worker task's, or a refused event's with no run). */
export class NotRetryableError extends InputError {
  override name = "NotRetryableError";
}

/** A run as the CLI prints it (`--json`): one object per run. */
export interface RunRecord {
  run_id: string;
  thread_id: string;
  request_id: string;
  flow: string;
  status: RunStatus;
  /** HTTP requests made to model providers by this invocation, retries included. */
  model_calls: number;
  tiers_used: string[];
  /** Per agent, the tiers that produced its outputs (`rules` among them when it answered). */
  tiers_used_by_agent?: Record<string, string[]>;
  duration_ms: number;
  result?: unknown;
  error?: string;
  /** True when the answer came from a finished run of the same request, with no work done. */
  cached?: boolean;
  /** The attempt ledger: every model, rules and person call of the run. */
  attempts?: Attempt[];
  /** The worker executing it, while running from the queue. */
  worker_id?: string;
  /** With OPSGRAPH_ADAPTIVE_TIERS: per agent, the order its tiers were tried in (rules last) and why, fixed when the run started. */
  tier_order?: TierOrders;
}

/** A run that has ended, or paused, or was handed back: what observers (metrics, traces) learn. */
export interface RunEnded {
  flow: string;
  run_id: string;
  thread_id: string;
  status: RunStatus;
  /** When this invocation started and how long it took (ms). */
  started_at: Date;
  duration_ms: number;
  /** The attempts made by this invocation (the ledger's new entries). */
  attempts: Attempt[];
  error: string | null;
}

/** A node's task of one invocation starting or ending, from LangGraph's own `tasks` stream (no callbacks). */
export interface TaskEvent {
  /** The task's id: its start and end share it. */
  id: string;
  /** The node's name. */
  name: string;
  phase: "start" | "end";
  /** When the runner received it: epoch ms with a sub-ms fraction. */
  at: number;
  /** end: the channel writes the node returned. */
  writes?: [string, unknown][];
  /** end: the error it raised, if any (an interrupt included). */
  error?: string;
}

/**
 * Watches runs: each invocation's tasks (node spans), LangChain callbacks (LangSmith), and each
 * invocation's end. Errors of an observer never fail a run.
 */
export interface RunObserver {
  /** Told of every task of one invocation of a run's graph, as it starts and ends. */
  tasks?(run: { flow: string; run_id: string; thread_id: string }): (e: TaskEvent) => void;
  /** LangChain callback handlers for one invocation (every runnable inside reports to them: costly; LangSmith only). */
  callbacks?(run: { flow: string; run_id: string; thread_id: string }): BaseCallbackHandler[];
  runEnded?(e: RunEnded): void | Promise<void>;
}

/** What every flow's runner needs. */
export interface RunnerDeps {
  pool: pg.Pool;
  /** The flows' chain (OPSGRAPH_MODELS): every agent's tiers, except an agent with its own. */
  tiers: ModelTier[];
  /** Agents' own chains (OPSGRAPH_MODELS_<AGENT>), by agent name. */
  agentTiers?: Record<string, ModelTier[]>;
  /** Where reports are written. */
  reportsDir: string;
  log?: Logger;
  clock?: Clock;
  /** Overrides every agent's exhausted policy for the runs of this runner. */
  onExhausted?: ExhaustedPolicy;
  /** Replaces agents' implementations, by name. */
  agents?: AgentStepContext["agents"];
  /** Retry waits of transient errors. Default: nodes/errors.ts DEFAULT_BACKOFF (1, 2, 4, 8 s with jitter). */
  backoff?: AgentStepContext["backoff"];
  /** The job queue, for `submit`. */
  queue?: PgBoss;
  /** Metrics, traces: told of every invocation. */
  observers?: RunObserver[];
  /** What each run may spend (a run's own context wins); unset: nodes/budget.ts's defaults. */
  budget?: BudgetContext;
  /** Prices of the model tiers, for the runs' cost cap. Default: runtime/prices.ts's table. */
  prices?: PriceTable;
  /**
   * OPSGRAPH_ADAPTIVE_TIERS: each run, when it starts, orders each agent's tiers by the attempt
   * ledger's stats (runtime/tier-stats.ts, one query) and keeps that order in its row. Default: off.
   */
  adaptiveTiers?: boolean;
}

/** What `resume` answers: a human review's decision, or an escalated agent's output. */
export interface ResumeAnswer {
  decision?: "approve" | "reject";
  note?: string;
  /** The output of an escalated agent, supplied by a person. */
  output?: unknown;
}

/** A row of opsgraph_runs. `input` is the flow's own (what a queued run starts from). */
export interface RunRow extends Omit<RunRecord, "result" | "error" | "cached" | "worker_id" | "tier_order" | "tiers_used_by_agent"> {
  result: unknown;
  error: string | null;
  input: Record<string, unknown>;
  worker_id: string | null;
  tier_order: TierOrders | null;
  tiers_used_by_agent: Record<string, string[]> | null;
}

export type RunConfig = {
  /** FENCE_KEY: the execution's fencing token, which the checkpointer's writes carry. */
  configurable: { thread_id: string; [FENCE_KEY]?: number };
  context: AgentStepContext & Record<string, unknown>;
  durability: "sync";
  /** The flow's own worst case (see recursionLimit): LangGraph's default of 25 never stops a run. */
  recursionLimit: number;
  control?: RunControl;
  callbacks?: BaseCallbackHandler[];
  /** Aborted when the execution loses its lease. */
  signal?: AbortSignal;
};

/** A worker that holds the runs it executes by a lease it renews itself (an event consumer), not by the queue's claim. */
export interface LeaseHolder {
  workerId: string;
  leaseMs: number;
}

/** A run as an execution's config is built from it. */
type RunRef = { run_id: string; thread_id: string; input: RunRow["input"] };

/** What an execution of `opsgraph run`, resume or a dead letter's retry sets when it takes its run (no lease: the thread's lock). */
const IN_PROCESS = `status = 'running', error = NULL, worker_id = NULL, heartbeat_at = NULL, lock_pid = NULL, lease_ms = NULL`;
/** A worker's claim ($2 worker, $3 lease ms), on the lock's connection (lock_pid: a taker can end it once the lease ran out). */
const BY_WORKER = `status = 'running', worker_id = $2, heartbeat_at = now(), lock_pid = pg_backend_pid(), lease_ms = $3`;
/** A queued run, or a running one whose worker stopped renewing its lease ($3 ms). */
const CLAIMABLE = `status = 'queued' OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $3 / 1000.0)))`;

/** Whether `e` (or its cause) is a FencedError: a write refused, or a lease lost. */
export const isFenced = (e: unknown): boolean => e instanceof FencedError || (e as Error)?.name === "FencedError" || ((e as Error)?.cause !== undefined && (e as Error).cause !== e && isFenced((e as Error).cause));

export const threadIdFor = (flow: string, requestId: string) => `${flow}:${requestId}`;

function toRecord(row: RunRow, withResult = true): RunRecord {
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

/** Whether a thread's state snapshot comes from a checkpoint (a thread with none answers an empty one). */
const hasCheckpoint = (snapshot: { config?: { configurable?: { checkpoint_id?: string } } }) => snapshot.config?.configurable?.checkpoint_id !== undefined;

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
    return rows.map(({ released__: _, ...r }) => r as unknown as R);
  }
}

/** A compiled flow graph, as the runner drives it. */
export interface FlowGraph extends VersionedGraph {
  nodes: Record<string, unknown>;
  invoke(input: unknown, config: RunnableConfig): Promise<unknown>;
  stream(input: unknown, config: RunnableConfig & { streamMode: string[] }): Promise<AsyncIterable<unknown>>;
  getState(config: RunnableConfig): Promise<{ values: unknown; next: readonly string[]; config?: { configurable?: { checkpoint_id?: string } }; tasks: readonly { name: string; result?: unknown; interrupts: readonly { value?: unknown }[] }[] }>;
}

/**
 * Runs of one flow on PostgreSQL, whatever the flow: the run row, the thread's lock, the
 * queue, resume, dead-letter retry, list and show. A flow's runner says what is its own:
 * its graph, its context, the input a queued run starts from, its result.
 */
export abstract class FlowRunner<S extends AgentStepState = AgentStepState> {
  abstract readonly flow: string;
  protected abstract readonly graph: FlowGraph;
  protected abstract readonly versions: FlowStateVersions;
  /** The flow's agents (onExhausted applies to each). */
  /** The agents of its flow (what OPSGRAPH_MODELS_<AGENT> may name). */
  abstract readonly agentNames: readonly string[];
  readonly deadLetters: DeadLetterQueue;
  readonly outbox: Outbox;

  constructor(
    protected readonly deps: RunnerDeps,
    protected readonly checkpointer: PostgresSaver,
    protected readonly store: PostgresStore,
  ) {
    this.deadLetters = new DeadLetterQueue(deps.pool);
    this.outbox = new Outbox(deps.pool);
  }

  /** The flow's own context for a run (besides the agent-step context every flow gets). */
  protected abstract flowContext(run: RunRef & { fence?: number }): Record<string, unknown>;
  /** The graph input a run starts with, from its row's input (a queued run, or a new one). */
  protected abstract graphInput(input: RunRow["input"]): unknown;
  /** What the run row keeps as the result of a completed or paused run. */
  protected abstract result(state: S): unknown;
  /** The flow's worst case in supersteps (graphs/<flow>/limits.ts), for these tiers and this budget. */
  protected abstract recursionLimit(inputs: LimitInputs): number;

  /**
   * Before a run goes on: refuses a state this code cannot read (StateVersionError, nothing
   * written), upgrades an older one in place (runtime/state-version.ts), as an execution of its
   * own: on the thread's lock, its run taken (fenced). `hold`: the caller holds the lock, and
   * takes the run for the upgrade when one is needed.
   */
  protected ensureStateVersion(run: RunRef, config: RunConfig, opts: { hold?: <T>(fn: (config: RunConfig) => Promise<T>) => Promise<T> } = {}) {
    const hold =
      opts.hold ??
      (<T>(fn: (config: RunConfig) => Promise<T>) =>
        this.withThreadLock(run.thread_id, async (lock) => fn(this.config(run, await this.take(lock, run.run_id, new RunLease(run.run_id))))));
    return ensureStateVersion({ runId: run.run_id, config, graph: this.graph, checkpointer: this.checkpointer, versions: this.versions, lock: hold });
  }

  /**
   * Takes the run for one execution, on the thread's lock: its fence goes up, so every write of
   * an earlier execution is refused from now on (runtime/fencing.ts). `set`: the columns the
   * execution sets; `where`: the condition of the claim, with `values` from $2. Returns the
   * lease, with its token; throws RunNotClaimable when `where` does not hold.
   */
  private async take(lock: ThreadLock, run_id: string, lease: RunLease, o: { set?: string; where?: string; values?: unknown[] } = {}): Promise<RunLease> {
    const sentAt = lease.now();
    const { rows } = await lock.client.query<{ fence: string }>(
      `UPDATE opsgraph_runs SET fence = fence + 1, updated_at = now()${o.set ? `, ${o.set}` : ""} WHERE run_id = $1 AND (${o.where ?? "TRUE"}) RETURNING fence::text`,
      [run_id, ...(o.values ?? [])],
    );
    if (!rows[0]) throw Object.assign(new Error(`run ${run_id}: not claimable (finished, paused, or held by a live worker)`), { name: "RunNotClaimable" });
    lease.claimed(Number(rows[0].fence), sentAt);
    return lease;
  }

  /**
   * A run's config: to read its thread, or, with `lease`, for an execution: its writes carry the
   * lease's fencing token, its model calls check the lease first, and losing it aborts the run.
   */
  /**
   * The order each agent of a new run tries its tiers in, from the attempt ledger's stats (one
   * query); null when adaptive tier order is off.
   */
  protected async tierOrderFor(run_id: string): Promise<TierOrders | null> {
    if (!this.deps.adaptiveTiers) return null;
    const stats = await readTierStats(this.deps.pool, this.agentNames);
    return tierOrdersOf(this.agentNames, (agent) => tiersOf(this.deps, agent).map((t) => t.id), stats, run_id);
  }

  protected config(run: RunRef & { tier_order?: TierOrders | null }, lease?: RunLease): RunConfig {
    const { onExhausted, agents, clock, backoff, prices } = this.deps;
    const fence = lease?.fence;
    const context: RunConfig["context"] = {
      ...this.deps.budget,
      costOf: (a) => costOf(a.tier, a.tokens, prices),
      tiers: lease ? this.deps.tiers.map((t) => lease.guard(t)) : this.deps.tiers,
      ...(this.deps.agentTiers ? { agentTiers: lease ? Object.fromEntries(Object.entries(this.deps.agentTiers).map(([agent, tiers]) => [agent, tiers.map((t) => lease.guard(t))])) : this.deps.agentTiers } : {}),
      deadLetters: fence !== undefined ? this.deadLetters.fenced(fence) : this.deadLetters,
      // the nodes get the Store itself, not through the graph (see AgentStepContext.store)
      store: this.store,
      runId: run.run_id,
      flow: this.flow,
      ...(clock ? { clock } : {}),
      ...(backoff ? { backoff } : {}),
      ...(agents ? { agents } : {}),
      ...(onExhausted ? { policies: Object.fromEntries(this.agentNames.map((a) => [a, onExhausted])) } : {}),
      ...(this.deps.adaptiveTiers && run.tier_order ? { tierOrder: Object.fromEntries(Object.entries(run.tier_order).map(([agent, o]) => [agent, o.order])) } : {}),
      ...this.flowContext(fence !== undefined ? { ...run, fence } : run),
    };
    const recursionLimit = this.recursionLimit({ tiers: mostTiers(context), backoff: backoff ?? DEFAULT_BACKOFF, maxRounds: budgetOf(context).maxRounds });
    return {
      configurable: { thread_id: run.thread_id, ...(fence !== undefined ? { [FENCE_KEY]: fence } : {}) },
      ...(lease ? { signal: lease.signal } : {}),
      context,
      durability: "sync",
      recursionLimit,
    };
  }

  /**
   * Runs a request here and now. The same request again answers from the stored run with no
   * model call; a run that stopped part-way (crash, failure) carries on from its last
   * checkpoint. `prepare` (e.g. storing its document) must be idempotent: it runs alongside the
   * run row's insert, before any checkpoint, whether the request is new or not.
   */
  protected async start(requestId: string, input: RunRow["input"], prepare?: () => Promise<void>, holder?: LeaseHolder): Promise<RunRecord> {
    const thread_id = threadIdFor(this.flow, requestId);
    const new_run_id = randomUUID();
    const tier_order = await this.tierOrderFor(new_run_id);
    const sentAt = performance.now(); // a lease's time runs from when its row was sent (RunLease's clock)
    // A new request's row in one statement, at the same time as what the run needs first and
    // the thread's lock (a new run executes under it); an existing request's row is read.
    const [insert, prepared, locking] = await Promise.allSettled([
      this.deps.pool.query<{ run_id: string }>(
        // any conflict: request_id's or thread_id's (the same request, see enqueue)
        // its first execution holds fence 1
        // held by a lease (an event consumer's): its worker and lease, renewed as it runs
        `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input, fence, tier_order, worker_id, heartbeat_at, lease_ms)
         VALUES ($1, $2, $3, $4, 'running', $5, 1, $6, $7, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, $8)
         ON CONFLICT DO NOTHING RETURNING run_id`,
        [new_run_id, requestId, thread_id, this.flow, JSON.stringify(input), tier_order && JSON.stringify(tier_order), holder?.workerId ?? null, holder?.leaseMs ?? null],
      ),
      prepare?.(),
      this.tryThreadLock(thread_id),
    ]);
    const lock = locking.status === "fulfilled" ? locking.value : null;
    const failed = [insert, prepared, locking].find((r) => r.status === "rejected");
    if (failed || insert.status !== "fulfilled") {
      await lock?.release();
      throw (failed as PromiseRejectedResult).reason;
    }
    const inserted = insert.value.rows;
    if (inserted[0]) {
      // a request with no run row has no checkpoint either: the row is written before the first one
      if (!lock) throw new ThreadBusyError(`thread ${thread_id}: another process is executing it`);
      const lease = new RunLease(inserted[0].run_id, holder?.leaseMs);
      lease.claimed(1, sentAt);
      let renewal = () => {};
      try {
        // a taker can end the lock's connection once the lease ran out (its holder frozen)
        if (holder) await lock.client.query(`UPDATE opsgraph_runs SET lock_pid = pg_backend_pid() WHERE run_id = $1`, [inserted[0].run_id]);
        renewal = holder ? this.renewing(lease, holder) : renewal;
        const config = this.config({ run_id: inserted[0].run_id, thread_id, input, tier_order }, lease);
        return await this.executeLocked(inserted[0].run_id, thread_id, this.graphInput(input), config, { fresh: true, lock, lease });
      } finally {
        renewal();
        lease.end();
        await lock.release();
      }
    }
    await lock?.release(); // the request has a run: what to do with it is decided below, under the lock when it runs
    const existing = (await this.get({ requestId }))!;
    if (existing.flow !== this.flow) throw new InputError(`request ${requestId}: is a ${existing.flow} run, not ${this.flow}`);
    const config = this.config(existing);
    // the thread has no checkpoint: the run starts from its input (its process died before the first checkpoint)
    let fresh = false;
    let resuming = false;
    // Finished, paused, dead-lettered or rejected: that is the answer to this request (a
    // dead letter goes on with `opsgraph dlq retry`). A run that stopped part-way goes on.
    // A lease holder (an event consumer) also carries on a run a worker's sweep put back on the
    // queue (its holder froze past its lease): the event it handles is this run's.
    if (existing.status === "failed" || existing.status === "running" || (holder && existing.status === "queued")) {
      await this.ensureStateVersion(existing, config);
      const snapshot = await this.graph.getState(config);
      fresh = !hasCheckpoint(snapshot);
      // a running row whose graph has ended lost its last update (its process died just before it): it is written now, with no step run
      resuming = !fresh && (snapshot.next.length > 0 || existing.status !== "failed");
    }
    if (!resuming && !fresh) return { ...toRecord(existing), model_calls: 0, duration_ms: 0, cached: true };
    return this.execute(existing, resuming ? null : this.graphInput(existing.input), { fresh, ...(holder ? { holder } : {}) });
  }

  /**
   * Puts a run on the job queue: the run row and its job are written in one transaction,
   * and the request id is unique, so the same request submitted twice, at once or not, is
   * one run. Returns the existing run when there is one. Idle workers are woken (NOTIFY).
   */
  protected async enqueue(requestId: string, input: RunRow["input"], prepare?: () => Promise<void>): Promise<{ run_id: string; request_id: string; status: RunStatus; created: boolean }> {
    const queue = this.deps.queue;
    if (!queue) throw new Error("submit needs the job queue (openApp({ queue: true }))");
    const thread_id = threadIdFor(this.flow, requestId);
    await prepare?.();
    const client = await this.deps.pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<{ run_id: string }>(
        // any conflict, not only request_id's: the thread id is unique too, and two inserts of the same
        // request at once may meet first on its index, which would be an error under ON CONFLICT (request_id)
        `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input) VALUES ($1, $2, $3, $4, 'queued', $5)
         ON CONFLICT DO NOTHING RETURNING run_id`,
        [randomUUID(), requestId, thread_id, this.flow, JSON.stringify(input)],
      );
      if (rows[0]) {
        await queue.send(RUNS_QUEUE, { run_id: rows[0].run_id, flow: this.flow } satisfies RunJob, { db: bossDb(client) });
        await notifyRuns(client);
      }
      await client.query("COMMIT");
      if (rows[0]) return { run_id: rows[0].run_id, request_id: requestId, status: "queued", created: true };
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    } finally {
      client.release();
    }
    const existing = (await this.get({ requestId }))!;
    return { run_id: existing.run_id, request_id: requestId, status: existing.status, created: false };
  }

  /**
   * Executes a queued (or handed-back) run to its end or its next pause, from its last
   * checkpoint: a step that finished before a crash is not run again. With `control`, a
   * drain stops it at the next superstep; it is then `queued` again (the caller re-enqueues).
   */
  async runQueued(runId: string, opts: { workerId: string; control?: RunControl; claim: { leaseMs: number }; lease?: RunLease }): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    // a lease nobody renews (no worker: a test, a tool) cannot run out here
    const lease = opts.lease ?? new RunLease(row.run_id);
    // a queued run's tier order is fixed when it first executes (it is kept for its next claims)
    const tier_order = row.tier_order ?? (await this.tierOrderFor(row.run_id));
    const ordered = { ...row, tier_order };
    const lock = (await this.tryThreadLock(row.thread_id)) ?? (await this.takeFromStaleHolder(row));
    if (!lock) throw new ThreadBusyError(`thread ${row.thread_id}: another process is executing it`);
    try {
      // claim it (once: for the state's upgrade, if one is needed, or for the run)
      const claim = async () => {
        if (lease.fence === undefined) {
          await this.take(lock, row.run_id, lease, { set: `${BY_WORKER}, tier_order = COALESCE(tier_order, $4::jsonb)`, where: CLAIMABLE, values: [opts.workerId, opts.claim.leaseMs, tier_order && JSON.stringify(tier_order)] });
        }
        return { ...this.config(ordered, lease), ...(opts.control ? { control: opts.control } : {}) };
      };
      await this.ensureStateVersion(row, this.config(ordered), { hold: async (fn) => fn(await claim()) });
      const config = await claim();
      // a thread with a checkpoint goes on from it (to its end, or only its row's when the graph had finished)
      const started = hasCheckpoint(await this.graph.getState(config));
      return await this.executeLocked(row.run_id, row.thread_id, started ? null : this.graphInput(row.input), config, { lock, lease });
    } finally {
      lease.end();
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
  private async takeFromStaleHolder(row: Pick<RunRow, "run_id" | "thread_id">): Promise<ThreadLock | null> {
    const { rows } = await this.deps.pool.query<{ pid: number; ended: boolean }>(
      `SELECT l.pid, pg_terminate_backend(l.pid, 5000) AS ended
       FROM opsgraph_runs r JOIN pg_locks l ON l.pid = r.lock_pid
       WHERE r.run_id = $1 AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
         AND l.classid = hashtext('opsgraph:thread')::oid AND l.objid = hashtext($2)::oid
         AND (r.status = 'queued' OR (r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => r.lease_ms / 1000.0)))`,
      [row.run_id, row.thread_id],
    );
    if (!rows.some((r) => r.ended)) return null;
    this.deps.log?.warn({ run_id: row.run_id, thread_id: row.thread_id, backend: rows[0]!.pid }, "ended the connection of a worker that held the thread past its lease");
    return this.tryThreadLock(row.thread_id);
  }

  /**
   * Answers what a paused run waits for, and carries it on to its end: a human review
   * (`decision`), or an agent escalated after every tier failed (its `output`, or `decision:
   * "reject"`).
   */
  async resume(runId: string, answer: ResumeAnswer): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    this.assertOwn(row);
    if (row.status !== "awaiting_review") throw new InputError(`run ${runId}: is ${row.status}, not awaiting_review`);
    const config = this.config(row);
    const pending = (await this.graph.getState(config)).tasks.flatMap((t) => t.interrupts.map((i) => i.value as { kind?: string; agent?: string }))[0];
    await this.ensureStateVersion(row, config); // after reading what it waits for: an upgrade's checkpoint lists no interrupt
    let resume: unknown;
    if (pending?.kind === "escalation") {
      if (answer.output !== undefined) resume = { output: answer.output };
      else if (answer.decision === "reject") resume = { reject: true, note: answer.note };
      else throw new InputError(`run ${runId}: waits for a person to supply ${pending.agent}'s output: give --output FILE, or --decision reject`);
    } else {
      if (!answer.decision) throw new InputError(`run ${runId}: waits for a review: give --decision approve or reject`);
      resume = { decision: answer.decision, note: answer.note };
    }
    return this.execute(row, new Command({ resume }));
  }

  /**
   * Retries a dead-lettered step: the thread goes on from its last checkpoint with the
   * step's cursor reset to the first tier, so no step that finished runs again.
   */
  async retryDeadLetter(id: string): Promise<{ dead_letter: DeadLetter; run: RunRecord }> {
    const letter = await this.deadLetters.get(id);
    if (letter.status !== "waiting") throw new InputError(`dead letter ${id}: already ${letter.status}`);
    const row = letter.run_id ? await this.get({ runId: letter.run_id }) : undefined;
    if (!letter.run_id) throw new NotRetryableError(`dead letter ${id}: ${letter.agent} refused an event, which has no run to go on with; discard the letter`);
    if (!row) throw new InputError(`dead letter ${id}: its run ${letter.run_id} is gone`);
    if (row.flow !== this.flow) throw new InputError(`dead letter ${id}: belongs to a ${row.flow} run, not ${this.flow}`);
    if (!(stepNodes(letter.agent).retry in this.graph.nodes)) {
      // a worker's agent step (a supervisor's task): its task was marked failed and the run went on without it
      throw new NotRetryableError(`dead letter ${id}: ${letter.agent} failed inside a worker task of ${row.flow} run ${row.run_id}, which went on without it; run the flow again for it, or discard the letter`);
    }
    await this.ensureStateVersion(row, this.config(row));
    let settled: DeadLetter | undefined;
    const run = await this.execute(row, null, {
      // the step's cursor reset by this execution (fenced), under the lock
      before: async (config) => {
        await this.graph.updateState(config, { halted: null, steps: { [letter.agent]: freshCursor() } }, stepNodes(letter.agent).retry);
        settled = await this.deadLetters.settle(id, "retried");
      },
    });
    return { dead_letter: settled!, run };
  }

  /**
   * Holds the thread's advisory lock for the duration of `fn`: one execution per thread, across
   * processes. `fn` may let go of it early with its last statement (ThreadLock.releaseWith).
   */
  protected async withThreadLock<T>(thread_id: string, fn: (lock: ThreadLock) => Promise<T>): Promise<T> {
    const lock = await this.tryThreadLock(thread_id);
    if (!lock) throw new ThreadBusyError(`thread ${thread_id}: another process is executing it`);
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  }

  /** The thread's lock on a connection of the pool, or null when another session holds it. */
  protected async tryThreadLock(thread_id: string): Promise<ThreadLock | null> {
    const client = await this.deps.pool.connect();
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
   * Runs the graph here, holding the thread's lock: the run is taken (`running`, its fence
   * raised), then `before` writes what the execution starts with, then the graph runs.
   */
  private async execute(run: RunRef, input: unknown, opts: { fresh?: boolean; before?: (config: RunConfig) => Promise<void>; holder?: LeaseHolder } = {}): Promise<RunRecord> {
    const { holder } = opts;
    // held by a lease: a holder frozen past it does not keep the thread (its connection is ended)
    const lock = (await this.tryThreadLock(run.thread_id)) ?? (holder ? await this.takeFromStaleHolder(run) : null);
    if (!lock) throw new ThreadBusyError(`thread ${run.thread_id}: another process is executing it`);
    try {
      const lease = await this.take(lock, run.run_id, new RunLease(run.run_id, holder?.leaseMs), holder ? { set: BY_WORKER, values: [holder.workerId, holder.leaseMs] } : { set: IN_PROCESS });
      const renewal = holder ? this.renewing(lease, holder) : () => {};
      try {
        const config = this.config(run, lease);
        await opts.before?.(config);
        return await this.executeLocked(run.run_id, run.thread_id, input, config, { fresh: opts.fresh, lock, lease });
      } finally {
        renewal();
        lease.end();
      }
    } finally {
      await lock.release();
    }
  }

  /**
   * Renews a lease its execution holds by itself (an event consumer's stage run), every third
   * of it, while the run is still this execution's; a run taken by another loses it. A frozen
   * process renews nothing: its lease runs out, and another worker may take the run.
   */
  private renewing(lease: RunLease, holder: LeaseHolder): () => void {
    const timer = setInterval(() => {
      const sentAt = lease.now();
      this.deps.pool
        .query(`UPDATE opsgraph_runs SET heartbeat_at = now() WHERE run_id = $1 AND fence = $2 AND status = 'running'`, [lease.runId, lease.fence])
        .then((r) => (r.rowCount ? lease.renewed(sentAt) : lease.lose("its run was taken by another worker")))
        .catch(() => {}); // a renewal that fails lets the lease run out
    }, Math.max(100, holder.leaseMs / 3));
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /**
   * `fresh`: the thread has no checkpoint yet (nothing to read before the run). `lock`: let go of
   * with the run row's last update. `lease`: the execution's hold on the run (`config` carries
   * it); lost, the execution ends with FencedError and writes nothing more.
   */
  private async executeLocked(run_id: string, thread_id: string, input: unknown, config: RunConfig, opts: { fresh?: boolean; lock: ThreadLock; lease: RunLease }): Promise<RunRecord> {
    const t0 = Date.now();
    const observers = this.deps.observers ?? [];
    const callbacks = observers.flatMap((o) => o.callbacks?.({ flow: this.flow, run_id, thread_id }) ?? []);
    if (callbacks.length) config = { ...config, callbacks } as RunConfig;
    const listeners = observers.flatMap((o) => (o.tasks ? [o.tasks({ flow: this.flow, run_id, thread_id })] : []));
    const seen = opts.fresh ? 0 : (((await this.graph.getState(config)).values as Partial<S>).attempts?.length ?? 0);
    let status: RunStatus;
    let error: string | null = null;
    let ended: S | undefined;
    try {
      // the values the run ended with; a pause shows as `__interrupt__`
      ended = (listeners.length ? await this.invokeTelling(input, config, listeners) : await this.graph.invoke(input, config)) as S;
      const halted = ended.halted;
      if ((ended as { __interrupt__?: unknown[] }).__interrupt__?.length) status = "awaiting_review";
      else if (halted?.reason === "dead_lettered") {
        status = "dead_lettered";
        error = `${halted.agent}: every tier failed; see opsgraph dlq list`;
      } else if (halted?.reason === "rejected") {
        status = "failed";
        error = `${halted.agent}: rejected by a person at the escalation${halted.note ? `: ${halted.note}` : ""}`;
      } else status = "completed";
    } catch (e) {
      // its lease lost (here, or a write refused): the run is another execution's, nothing more is written
      if (opts.lease.lost || isFenced(e)) throw opts.lease.lost ?? e;
      if (isGraphDrained(e)) status = "queued"; // handed back at a checkpoint: another worker goes on
      else if (isDatabaseUnavailable(e)) throw e; // not the run's fault: its lease runs out and it is picked up again
      else if ((e as Error).name === "GraphRecursionError") {
        // a loop past the flow's own worst case (a replaced agent or router that never settles): halted, with a dead letter to look at
        status = "dead_lettered";
        error = `runaway: the run passed its flow's limit of ${config.recursionLimit} steps without ending; see opsgraph dlq list`;
        await (config.context.deadLetters ?? this.deadLetters).put({ run_id, thread_id, flow: this.flow, node: "(graph)", agent: "(graph)", input_ref: null, errors: [] });
      } else {
        status = "failed";
        error = String((e as Error).message ?? e).split("\n")[0]!.slice(0, 500);
      }
    }
    // after a failure or a drain the state is read again: it is whatever the last checkpoint holds
    const state = ended ?? ((await this.graph.getState(config)).values as S);
    const attempts = state.attempts ?? [];
    const fresh = attempts.slice(seen);
    const calls = countModelCalls(fresh);
    const log = this.deps.log?.child({ run_id, thread_id, flow: this.flow });
    for (const a of fresh.filter((a) => a.outcome !== "ok")) {
      log?.warn({ node: a.agent, agent: a.agent, tier: a.tier, attempt: a.attempt, outcome: a.outcome, error_class: a.error_class, wait_ms: a.wait_ms, error: a.error }, "agent attempt failed");
    }
    const duration_ms = Date.now() - t0;
    // only while the run is this execution's (its fence, $9)
    const endedSql = `UPDATE opsgraph_runs SET status = $2, model_calls = model_calls + $3, tiers_used = $4, duration_ms = duration_ms + $5,
         result = $6, error = $7, tokens = $8, tiers_used_by_agent = $10, worker_id = NULL, heartbeat_at = NULL, lock_pid = NULL, lease_ms = NULL, updated_at = now()
       WHERE run_id = $1 AND fence = $9 RETURNING *`;
    const endedValues = [
      run_id,
      status,
      calls,
      JSON.stringify(tiersUsed(attempts)),
      duration_ms,
      status === "completed" || status === "awaiting_review" ? JSON.stringify(this.result(state)) : null,
      error,
      JSON.stringify(tokenTotals(attempts)),
      opts.lease.fence,
      JSON.stringify(tiersUsedByAgent(attempts)),
    ];
    let rows: RunRow[];
    try {
      rows = await opts.lock.releaseWith<RunRow>(endedSql, endedValues);
    } catch (e) {
      // the lock's connection died during the run (a PostgreSQL restart): its lock went with it; the row is written on another
      if (!isDatabaseUnavailable(e)) throw e;
      rows = (await this.deps.pool.query<RunRow>(endedSql, endedValues)).rows;
    }
    if (!rows[0]) {
      const fenced = await fencedError(this.deps.pool, { run_id }, opts.lease.fence!);
      opts.lease.lose(fenced.message);
      throw fenced;
    }
    log?.[status === "failed" ? "error" : "debug"]({ status, model_calls: calls, duration_ms, error }, "run ended");
    for (const o of observers) {
      try {
        await o.runEnded?.({ flow: this.flow, run_id, thread_id, status, started_at: new Date(t0), duration_ms, attempts: fresh, error });
      } catch (e) {
        log?.warn({ err: String(e) }, "a run observer failed");
      }
    }
    return { ...toRecord(rows[0]!), model_calls: calls, duration_ms, run_id, thread_id, attempts };
  }

  /**
   * `graph.invoke`, telling `listeners` of each task as it starts and ends: the same run
   * streamed in `values` and `tasks` modes, its result built as invoke builds it (the last
   * values, with `__interrupt__` when it paused).
   */
  private async invokeTelling(input: unknown, config: RunConfig, listeners: ((e: TaskEvent) => void)[]): Promise<unknown> {
    let latest: Record<string, unknown> | undefined;
    const interrupts: unknown[] = [];
    const stream = (await this.graph.stream(input, { ...config, streamMode: ["values", "tasks"] })) as AsyncIterable<[string, Record<string, unknown>]>;
    for await (const [mode, chunk] of stream) {
      if (mode === "values") {
        if (Array.isArray(chunk["__interrupt__"])) interrupts.push(...(chunk["__interrupt__"] as unknown[]));
        else latest = chunk;
        continue;
      }
      const at = performance.timeOrigin + performance.now();
      const end = "result" in chunk || "error" in chunk;
      const e: TaskEvent = { id: String(chunk["id"]), name: String(chunk["name"]), phase: end ? "end" : "start", at };
      if (end) {
        // { channel: value }, or { channel: { $writes: [...] } } when the task wrote a channel twice
        const result = (chunk["result"] ?? {}) as Record<string, unknown>;
        e.writes = Object.entries(result).flatMap(([channel, v]) =>
          v && typeof v === "object" && Array.isArray((v as { $writes?: unknown[] }).$writes) ? (v as { $writes: unknown[] }).$writes.map((w): [string, unknown] => [channel, w]) : [[channel, v] as [string, unknown]],
        );
        if (chunk["error"]) e.error = String((chunk["error"] as { name?: string })?.name ?? chunk["error"]);
        if (Array.isArray(chunk["interrupts"]) && (chunk["interrupts"] as unknown[]).length) e.error ??= "interrupted";
      }
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // an observer never fails a run
        }
      }
    }
    return interrupts.length ? { ...latest, __interrupt__: interrupts } : latest;
  }

  async get(by: { runId?: string; requestId?: string }): Promise<RunRow | undefined> {
    const { rows } = by.runId
      ? await this.deps.pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE run_id::text = $1`, [by.runId])
      : await this.deps.pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE request_id = $1`, [by.requestId]);
    return rows[0];
  }

  async show(runId: string): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    this.assertOwn(row);
    const state = (await this.graph.getState(this.config(row))).values as Partial<S>;
    return { ...toRecord(row), attempts: state.attempts ?? [] };
  }

  /**
   * Refuses a run of another flow: this runner's graph, context and state upgrader would run on
   * that flow's thread (runtime/flow-registry.ts finds a run's own runner).
   */
  protected assertOwn(row: RunRow): void {
    if (row.flow !== this.flow) throw new InputError(`run ${row.run_id}: is a ${row.flow} run, not ${this.flow}; its own runner must handle it`);
  }

  /** Runs of every flow (or of `flow`, and of its stages `flow.*`), newest first. */
  async list(status?: RunStatus, limit = 100, flow?: string): Promise<RunRecord[]> {
    const { rows } = await this.deps.pool.query<RunRow>(
      `SELECT * FROM opsgraph_runs WHERE ($1::text IS NULL OR status = $1) AND ($3::text IS NULL OR flow = $3 OR flow LIKE $3 || '.%')
       ORDER BY created_at DESC LIMIT $2`,
      [status ?? null, limit, flow ?? null],
    );
    return rows.map((r) => toRecord(r, false));
  }

  /** Size in bytes of the newest checkpoint of a thread, with the blobs it references. */
  async checkpointBytes(threadId: string): Promise<number> {
    const { rows } = await this.deps.pool.query<{ bytes: string }>(
      `WITH cp AS (
         SELECT checkpoint, checkpoint_ns FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1)
       SELECT (SELECT pg_column_size(checkpoint) FROM cp) +
              COALESCE((SELECT sum(pg_column_size(b.blob)) FROM checkpoint_blobs b, cp, jsonb_each_text(cp.checkpoint->'channel_versions') v
                        WHERE b.thread_id = $1 AND b.checkpoint_ns = '' AND b.channel = v.key AND b.version = v.value), 0) AS bytes`,
      [threadId],
    );
    return Number(rows[0]?.bytes ?? 0);
  }
}

/** A lost or refused database connection (a restart, a dropped link), as opposed to a run's own failure. */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: unknown };
  // 57P0x: shutdown; 08xxx: connection exceptions; 53300: too many connections
  if (typeof err?.code === "string" && /^(57P0[1-3]|08\d{3}|53300|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(err.code)) return true;
  if (/Connection terminated|connection timeout|Client has encountered a connection error|Client was closed and is not queryable|terminating connection|too many clients/i.test(String(err?.message ?? ""))) return true;
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
