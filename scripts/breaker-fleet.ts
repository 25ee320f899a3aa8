// `npx tsx scripts/breaker-fleet.ts`: how many calls a fleet of workers makes to a dead model
// before its shared circuit breaker stops them. The same workload (contract reviews on the
// queue, every agent's model answering 500, the rules tier finishing them) for 1, 2 and 4
// `opsgraph worker` processes on one embedded PostgreSQL, the breaker reset between rounds.
// Before breakers were shared each worker learned the outage alone: N workers x the threshold.
//
//   npx tsx scripts/breaker-fleet.ts [--workers 1,2,4] [--runs 12] [--concurrency 1] [--threshold 3] [--json]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { openApp } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { startScriptedOpenAI } from "../testing/scripted-openai.js";
import { MODEL } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";
import { startWorkers, submitContracts, waitFinished } from "../testing/worker-fleet.js";

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "1,2,4" },
    runs: { type: "string", default: "12" },
    concurrency: { type: "string", default: "1" },
    threshold: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const FLEETS = values.workers.split(",").map(Number);
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const THRESHOLD = Number(values.threshold);
const say = (line: string) => process.stderr.write(`breaker-fleet: ${line}\n`);

const server = await startScriptedOpenAI({ defaultResponder: () => ({ fault: { kind: "status", status: 500 } }) });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-breaker-fleet-"));
// no probe during a round: the cooldown outlasts it
const env = {
  OPSGRAPH_DATA_DIR: dataDir,
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-fleet",
  OPSGRAPH_MODELS: MODEL,
  OPSGRAPH_BREAKER_FAILURES: String(THRESHOLD),
  OPSGRAPH_BREAKER_COOLDOWN_MS: "600000",
};
const app = await openApp(loadConfig({ ...env, LOG_LEVEL: "silent" }), { queue: true });
const pool = app.db.pool;

const rows: { workers: number; runs: number; dead_model_calls: number; per_process_before: number; completed: number; seconds: number }[] = [];
for (const n of FLEETS) {
  server.reset();
  await pool.query("DELETE FROM opsgraph_circuit_breakers");
  await pool.query("UPDATE opsgraph_workers SET stopped_at = now() WHERE stopped_at IS NULL");
  const fleet = startWorkers(n, env, { concurrency: CONCURRENCY });
  await until(
    `${n} workers to register`,
    async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_workers WHERE stopped_at IS NULL")).rows[0]!.n >= n,
    120_000,
    100,
  );
  const t0 = Date.now();
  const runs = await submitContracts(app, RUNS, `fleet-${n}-${t0}`);
  await waitFinished(pool, runs, 600_000);
  const seconds = (Date.now() - t0) / 1000;
  await fleet.stop();
  const { rows: done } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM opsgraph_runs WHERE run_id = ANY($1) AND status = 'completed'", [
    runs,
  ]);
  rows.push({ workers: n, runs: RUNS, dead_model_calls: server.requests.length, per_process_before: n * THRESHOLD, completed: done[0]!.n, seconds });
  say(`${n} worker(s): ${server.requests.length} calls to the dead model`);
}
await app.close();
await server.close();
fs.rmSync(dataDir, { recursive: true, force: true });

if (values.json) process.stdout.write(JSON.stringify({ threshold: THRESHOLD, concurrency: CONCURRENCY, rounds: rows }) + "\n");
else {
  process.stdout.write(
    `dead model (every call a 500), breaker threshold ${THRESHOLD} failures in a row, ${RUNS} contract reviews per round, concurrency ${CONCURRENCY} per worker\n`,
  );
  process.stdout.write(`workers  dead-model calls  per-process breakers (before)  runs completed  seconds\n`);
  for (const r of rows)
    process.stdout.write(
      `${String(r.workers).padEnd(9)}${String(r.dead_model_calls).padEnd(18)}${String(r.per_process_before).padEnd(31)}${`${r.completed}/${r.runs}`.padEnd(16)}${r.seconds.toFixed(1)}\n`,
    );
}
