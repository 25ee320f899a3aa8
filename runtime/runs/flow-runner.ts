// Over 300 lines: FlowRunner is one lifecycle (start, enqueue, claim, resume, retry, execute) whose steps share the lock, the lease and the config; its table, lock and events live in run-store.ts, thread-lock.ts, run-events.ts.
import { randomUUID } from "node:crypto";
import { Command, isGraphDrained, type RunControl } from "@langchain/langgraph";
import type { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { PostgresStore } from "@langchain/langgraph-checkpoint-postgres/store";
import type pg from "pg";
import type PgBoss from "pg-boss";
import type { ModelTier } from "../../nodes/agent.js";
import {
  countModelCalls,
  freshCursor,
  mostTiers,
  stepNodes,
  tiersOf,
  type AgentStepContext,
  type AgentStepState,
  type ExhaustedPolicy,
} from "../../nodes/agent-step.js";
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
import { ensureStateVersion, type FlowStateVersions } from "../db/state-version.js";
import { readTierStats, tierOrdersOf, type TierOrders } from "../models/tier-stats.js";
import { invokeTelling, observing, tellRunEnded, type RunObserver } from "./run-events.js";
import {
  BY_WORKER,
  CLAIMABLE,
  checkpointBytes,
  getRun,
  IN_PROCESS,
  insertQueued,
  insertRunning,
  isDatabaseUnavailable,
  listRuns,
  renewHeartbeat,
  runEndedUpdate,
  setLockPid,
  takeRun,
  toRecord,
} from "./run-store.js";
import {
  NotRetryableError,
  type FlowGraph,
  type LeaseHolder,
  type ResumeAnswer,
  type RunConfig,
  type RunRecord,
  type RunRef,
  type RunRow,
  type RunStatus,
} from "./run-types.js";
import { takeFromStaleHolder, ThreadBusyError, tryThreadLock, withThreadLock, type ThreadLock } from "./thread-lock.js";

export {
  NotRetryableError,
  type FlowGraph,
  type LeaseHolder,
  type ResumeAnswer,
  type RunConfig,
  type RunRecord,
  type RunRow,
  type RunStatus,
} from "./run-types.js";
export { ThreadBusyError, ThreadLock } from "./thread-lock.js";
export type { RunEnded, RunObserver, TaskEvent } from "./run-events.js";
export { isDatabaseUnavailable } from "./run-store.js";

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
  /** Prices of the model tiers, for the runs' cost cap. Default: runtime/models/prices.ts's table. */
  prices?: PriceTable;
  /**
   * OPSGRAPH_ADAPTIVE_TIERS: each run, when it starts, orders each agent's tiers by the attempt
   * ledger's stats (runtime/models/tier-stats.ts, one query) and keeps that order in its row. Default: off.
   */
  adaptiveTiers?: boolean;
}

/** Whether `e` (or its cause) is a FencedError: a write refused, or a lease lost. */
export const isFenced = (e: unknown): boolean =>
  e instanceof FencedError ||
  (e as Error)?.name === "FencedError" ||
  ((e as Error)?.cause !== undefined && (e as Error).cause !== e && isFenced((e as Error).cause));

export const threadIdFor = (flow: string, requestId: string) => `${flow}:${requestId}`;

