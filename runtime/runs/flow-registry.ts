import type pg from "pg";
import { DeadLetterQueue } from "../queue/dead-letters.js";
import { InputError } from "../errors.js";
import type { FlowRunner, RunRecord, RunRow, RunStatus } from "./flow-runner.js";

/**
 * Every flow's runner, by flow name: what a run or a dead letter is handed to, so that a run
 * only ever goes on on its own flow's graph (its thread, its context, its state upgrader).
 */
export class FlowRegistry {
  private readonly byFlow: Map<string, FlowRunner>;
  /** One table for every flow: listing, showing and discarding need no runner. */
  readonly deadLetters: DeadLetterQueue;

  constructor(
    private readonly pool: pg.Pool,
    runners: readonly FlowRunner[],
  ) {
    this.byFlow = new Map(runners.map((r) => [r.flow, r]));
    this.deadLetters = new DeadLetterQueue(pool);
  }

  /** The flows with a runner (sourcing's as its stages, `sourcing.<stage>`). */
  get flows(): string[] {
    return [...this.byFlow.keys()];
  }

  runnerFor(flow: string): FlowRunner {
    const runner = this.byFlow.get(flow);
    if (!runner) throw new InputError(`unknown flow "${flow}" (known: ${this.flows.join(", ")})`);
    return runner;
  }

  /**
   * Checks a `--flow` filter: a flow with a runner, or a family of them (`sourcing` for its
   * stages). Returns it.
   */
  checkFlowFilter(flow: string): string {
    if (this.byFlow.has(flow) || this.flows.some((f) => f.startsWith(`${flow}.`))) return flow;
    const families = [...new Set(this.flows.filter((f) => f.includes(".")).map((f) => f.split(".")[0]!))];
    throw new InputError(`--flow: unknown flow "${flow}" (known: ${[...this.flows, ...families].join(", ")})`);
  }

  /** A run's row and its own flow's runner. */
  async forRun(runId: string): Promise<{ row: RunRow; runner: FlowRunner }> {
    const { rows } = await this.pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE run_id::text = $1`, [runId]);
    const row = rows[0];
    if (!row) throw new InputError(`run ${runId}: no such run`);
    return { row, runner: this.runnerFor(row.flow) };
  }

  resume(runId: string, answer: Parameters<FlowRunner["resume"]>[1]): Promise<RunRecord> {
    return this.forRun(runId).then(({ runner }) => runner.resume(runId, answer));
  }

  show(runId: string): Promise<RunRecord> {
    return this.forRun(runId).then(({ runner }) => runner.show(runId));
  }

  /** Runs of every flow, or of `flow` (and its stages); newest first. */
  async list(opts: { status?: RunStatus; flow?: string; limit?: number } = {}): Promise<RunRecord[]> {
    const any = this.byFlow.values().next().value;
    if (!any) return [];
    return any.list(opts.status, opts.limit ?? 100, opts.flow === undefined ? undefined : this.checkFlowFilter(opts.flow));
  }

  /** Retries a dead letter on its run's own flow (NotRetryableError for one with no run to go on with). */
  async retryDeadLetter(id: string): Promise<Awaited<ReturnType<FlowRunner["retryDeadLetter"]>>> {
    const letter = await this.deadLetters.get(id);
    if (letter.status !== "waiting") throw new InputError(`dead letter ${id}: already ${letter.status}`);
    const { rows } = await this.pool.query<{ flow: string }>(`SELECT flow FROM opsgraph_runs WHERE run_id::text = $1`, [letter.run_id ?? ""]);
    // no run (a refused event's letter, or its run is gone): any runner refuses it with the reason
    return (rows[0] ? this.runnerFor(rows[0].flow) : this.byFlow.values().next().value!).retryDeadLetter(id);
  }
}
