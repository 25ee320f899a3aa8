// Child process of the bench's memory figure: one Worker executing `concurrency` runs at once,
// built from the runtime's parts exactly as `opsgraph worker` builds it (cli/queue.ts), except
// for the pool's size. `openApp` sizes it concurrency × 2 + 4 (204 at 100), over the embedded
// server's max_connections (200), and a run that cannot connect fails; here it is
// `maxConnections` (argv[3]), so runs wait for a connection instead. Settings come from the
// environment, as for `opsgraph worker`. SIGTERM drains and exits.
import path from "node:path";
import { loadConfig } from "../runtime/config.js";
import { createModelTiers } from "../runtime/models/models.js";
import { openDatabase } from "../runtime/db/postgres.js";
import { openQueue } from "../runtime/queue/queue.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { Worker } from "../runtime/queue/worker.js";

const concurrency = Number(process.argv[2] ?? 100);
const maxConnections = Number(process.argv[3] ?? 150);
const config = loadConfig(process.env);
const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections });
const queue = await openQueue(db.pool);
const runner = new ContractReviewRunner({
  pool: db.pool,
  tiers: createModelTiers(config),
  reportsDir: path.join(config.dataDir, "reports"),
  reviewThreshold: config.reviewThreshold,
  queue,
});
const worker = new Worker({ pool: db.pool, queue, runners: [runner], concurrency, leaseMs: config.leaseMs });
await worker.start();
// the heap's share of the growth: process.memoryUsage() at idle and its peaks, told on SIGTERM
const idle = process.memoryUsage();
const peak = { ...idle };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak) as (keyof NodeJS.MemoryUsage)[]) peak[k] = Math.max(peak[k], m[k]);
}, 25);
process.stderr.write(`opsgraph worker ${worker.id}: concurrency ${concurrency}, pool ${maxConnections} (bench memory worker)\n`);
process.once("SIGTERM", () => {
  void (async () => {
    clearInterval(sampler);
    process.stderr.write(`bench-memory ${JSON.stringify({ idle, peak })}\n`);
    await worker.drain();
    await queue.stop({ graceful: false, wait: true, close: false }).catch(() => {});
    await db.close();
    process.exit(0);
  })();
});
