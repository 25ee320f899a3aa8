import path from "node:path";
import type { ModelTier } from "../nodes/agent.js";
import type { Config } from "./config.js";
import { createModelTiers } from "./models.js";
import { openDatabase, type Database } from "./postgres.js";
import { ContractReviewRunner } from "./runs.js";

/** What a CLI command works with: the database, the model tiers and the flows' runners. */
export interface App {
  config: Config;
  db: Database;
  tiers: ModelTier[];
  contractReview: ContractReviewRunner;
  close(): Promise<void>;
}

export async function openApp(config: Config): Promise<App> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: Math.max(10, config.concurrency * 2) });
  const tiers = createModelTiers(config);
  const contractReview = new ContractReviewRunner({
    pool: db.pool,
    tiers,
    reportsDir: path.join(config.dataDir, "reports"),
    reviewThreshold: config.reviewThreshold,
  });
  return { config, db, tiers, contractReview, close: () => db.close() };
}
