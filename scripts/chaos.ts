// `npm run chaos`: durable runs under fire. 3 workers at concurrency 8 execute 200 contract
// reviews against the scripted model (200 ms latency, 10% injected faults), while a random
// worker is SIGKILLed every 5 s (and restarted at once) and PostgreSQL is restarted once in
// the middle. Prints a table; exits non-zero unless every run completed or is a dead letter
// with its reason, no side effect happened twice, and the model calls made again are no more
// than those in flight at the kills and the restart.
//
//   npm run chaos -- [--runs 200] [--workers 3] [--concurrency 8] [--kill-every-ms 5000] [--json]
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { countModelCalls } from "../nodes/agent-step.js";
import type { Attempt } from "../nodes/agent.js";
import { openApp } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { startScriptedOpenAI, type Reply } from "../testing/scripted-openai.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "200" },
    workers: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
    "kill-every-ms": { type: "string", default: "5000" },
    "latency-ms": { type: "string", default: "200" },
    "fault-rate": { type: "string", default: "0.1" },
    "timeout-s": { type: "string", default: "900" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const WORKERS = Number(values.workers);
const CONCURRENCY = Number(values.concurrency);
const KILL_EVERY_MS = Number(values["kill-every-ms"]);
const LATENCY_MS = Number(values["latency-ms"]);
const FAULT_RATE = Number(values["fault-rate"]);
const LEASE_MS = 5_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const say = (line: string) => process.stderr.write(`chaos: ${line}\n`);

// --- the scripted model: 200 ms for every answer, 10% of requests fail in one of five ways
const FAULTS: Reply[] = [
  { fault: { kind: "status", status: 500 } },
  { fault: { kind: "status", status: 503 } },
  { fault: { kind: "status", status: 429, retryAfterSeconds: 1 } },
  { fault: { kind: "reset" } },
  { fault: { kind: "malformed" } },
];
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const server = await startScriptedOpenAI();
const arrivals: number[] = [];
for (const agent of AGENTS) {
  server.setResponder(agent, () => {
    arrivals.push(Date.now());
    const reply = random() < FAULT_RATE ? FAULTS[Math.floor(random() * FAULTS.length)]! : ok(agent);
    return { fault: { kind: "latency", ms: LATENCY_MS, then: reply } };
  });
}
/** Model calls in flight at a moment: those that arrived within one latency before it. */
const inFlightAt = (t: number) => arrivals.filter((a) => a > t - LATENCY_MS - 50 && a <= t).length;

// --- the database, and the runs on the queue
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-chaos-"));
const env = { OPSGRAPH_DATA_DIR: dataDir, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-chaos", OPSGRAPH_MODELS: MODEL, LOG_LEVEL: "error" };
const app = await openApp(loadConfig(env), { queue: true });
const pool = app.db.pool;
const t0 = Date.now();
const runIds: string[] = [];
for (let i = 0; i < RUNS; i++) {
  const text = `${CONTRACT}\n\nSchedule ${i + 1}: deliveries to site ${i + 1}.`;
  const document = {
    text,
    source: `contract-${i + 1}.txt`,
    path: `contract-${i + 1}.txt`,
    bytes: Buffer.byteLength(text),
    sha256: createHash("sha256").update(text).digest("hex"),
    format: "txt" as const,
  };
  runIds.push((await app.contractReview.submit({ document, autoApprove: true })).run_id);
}
say(`${RUNS} runs submitted in ${Date.now() - t0} ms; data dir ${dataDir}`);

// --- the workers, killed and restarted
const workerEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPSGRAPH_|OPENAI_|LANGSMITH_|DATABASE_URL$)/.test(k))),
  ...env,
};
const slots: ChildProcess[] = [];
const startWorker = (slot: number) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(CONCURRENCY), "--lease-ms", String(LEASE_MS)],
    { cwd: ROOT, env: workerEnv, stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr!.on("data", () => {});
  slots[slot] = child;
};
for (let i = 0; i < WORKERS; i++) startWorker(i);

const FINAL = ["completed", "awaiting_review", "failed", "dead_lettered"];
const counts = async () => {
  const { rows } = await pool.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM opsgraph_runs GROUP BY status");
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
};
const finished = (c: Record<string, number>) => FINAL.reduce((n, s) => n + (c[s] ?? 0), 0);

