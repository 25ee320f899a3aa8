import path from "node:path";
import type { ModelTier } from "../nodes/agent.js";
import { chainText, tiersOf } from "../nodes/agent-step.js";
import { checkAgentTiers, type Config } from "../runtime/config.js";
import { createLogger, type Logger } from "../runtime/observability/log.js";
import { createTierSet, type TierSet } from "../runtime/models/models.js";
import { openDatabase, type Database } from "../runtime/db/postgres.js";
import type PgBoss from "pg-boss";
import { openQueue } from "../runtime/queue/queue.js";
import type { FlowRunner } from "../runtime/runs/flow-runner.js";
import { FLOW_AGENTS, openFlows } from "../flows/index.js";
import type { SchedulableFlow } from "../runtime/queue/schedules.js";
import { FlowRegistry } from "../runtime/runs/flow-registry.js";
import type { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import type { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import type { Sourcing } from "../flows/sourcing/run/flow.js";
import { createTracing } from "../runtime/observability/tracing.js";
import { AlertSignals } from "../runtime/observability/alert-signals.js";
import { createMetrics, type Metrics } from "../runtime/observability/metrics.js";
import { SharedBreakers } from "../runtime/models/shared-breakers.js";
import { TierLedger } from "../runtime/models/tier-stats.js";

/** What a CLI command works with: the database, the model tiers and the flows' runners. */
export interface App {
  config: Config;
  db: Database;
  /** The flows' chain (OPSGRAPH_MODELS). */
  tiers: ModelTier[];
  /** Every tier: the flows' chain, the agents' own (OPSGRAPH_MODELS_<AGENT>), each tier once. */
  tierSet: TierSet;
  log: Logger;
  contractReview: ContractReviewRunner;
  portfolio: PortfolioRunner;
  /** The sourcing flow: its stages consume events from the bus (with the queue open). */
  sourcing: Sourcing;
  /** How a schedule's tick submits a run, for each flow that can be scheduled. */
  schedules: SchedulableFlow<never>[];
  /** Every flow's runner (a worker executes runs of all of them). */
  runners: FlowRunner[];
  /** The runners by flow: a run, or a dead letter, goes on on its own flow's graph only. */
  registry: FlowRegistry;
  /** The runner of `flow`; an unknown flow is an InputError naming the known ones. */
  runnerFor(flow: string): FlowRunner;
  /** This process's Prometheus metrics (served by `opsgraph worker --metrics-port`). */
  metrics: Metrics;
  /** Breaker states and agent call counts written for `opsgraph alerts check`. */
  alertSignals: AlertSignals;
  /** The model tiers' circuit breakers as the fleet shares them (opsgraph_circuit_breakers). */
  breakers: SharedBreakers;
  /** The job queue, when opened with `{ queue: true }` (submit, worker). */
  queue?: PgBoss;
  close(): Promise<void>;
}

/**
 * Opens the runtime: the database (and its migrations), the model tiers, the runners; with
 * `queue`, the job queue too. `concurrency`: runs at once in this process (sizes the pool:
 * each run holds its thread's lock on a connection while it executes).
 */
export async function openApp(config: Config, opts: { queue?: boolean; concurrency?: number } = {}): Promise<App> {
  checkAgentTiers(config, FLOW_AGENTS);
  const concurrency = opts.concurrency ?? config.concurrency;
  // each executing run holds its thread's lock on a connection; the rest of a run's queries are brief
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    maxConnections: Math.max(10, concurrency + Math.max(4, Math.ceil(concurrency / 4))),
  });
  const queue = opts.queue ? await openQueue(db.pool) : undefined;
  const log = createLogger(config.logLevel);
  const breakers = new SharedBreakers({ ...config.breaker, probeMs: config.modelTimeoutMs + 5_000, log });
  const tierSet = createTierSet(config, undefined, breakers);
  const { tiers, agentTiers } = tierSet;
  // before any call: a breaker open in the fleet (or before a restart) is open here from the start
  await breakers.start(db.pool);
  log.debug(
    {
      database: db.where,
      tiers: tiers.map((t) => t.id),
      agent_tiers: Object.fromEntries(Object.entries(agentTiers).map(([a, ts]) => [a, ts.map((t) => t.id)])),
    },
    "runtime ready",
  );
  const tracing = createTracing({
    pool: db.pool,
    prices: config.prices,
    log,
    chainOf: (agent) => chainText(tiersOf(tierSet, agent).map((t) => t.id)),
    ...(config.otlp ? { otlp: config.otlp } : {}),
    ...(config.langsmith.tracing ? { langsmith: config.langsmith } : {}),
  });
  const metrics = createMetrics({ pool: db.pool, tiers: tierSet.all, prices: config.prices });
  const alertSignals = new AlertSignals({ pool: db.pool, tiers: tierSet.all, log });
  alertSignals.start();
  // the attempt ledger adaptive tier order reads: written only when that is on
  const observers = [tracing, metrics.observer, alertSignals, ...(config.adaptiveTiers ? [new TierLedger(db.pool)] : [])];
  const adaptiveTiers = config.adaptiveTiers;
  const deps = {
    pool: db.pool,
    tiers,
    agentTiers,
    reportsDir: path.join(config.dataDir, "reports"),
    log,
    onExhausted: config.onExhausted,
    queue,
    observers,
    prices: config.prices,
    budget: config.budget,
    adaptiveTiers,
  };
  const { flows, runners, schedules } = openFlows(deps, { reviewThreshold: config.reviewThreshold });
  const registry = new FlowRegistry(db.pool, runners);
  return {
    config,
    db,
    tiers,
    tierSet,
    log,
    contractReview: flows.contractReview,
    portfolio: flows.portfolio,
    sourcing: flows.sourcing,
    runners,
    schedules,
    registry,
    runnerFor: (flow) => registry.runnerFor(flow),
    queue,
    metrics,
    alertSignals,
    breakers,
    close: async () => {
      await queue?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
      await tracing.close();
      await alertSignals.close();
      await breakers.close();
      await db.close();
    },
  };
}
