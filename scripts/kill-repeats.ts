// `npx tsx scripts/kill-repeats.ts`: the model calls a SIGKILL costs. Each round submits a
// batch of runs, lets one `opsgraph worker` process execute them against a model that answers
// after 400 ms, SIGKILLs it at a random moment, and lets a fresh worker take the runs over
// (after the lease) to their end. Repeated calls = calls the server got - calls the runs'
// ledgers hold; the bound is the calls in flight at the kill, plus the answers sent in the
// 100 ms before it (not yet kept by the worker). Prints a row per kill and the totals; exits 1
// when a kill repeated more than that.
//
//   contract-review: 12 contracts a round, CUAD dev ones and two long ones (four CUAD contracts
//     each, split into chunks): parallel branches (risk ‖ terms) and chunked steps.
//   portfolio-monitoring: 2 portfolios of 6 companies a round: Send fan-out (analysts, flaggers).
//
//   npx tsx scripts/kill-repeats.ts [--flow contract-review|portfolio-monitoring] [--kills 20]
//     [--concurrency 4] [--latency-ms 400] [--kill-within-ms 3000] [--seed 1] [--json]
import { datasetsDir } from "../runtime/config.js";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { countModelCalls } from "../nodes/agent-step.js";
import { openApp } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { startScriptedOpenAI, type Reply, type Responder } from "../testing/scripted-openai.js";
import { portfolioResponders } from "../testing/scripted-portfolio.js";

const { values } = parseArgs({
  options: {
    flow: { type: "string", default: "contract-review" },
    kills: { type: "string", default: "20" },
    concurrency: { type: "string", default: "4" },
    "latency-ms": { type: "string", default: "400" },
    "kill-within-ms": { type: "string", default: "3000" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const FLOW = values.flow!;
if (FLOW !== "contract-review" && FLOW !== "portfolio-monitoring") throw new Error(`--flow: contract-review or portfolio-monitoring, not ${FLOW}`);
const KILLS = Number(values.kills);
const CONCURRENCY = Number(values.concurrency);
const LATENCY_MS = Number(values["latency-ms"]);
const KILL_WITHIN_MS = Number(values["kill-within-ms"]);
const LEASE_MS = 2_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = datasetsDir(process.env, ROOT);
const say = (line: string) => process.stderr.write(`kill-repeats: ${line}\n`);
let seed = Number(values.seed);
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

// --- the model: every agent answered after LATENCY_MS, requests in flight counted
const server = await startScriptedOpenAI();
let inFlight = 0;
/** When each answer left the server: one sent just before a kill may not have been kept yet. */
const answeredAt: number[] = [];
const slow =
  (reply: Responder): Responder =>
  async (req) => {
    inFlight++;
    try {
      await new Promise((r) => setTimeout(r, LATENCY_MS));
    } finally {
      inFlight--;
      answeredAt.push(Date.now());
    }
    return reply(req);
  };
const noClauses = {
  categories: clauseExtractor.rules({ text: "", start: 0, end: 0 }).categories.map(({ name }) => ({ name, present: false, excerpts: [], value: null })),
};
const contractAnswers: Record<string, Reply> = {
  clause_extractor: { json: noClauses },
  risk_analyst: { json: { risks: [] } },
  terms_analyst: { json: { obligations: [], payment_terms: [], minimum_commitments: [], liquidated_damages: [], renewal: null, notice_periods: [] } },
  summarizer: { json: { summary: "A commercial agreement." } },
};
for (const [agent, reply] of Object.entries(contractAnswers))
  server.setResponder(
    agent,
    slow(() => reply),
  );
for (const [agent, responder] of Object.entries(portfolioResponders)) server.setResponder(agent, slow(responder));

// --- the database and the workers
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-kill-repeats-"));
const env = {
  OPSGRAPH_DATA_DIR: dataDir,
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: "sk-kill-repeats",
  OPSGRAPH_MODELS: "openai:gpt-4.1-mini",
  LOG_LEVEL: "error",
};
const app = await openApp(loadConfig(env), { queue: true });
const runner = FLOW === "contract-review" ? app.contractReview : app.portfolio;
const workerEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPSGRAPH_|OPENAI_|LANGSMITH_|DATABASE_URL$)/.test(k))),
  ...env,
};
const startWorker = (): ChildProcess =>
  spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(CONCURRENCY), "--lease-ms", String(LEASE_MS)],
    { cwd: ROOT, env: workerEnv, stdio: "ignore" },
  );
const exited = (child: ChildProcess) =>
  new Promise<unknown>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));

// --- each round's runs
const cuadDir = path.join(DATASETS, "cuad", "dev", "contracts");
const cuad = fs
  .readdirSync(cuadDir)
  .sort()
  .map((f) => fs.readFileSync(path.join(cuadDir, f), "utf8"));
