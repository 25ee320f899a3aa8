import path from "node:path";
import type { ModelTier } from "../nodes/agent.js";
import type { Config } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { createModelTiers } from "./models.js";
import { openDatabase, type Database } from "./postgres.js";
import type PgBoss from "pg-boss";
import { openQueue } from "./queue.js";
import type { FlowRunner } from "./flow-runner.js";
import { PortfolioRunner } from "./portfolio-runner.js";
import { ContractReviewRunner } from "./runs.js";

/** What a CLI command works with: the database, the model tiers and the flows' runners. */
export interface App {
  config: Config;
  db: Database;
  tiers: ModelTier[];
  log: Logger;
  contractReview: ContractReviewRunner;
  portfolio: PortfolioRunner;
  /** Every flow's runner (a worker executes runs of all of them). */
  runners: FlowRunner[];
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
  const concurrency = opts.concurrency ?? config.concurrency;
  // each executing run holds its thread's lock on a connection; the rest of a run's queries are brief
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: Math.max(10, concurrency + Math.max(4, Math.ceil(concurrency / 4))) });
  const queue = opts.queue ? await openQueue(db.pool) : undefined;
  const tiers = createModelTiers(config);
  const log = createLogger(config.logLevel);
  log.debug({ database: db.where, tiers: tiers.map((t) => t.id) }, "runtime ready");
  const contractReview = new ContractReviewRunner({
    pool: db.pool,
    tiers,
    reportsDir: path.join(config.dataDir, "reports"),
    reviewThreshold: config.reviewThreshold,
    log,
    onExhausted: config.onExhausted,
    queue,
  });
  const portfolio = new PortfolioRunner({ pool: db.pool, tiers, reportsDir: path.join(config.dataDir, "reports"), log, onExhausted: config.onExhausted, queue });
  return {
    config,
    db,
    tiers,
    log,
    contractReview,
    portfolio,
    runners: [contractReview, portfolio],
    queue,
    close: async () => {
      await queue?.stop({ graceful: false, wait: true, close: false }).catch(() => {});
      await db.close();
    },
  };
}
