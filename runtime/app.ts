import path from "node:path";
import type { ModelTier } from "../nodes/agent.js";
import type { Config } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { createModelTiers } from "./models.js";
import { openDatabase, type Database } from "./postgres.js";
import { ContractReviewRunner } from "./runs.js";

/** What a CLI command works with: the database, the model tiers and the flows' runners. */
export interface App {
  config: Config;
  db: Database;
  tiers: ModelTier[];
  log: Logger;
  contractReview: ContractReviewRunner;
  close(): Promise<void>;
}

export async function openApp(config: Config): Promise<App> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: Math.max(10, config.concurrency * 2) });
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
  });
  return { config, db, tiers, log, contractReview, close: () => db.close() };
}