/** Whether a thread's state snapshot comes from a checkpoint (a thread with none answers an empty one). */
const hasCheckpoint = (snapshot: { config?: { configurable?: { checkpoint_id?: string } } }) => snapshot.config?.configurable?.checkpoint_id !== undefined;

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
   * written), upgrades an older one in place (runtime/db/state-version.ts), as an execution of its
   * own: on the thread's lock, its run taken (fenced). `hold`: the caller holds the lock, and
   * takes the run for the upgrade when one is needed.
   */
  protected ensureStateVersion(run: RunRef, config: RunConfig, opts: { hold?: <T>(fn: (config: RunConfig) => Promise<T>) => Promise<T> } = {}) {
    const hold =
      opts.hold ??
      (<T>(fn: (config: RunConfig) => Promise<T>) =>
        withThreadLock(this.deps.pool, run.thread_id, async (lock) => fn(this.config(run, await takeRun(lock.client, run.run_id, new RunLease(run.run_id))))));
    return ensureStateVersion({ runId: run.run_id, config, graph: this.graph, checkpointer: this.checkpointer, versions: this.versions, lock: hold });
  }

  /**
   * The order each agent of a new run tries its tiers in, from the attempt ledger's stats (one
   * query); null when adaptive tier order is off.
   */
  protected async tierOrderFor(run_id: string): Promise<TierOrders | null> {
    if (!this.deps.adaptiveTiers) return null;
    const stats = await readTierStats(this.deps.pool, this.agentNames);
    return tierOrdersOf(this.agentNames, (agent) => tiersOf(this.deps, agent).map((t) => t.id), stats, run_id);
  }

  /**
   * A run's config: to read its thread, or, with `lease`, for an execution: its writes carry the
   * lease's fencing token, its model calls check the lease first, and losing it aborts the run.
   */
  protected config(run: RunRef & { tier_order?: TierOrders | null }, lease?: RunLease): RunConfig {
    const { onExhausted, agents, clock, backoff, prices } = this.deps;
    const fence = lease?.fence;
    const context: RunConfig["context"] = {
      ...this.deps.budget,
      costOf: (a) => costOf(a.tier, a.tokens, prices),
      tiers: lease ? this.deps.tiers.map((t) => lease.guard(t)) : this.deps.tiers,
      ...(this.deps.agentTiers
        ? {
            agentTiers: lease
              ? Object.fromEntries(Object.entries(this.deps.agentTiers).map(([agent, tiers]) => [agent, tiers.map((t) => lease.guard(t))]))
              : this.deps.agentTiers,
          }
        : {}),
      deadLetters: fence !== undefined ? this.deadLetters.fenced(fence) : this.deadLetters,
      // the nodes get the Store itself, not through the graph (see AgentStepContext.store)
      store: this.store,
      runId: run.run_id,
      flow: this.flow,
      ...(clock ? { clock } : {}),
      ...(backoff ? { backoff } : {}),
      ...(agents ? { agents } : {}),
      ...(onExhausted ? { policies: Object.fromEntries(this.agentNames.map((a) => [a, onExhausted])) } : {}),
      ...(this.deps.adaptiveTiers && run.tier_order
        ? { tierOrder: Object.fromEntries(Object.entries(run.tier_order).map(([agent, o]) => [agent, o.order])) }
        : {}),
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
      insertRunning(this.deps.pool, {
        run_id: new_run_id,
        request_id: requestId,
        thread_id,
        flow: this.flow,
        input,
        tier_order,
        ...(holder ? { holder } : {}),
      }),
      prepare?.(),
      tryThreadLock(this.deps.pool, thread_id),
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
        if (holder) await setLockPid(lock.client, inserted[0].run_id);
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
  protected async enqueue(
    requestId: string,
    input: RunRow["input"],
    prepare?: () => Promise<void>,
  ): Promise<{ run_id: string; request_id: string; status: RunStatus; created: boolean }> {
    const queue = this.deps.queue;
    if (!queue) throw new Error("submit needs the job queue (openApp({ queue: true }))");
    const thread_id = threadIdFor(this.flow, requestId);
    await prepare?.();
    const client = await this.deps.pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await insertQueued(client, { run_id: randomUUID(), request_id: requestId, thread_id, flow: this.flow, input });
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
    const lock = (await tryThreadLock(this.deps.pool, row.thread_id)) ?? (await takeFromStaleHolder(this.deps.pool, row, this.deps.log));
    if (!lock) throw new ThreadBusyError(`thread ${row.thread_id}: another process is executing it`);
    try {
      // claim it (once: for the state's upgrade, if one is needed, or for the run)
      const claim = async () => {
        if (lease.fence === undefined) {
          await takeRun(lock.client, row.run_id, lease, {
            set: `${BY_WORKER}, tier_order = COALESCE(tier_order, $4::jsonb)`,
            where: CLAIMABLE,
            values: [opts.workerId, opts.claim.leaseMs, tier_order && JSON.stringify(tier_order)],
          });
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
      throw new NotRetryableError(
        `dead letter ${id}: ${letter.agent} failed inside a worker task of ${row.flow} run ${row.run_id}, which went on without it; run the flow again for it, or discard the letter`,
      );
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
   * Runs the graph here, holding the thread's lock: the run is taken (`running`, its fence
   * raised), then `before` writes what the execution starts with, then the graph runs.
   */
  private async execute(
    run: RunRef,
    input: unknown,
    opts: { fresh?: boolean; before?: (config: RunConfig) => Promise<void>; holder?: LeaseHolder } = {},
  ): Promise<RunRecord> {
    const { holder } = opts;
    // held by a lease: a holder frozen past it does not keep the thread (its connection is ended)
    const lock = (await tryThreadLock(this.deps.pool, run.thread_id)) ?? (holder ? await takeFromStaleHolder(this.deps.pool, run, this.deps.log) : null);
    if (!lock) throw new ThreadBusyError(`thread ${run.thread_id}: another process is executing it`);
    try {
      const lease = await takeRun(
        lock.client,
        run.run_id,
        new RunLease(run.run_id, holder?.leaseMs),
        holder ? { set: BY_WORKER, values: [holder.workerId, holder.leaseMs] } : { set: IN_PROCESS },
      );
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
    const timer = setInterval(
      () => {
        const sentAt = lease.now();
        renewHeartbeat(this.deps.pool, lease)
          .then((r) => (r.rowCount ? lease.renewed(sentAt) : lease.lose("its run was taken by another worker")))
          .catch(() => {}); // a renewal that fails lets the lease run out
      },
      Math.max(100, holder.leaseMs / 3),
    );
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /**
   * `fresh`: the thread has no checkpoint yet (nothing to read before the run). `lock`: let go of
   * with the run row's last update. `lease`: the execution's hold on the run (`config` carries
   * it); lost, the execution ends with FencedError and writes nothing more.
   */
  private async executeLocked(
    run_id: string,
    thread_id: string,
    input: unknown,
    config: RunConfig,
    opts: { fresh?: boolean; lock: ThreadLock; lease: RunLease },
  ): Promise<RunRecord> {
    const t0 = Date.now();
    const observers = this.deps.observers ?? [];
    const { callbacks, listeners } = observing(observers, { flow: this.flow, run_id, thread_id });
    if (callbacks.length) config = { ...config, callbacks } as RunConfig;
    const seen = opts.fresh ? 0 : (((await this.graph.getState(config)).values as Partial<S>).attempts?.length ?? 0);
    let status: RunStatus;
    let error: string | null = null;
    let ended: S | undefined;
    try {
      // the values the run ended with; a pause shows as `__interrupt__`
      ended = (listeners.length ? await invokeTelling(this.graph, input, config, listeners) : await this.graph.invoke(input, config)) as S;
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
      if (isGraphDrained(e))
        status = "queued"; // handed back at a checkpoint: another worker goes on
      else if (isDatabaseUnavailable(e))
        throw e; // not the run's fault: its lease runs out and it is picked up again
      else if ((e as Error).name === "GraphRecursionError") {
        // a loop past the flow's own worst case (a replaced agent or router that never settles): halted, with a dead letter to look at
        status = "dead_lettered";
        error = `runaway: the run passed its flow's limit of ${config.recursionLimit} steps without ending; see opsgraph dlq list`;
        await (config.context.deadLetters ?? this.deadLetters).put({
          run_id,
          thread_id,
          flow: this.flow,
          node: "(graph)",
          agent: "(graph)",
          input_ref: null,
          errors: [],
        });
      } else {
        status = "failed";
        error = String((e as Error).message ?? e)
          .split("\n")[0]!
          .slice(0, 500);
      }
    }
    // after a failure or a drain the state is read again: it is whatever the last checkpoint holds
    const state = ended ?? ((await this.graph.getState(config)).values as S);
    const attempts = state.attempts ?? [];
    const fresh = attempts.slice(seen);
    const calls = countModelCalls(fresh);
    const log = this.deps.log?.child({ run_id, thread_id, flow: this.flow });
    for (const a of fresh.filter((a) => a.outcome !== "ok")) {
      log?.warn(
        { node: a.agent, agent: a.agent, tier: a.tier, attempt: a.attempt, outcome: a.outcome, error_class: a.error_class, wait_ms: a.wait_ms, error: a.error },
        "agent attempt failed",
      );
    }
    const duration_ms = Date.now() - t0;
    const { sql: endedSql, values: endedValues } = runEndedUpdate({
      run_id,
      status,
      calls,
      attempts,
      duration_ms,
      result: status === "completed" || status === "awaiting_review" ? this.result(state) : undefined,
      error,
      fence: opts.lease.fence,
    });
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
    await tellRunEnded(observers, { flow: this.flow, run_id, thread_id, status, started_at: new Date(t0), duration_ms, attempts: fresh, error }, log);
    return { ...toRecord(rows[0]!), model_calls: calls, duration_ms, run_id, thread_id, attempts };
  }

  get(by: { runId?: string; requestId?: string }): Promise<RunRow | undefined> {
    return getRun(this.deps.pool, by);
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
   * that flow's thread (runtime/runs/flow-registry.ts finds a run's own runner).
   */
  protected assertOwn(row: RunRow): void {
    if (row.flow !== this.flow) throw new InputError(`run ${row.run_id}: is a ${row.flow} run, not ${this.flow}; its own runner must handle it`);
  }

  /** Runs of every flow (or of `flow`, and of its stages `flow.*`), newest first. */
  list(status?: RunStatus, limit = 100, flow?: string): Promise<RunRecord[]> {
    return listRuns(this.deps.pool, status, limit, flow);
  }

  /** Size in bytes of the newest checkpoint of a thread, with the blobs it references. */
  checkpointBytes(threadId: string): Promise<number> {
    return checkpointBytes(this.deps.pool, threadId);
  }
}