const TICKERS = ["AAL", "DAL", "UAL", "LUV", "AAPL", "MSFT", "ADBE", "AMZN", "HD", "KO", "CL", "T"];
async function submitRound(round: number): Promise<string[]> {
  const ids: string[] = [];
  if (FLOW === "contract-review") {
    for (let i = 0; i < 12; i++) {
      // two long contracts a round: four CUAD contracts each, split into chunks by the clause extractor
      const body =
        i < 2 ? Array.from({ length: 4 }, (_, k) => cuad[(round * 12 + i * 4 + k) % cuad.length]!).join("\n\n") : cuad[(round * 12 + i) % cuad.length]!;
      const text = `${body.slice(0, 290_000)}\n\nKill round ${round}, contract ${i}.`; // under the 300,000-character limit
      const document = {
        text,
        source: `round-${round}-${i}.txt`,
        path: `round-${round}-${i}.txt`,
        bytes: Buffer.byteLength(text),
        sha256: createHash("sha256").update(text).digest("hex"),
        format: "txt" as const,
      };
      ids.push((await app.contractReview.submit({ document, autoApprove: true })).run_id);
    }
  } else {
    for (let i = 0; i < 2; i++) {
      const tickers = TICKERS.slice(i * 6, i * 6 + 6).join(",");
      const portfolio = portfolioInputFromFlags(
        { fundamentals: path.join(DATASETS, "portfolio/sp500-fundamentals-2012-2016/fundamentals.csv"), tickers, year: 2014 },
        ROOT,
      );
      ids.push((await app.portfolio.submit({ portfolio, requestId: `kill-repeats-${round}-${i}-${Date.now()}` })).run_id);
    }
  }
  return ids;
}
const FINAL = new Set(["completed", "awaiting_review", "failed", "dead_lettered"]);
async function allFinal(ids: string[]) {
  const { rows } = await app.db.pool.query<{ status: string }>("SELECT status FROM opsgraph_runs WHERE run_id::text = ANY($1)", [ids]);
  return rows.length === ids.length && rows.every((r) => FINAL.has(r.status));
}
const until = async (what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 180_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

// --- the rounds: the worker that finished a round is the one killed in the next
/**
 * An answer the server sent this shortly before the kill may still be on its way into the
 * worker's checkpoint (the response parsed, the node returned, its writes one round trip to
 * PostgreSQL): such a call counts in the bound's constant, not as in flight.
 */
const JUST_ANSWERED_MS = 100;
const rows: { kill: number; in_flight: number; just_answered: number; repeated: number; server: number; ledgers: number }[] = [];
let worker = startWorker();
for (let k = 1; k <= KILLS; k++) {
  const before = server.requests.length;
  const ids = await submitRound(k);
  await until("the round's first model call", () => server.requests.length > before);
  await new Promise((r) => setTimeout(r, random() * KILL_WITHIN_MS));
  const atKill = inFlight;
  const killedAt = Date.now();
  worker.kill("SIGKILL");
  await exited(worker);
  worker = startWorker();
  await until(`round ${k}'s runs to end`, () => allFinal(ids));
  let ledgers = 0;
  const byAgent: Record<string, number> = {};
  for (const r of server.requests.slice(before)) byAgent[r.agent ?? "?"] = (byAgent[r.agent ?? "?"] ?? 0) + 1;
  for (const id of ids) {
    const attempts = (await runner.show(id)).attempts ?? [];
    ledgers += countModelCalls(attempts);
    for (const a of attempts) if (countModelCalls([a])) byAgent[a.agent] = (byAgent[a.agent] ?? 0) - 1;
  }
  const calls = server.requests.length - before;
  const lastAnswer = Math.max(0, ...answeredAt.filter((t) => t <= killedAt));
  const justAnswered = answeredAt.filter((t) => t > killedAt - JUST_ANSWERED_MS && t <= killedAt).length;
  rows.push({ kill: k, in_flight: atKill, just_answered: justAnswered, repeated: calls - ledgers, server: calls, ledgers });
  const again = Object.entries(byAgent)
    .filter(([, n]) => n !== 0)
    .map(([a, n]) => `${a} ${n}`)
    .join(", ");
  say(
    `kill ${k}: ${atKill} in flight, ${justAnswered} answered in the ${JUST_ANSWERED_MS} ms before (the last ${killedAt - lastAnswer} ms before), ${calls - ledgers} made again (server ${calls}, ledgers ${ledgers}${again ? `; ${again}` : ""})`,
  );
}
worker.kill("SIGTERM");
await exited(worker);
await app.close();
await server.close();
fs.rmSync(dataDir, { recursive: true, force: true });

const total = (k: "in_flight" | "just_answered" | "repeated" | "server" | "ledgers") => rows.reduce((n, r) => n + r[k], 0);
// the bound: in flight at the kill, plus the answers sent in the JUST_ANSWERED_MS before it
const over = rows.filter((r) => r.repeated > r.in_flight + r.just_answered);
const summary = {
  flow: FLOW,
  kills: rows.length,
  latency_ms: LATENCY_MS,
  concurrency: CONCURRENCY,
  in_flight: total("in_flight"),
  just_answered: total("just_answered"),
  repeated: total("repeated"),
  model_calls: total("server"),
  kills_over_in_flight: rows.filter((r) => r.repeated > r.in_flight).length,
  kills_over_bound: over.length,
  rows,
};
if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
else {
  const just = `answered <${JUST_ANSWERED_MS} ms before`;
  process.stdout.write(`${"kill".padStart(4)}  ${"in flight".padStart(9)}  ${just}  ${"made again".padStart(10)}\n`);
  for (const r of rows)
    process.stdout.write(
      `${String(r.kill).padStart(4)}  ${String(r.in_flight).padStart(9)}  ${String(r.just_answered).padStart(just.length)}  ${String(r.repeated).padStart(10)}\n`,
    );
  process.stdout.write(
    `${FLOW}: ${rows.length} SIGKILLs, ${summary.in_flight} calls in flight (+${summary.just_answered} answered <${JUST_ANSWERED_MS} ms before), ${summary.repeated} made again (of ${summary.model_calls} model calls); ` +
      `${summary.kills_over_in_flight} kills repeated more than they had in flight, ${over.length} more than in flight + just answered\n`,
  );
}
process.exitCode = over.length ? 1 : 0;
