import type pg from "pg";
import { sourcingStageRecursionLimit } from "../graph/limits.js";
import type { LimitInputs } from "../../../nodes/budget.js";
import { buildStageGraph, SOURCING_STATE_VERSION, type SourcingEvent, type SourcingStage, type SourcingState } from "../graph/index.js";
import { createCheckpointer, createStore } from "../../../runtime/db/checkpointer.js";
import type { EventBus, EventConsumer, Handled, Subscriber } from "../../../runtime/queue/event-bus.js";
import type { DeadLetter } from "../../../runtime/queue/dead-letters.js";
import {
  FlowRunner,
  type FlowGraph,
  type LeaseHolder,
  type ResumeAnswer,
  type RunnerDeps,
  type RunRecord,
  type RunRow,
} from "../../../runtime/runs/flow-runner.js";
import type { FlowStateVersions } from "../../../runtime/db/state-version.js";

/** The flow name of a stage's runs: `sourcing.<stage>`; its threads are `sourcing.<stage>:<event id>`. */
export const stageFlow = (stage: string) => `sourcing.${stage}`;

/**
 * One sourcing stage as a subscriber: each event it handles is a durable run of the stage's
 * graph in a thread of its own, keyed by the event id. The same event again (a redelivery, a
 * crash before the commit) answers from the finished thread: no model call, and the same
 * events to publish, which the bus keeps once.
 */
export class SourcingStageRunner extends FlowRunner<SourcingState> implements Subscriber<SourcingEvent> {
  readonly flow: string;
  readonly name: string;
  readonly subscribes: SourcingStage["subscribes"];
  protected readonly graph: FlowGraph;
  protected readonly versions: FlowStateVersions;
  readonly agentNames: readonly string[];
  protected recursionLimit(inputs: LimitInputs) {
    return sourcingStageRecursionLimit(inputs);
  }

  constructor(
    deps: RunnerDeps,
    private readonly stage: SourcingStage,
    /** The bus it consumes from (none: the runner only runs, e.g. without the queue). */
    private readonly bus?: EventBus<SourcingEvent>,
  ) {
    super(deps, createCheckpointer(deps.pool), createStore(deps.pool));
    this.flow = stageFlow(stage.name);
    this.name = stage.name;
    this.subscribes = stage.subscribes;
    this.agentNames = [stage.name];
    this.versions = { current: SOURCING_STATE_VERSION, oldest: SOURCING_STATE_VERSION, upgrade: () => ({}), asNode: stage.name };
    // the compiled graph's own type, generic in its nodes, narrowed to what the runner calls (FlowGraph): LangGraph's CompiledStateGraph is not assignable to a structural subset of itself
    this.graph = buildStageGraph(stage).compile({ checkpointer: this.checkpointer }) as unknown as FlowGraph;
  }

  /** Its consumer, for a worker to poll (runtime/queue/worker.ts picks it up from the runners). */
  consumer(o: { workerId: string; leaseMs: number }): EventConsumer | undefined {
    return this.bus?.consumer(this, o);
  }

  protected flowContext() {
    return {};
  }

  // `event as never` below (4 casts): this runner's stage takes events of its one subscribed
  // type, and the bus hands it only those (checked on publish); the stage's type is erased to
  // any stage here, so TypeScript cannot see that the event is of the stage's own type
  protected graphInput(input: RunRow["input"]) {
    return { ...this.stage.input(input["event"] as SourcingEvent as never), state_version: SOURCING_STATE_VERSION };
  }

  protected result(s: SourcingState) {
    return { profile: s.profile, fit: s.fit, draft: s.draft, produced_by: s.produced_by ?? {} };
  }

  async handle(event: SourcingEvent, holder?: LeaseHolder): Promise<Handled> {
    if (!this.stage.accepts(event as never)) return { outcome: "ignored" };
    return this.handled(event, await this.start(event.id, { event }, undefined, holder));
  }

  private handled(event: SourcingEvent, run: RunRecord): Handled {
    if (run.status === "dead_lettered") return { outcome: "dead_lettered", run_id: run.run_id };
    if (run.status !== "completed") return { outcome: "failed", run_id: run.run_id };
    const state = { ...this.stage.input(event as never), ...(run.result as Partial<SourcingState>) } as SourcingState;
    const publish = this.stage.emits(state, event as never);
    return { outcome: "handled", run_id: run.run_id, publish, commit: (tx) => this.keepDrafts(tx, publish) };
  }

  /**
   * A stage's run stopped at its event is consumed, publishing nothing; carried on to its end
   * later, it publishes then what it would have, so the company's chain goes on. Needs the bus.
   */
  override async resume(runId: string, answer: ResumeAnswer): Promise<RunRecord> {
    const bus = this.requireBus();
    return this.publishFinished(bus, await super.resume(runId, answer), "resume");
  }

  override async retryDeadLetter(id: string): Promise<{ dead_letter: DeadLetter; run: RunRecord }> {
    const bus = this.requireBus();
    const retried = await super.retryDeadLetter(id);
    return { ...retried, run: await this.publishFinished(bus, retried.run, "dlq-retry") };
  }

  private requireBus(): EventBus<SourcingEvent> {
    if (!this.bus) throw new Error(`${this.flow}: carrying a stage's run on needs the event bus, to publish its next event (openApp({ queue: true }))`);
    return this.bus;
  }

  private async publishFinished(bus: EventBus<SourcingEvent>, run: RunRecord, by: string): Promise<RunRecord> {
    if (run.status !== "completed") return run;
    const event = (await this.get({ runId: run.run_id }))!.input["event"] as SourcingEvent;
    await bus.settleLater(event, this.name, this.handled(event, run), by);
    return run;
  }

  /** Outreach drafts wait for a person in their own table: never sent before `opsgraph sourcing approve`. */
  private async keepDrafts(tx: pg.PoolClient, events: Handled["publish"] = []) {
    for (const e of events) {
      if (e.type !== "outreach.ready.v1") continue;
      const p = e.payload as SourcingEvent<"outreach.ready.v1">["payload"];
      await tx.query(
        `INSERT INTO opsgraph_outreach_drafts (id, event_id, company, subject, body, recipient) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
        [p.draft_id, e.id, e.correlation_id, p.draft.subject, p.draft.body, p.draft.to],
      );
    }
  }
}