const kills: { at: number; inFlight: number }[] = [];
let restart: { at: number; back?: number; inFlight: number } | undefined;
const deadline = Date.now() + Number(values["timeout-s"]) * 1000;
let lastKill = Date.now();
for (;;) {
  await new Promise((r) => setTimeout(r, 250));
  const c = await counts().catch(() => undefined); // the restart drops our connections too
  if (c && restart && !restart.back) {
    // calls in flight while the database was down: any of them may have to be made again
    restart.back = Date.now();
    restart.inFlight = arrivals.filter((a) => a > restart!.at - LATENCY_MS - 50 && a <= restart!.back!).length;
  }
  if (c && finished(c) >= RUNS) break;
  if (Date.now() > deadline) {
    say("timed out");
    break;
  }
  if (Date.now() - lastKill >= KILL_EVERY_MS) {
    lastKill = Date.now();
    const slot = Math.floor(random() * WORKERS);
    kills.push({ at: Date.now(), inFlight: inFlightAt(Date.now()) });
    slots[slot]!.kill("SIGKILL");
    startWorker(slot);
    say(`SIGKILL worker ${slot + 1} (${kills.length}); ${c ? finished(c) : "?"}/${RUNS} finished`);
  }
  if (!restart && c && finished(c) >= RUNS / 2) {
    const postmaster = Number(fs.readFileSync(path.join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
    restart = { at: Date.now(), inFlight: inFlightAt(Date.now()) };
    process.kill(postmaster, "SIGINT"); // a fast shutdown; the keeper starts it again
    say(`PostgreSQL restart (SIGINT to postmaster ${postmaster}); ${finished(c)}/${RUNS} finished`);
  }
}
const elapsed = Date.now() - t0;
for (const w of slots) w.kill("SIGTERM");
await Promise.all(slots.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once("exit", r)))));

// --- the checks
const status = await counts();
const { rows: runs } = await pool.query<{ run_id: string; thread_id: string; status: string; error: string | null }>(
  "SELECT run_id, thread_id, status, error FROM opsgraph_runs",
);
const { rows: letters } = await pool.query<{ run_id: string; agent: string; errors: Attempt[] }>("SELECT run_id, agent, errors FROM opsgraph_dead_letters");
const { rows: sideEffects } = await pool.query<{ key: string; n: number }>(
  `SELECT key, count(*)::int AS n FROM (SELECT key FROM opsgraph_notifications UNION ALL SELECT key FROM opsgraph_outbox WHERE kind = 'report.write') k GROUP BY key`,
);
const { rows: notifications } = await pool.query<{ thread_id: string; n: number }>(
  "SELECT payload->>'thread_id' AS thread_id, count(*)::int AS n FROM opsgraph_notifications GROUP BY 1",
);
let ledgerCalls = 0;
for (const r of runs) {
  const attempts = (await app.contractReview.show(r.run_id)).attempts ?? [];
  ledgerCalls += countModelCalls(attempts);
}
const serverCalls = server.requests.length;
const repeated = serverCalls - ledgerCalls;
const repeatBound = kills.reduce((n, k) => n + k.inFlight, 0) + (restart?.inFlight ?? 0);
const unexplained = runs.filter((r) => !(r.status === "completed" || (r.status === "dead_lettered" && letters.some((l) => l.run_id === r.run_id))));
const duplicates = sideEffects.filter((s) => s.n > 1);
const completedWithoutNotification = runs.filter((r) => r.status === "completed" && !notifications.some((n) => n.thread_id === r.thread_id));

const checks = [
  {
    check: `every run completed, or is a dead letter with its reason`,
    ok: unexplained.length === 0,
    detail: unexplained.length
      ? `${unexplained.length} not: ${unexplained
          .slice(0, 3)
          .map((r) => `${r.run_id} ${r.status} ${r.error ?? ""}`)
          .join("; ")}`
      : `${status.completed ?? 0} completed, ${status.dead_lettered ?? 0} dead letters`,
  },
  {
    check: "no side effect happened twice",
    ok: duplicates.length === 0 && completedWithoutNotification.length === 0,
    detail: `${sideEffects.length} side effects, ${duplicates.length} repeated, ${completedWithoutNotification.length} completed runs without their notification`,
  },
  {
    check: "model calls made again <= calls in flight at the kills and the restart",
    ok: repeated >= 0 && repeated <= repeatBound,
    detail: `${repeated} made again (server ${serverCalls} - ledgers ${ledgerCalls}), ${repeatBound} in flight`,
  },
];
const summary = {
  runs: RUNS,
  workers: WORKERS,
  concurrency: CONCURRENCY,
  elapsed_s: Math.round(elapsed / 100) / 10,
  runs_per_min: Math.round((RUNS / elapsed) * 60_000),
  status,
  kills: kills.length,
  postgres_restarts: restart ? 1 : 0,
  model_calls: serverCalls,
  injected_fault_rate: FAULT_RATE,
  dead_letters: letters.map((l) => ({ run_id: l.run_id, agent: l.agent, reason: l.errors.at(-1)?.error })),
  checks,
  passed: checks.every((c) => c.ok),
};
await app.close();
await server.close();
fs.rmSync(dataDir, { recursive: true, force: true });

if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
else {
  const rows: [string, string][] = [
    ["runs", `${RUNS} (${WORKERS} workers x concurrency ${CONCURRENCY})`],
    ["elapsed", `${summary.elapsed_s} s (${summary.runs_per_min} runs/min)`],
    [
      "final status",
      Object.entries(status)
        .map(([s, n]) => `${s} ${n}`)
        .join(", "),
    ],
    ["SIGKILLs / PostgreSQL restarts", `${kills.length} / ${summary.postgres_restarts}`],
    ["model calls (10% injected faults)", String(serverCalls)],
    ...checks.map((c) => [`${c.ok ? "PASS" : "FAIL"} ${c.check}`, c.detail] as [string, string]),
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n");
}
process.exitCode = summary.passed ? 0 : 1;
