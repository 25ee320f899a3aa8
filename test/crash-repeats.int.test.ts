import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { countModelCalls } from "../nodes/agent-step.js";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { prune } from "../runtime/db/retention.js";
import { startScriptedOpenAI, type RecordedRequest, type Reply, type ScriptedServer } from "../testing/scripted-openai.js";
import { ROOT } from "./support/cli.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";
import { portfolioResponders } from "../testing/scripted-portfolio.js";
import { until } from "../testing/until.js";

// A worker process SIGKILLed in the middle of runs costs at most the model calls that were in
// flight at the kill: every call whose answer had come back is kept (a finished parallel branch,
// a finished Send task, a finished chunk of a long contract) and not made again by the worker
// that takes the runs over. Repeated calls = calls the server got - calls the runs' ledgers hold.

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-crash-"));
let server: ScriptedServer;
let app: App;
const workers: ChildProcess[] = [];
/** Model requests the server is answering now (arrived, answer not sent). */
let inFlight = 0;

function env() {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL") e[k] = v;
  return {
    ...e,
    OPSGRAPH_DATA_DIR: dataDir,
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: "sk-test",
    OPSGRAPH_MODELS: MODEL,
    LOG_LEVEL: "warn",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
}

// short, so a killed worker's runs are taken over soon; long enough that a worker starved of CPU
// (a loaded CI machine) does not lose its lease before the kill
const LEASE_MS = 5_000;

function startWorker(concurrency: number): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", String(concurrency), "--lease-ms", String(LEASE_MS)],
    { cwd: ROOT, env: env(), stdio: "ignore" },
  );
  workers.push(child);
  return child;
}
const exited = (child: ChildProcess) =>
  new Promise<unknown>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));

/** SIGKILLs a worker; answers the model calls that were in flight at that moment. */
async function kill(child: ChildProcess): Promise<number> {
  const at = inFlight;
  child.kill("SIGKILL");
  await exited(child);
  return at;
}

/** Answers `reply(req)` after `ms(req)`, counting the request in flight meanwhile. */
function answer(agent: string, reply: (req: RecordedRequest) => Reply, ms: (req: RecordedRequest) => number) {
  server.setResponder(agent, async (req) => {
    inFlight++;
    try {
      await new Promise((r) => setTimeout(r, ms(req)));
    } finally {
      inFlight--;
    }
    return reply(req);
  });
}

const userPrompt = (req: RecordedRequest) =>
  String((req.body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === "user")?.content ?? "");
const statusOf = async (runId: string) =>
  (await app.db.pool.query<{ status: string }>("SELECT status FROM opsgraph_runs WHERE run_id = $1", [runId])).rows[0]?.status;
const allEnded = async (runIds: string[]) => (await Promise.all(runIds.map(statusOf))).every((s) => s === "completed");
/** Model calls the runs' ledgers hold, by agent. */
async function ledgerCalls(runIds: string[], runner: App["contractReview"] | App["portfolio"]): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  for (const id of runIds) {
    for (const a of (await runner.show(id)).attempts ?? []) if (countModelCalls([a])) by[a.agent] = (by[a.agent] ?? 0) + 1;
  }
  return by;
}
const sum = (by: Record<string, number>) => Object.values(by).reduce((a, b) => a + b, 0);
const serverCalls = () => {
  const by: Record<string, number> = {};
  for (const r of server.requests) by[r.agent ?? "?"] = (by[r.agent ?? "?"] ?? 0) + 1;
  return by;
};

/**
 * The requirement: repeated <= in flight at the kill. The constant is 0 here: each kill lands
 * once every answer the server sent has been received and kept (the tests wait for it), and a
 * call in flight is made again exactly once.
 */
function expectBound(repeated: number, atKill: number, ledger: Record<string, number>) {
  expect(atKill).toBeGreaterThan(0);
  expect(repeated, `server ${JSON.stringify(serverCalls())}, ledgers ${JSON.stringify(ledger)}, ${atKill} in flight at the kill`).toBeLessThanOrEqual(atKill);
}

function contract(text: string, source: string): ContractDocument {
  return { text, source, path: source, bytes: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex"), format: "txt" };
}

/** Takes the runs over with a fresh worker (fast answers) and waits for them all to complete. */
async function finish(runIds: string[], concurrency: number) {
  const b = startWorker(concurrency);
  try {
    await until(`runs ${runIds.join(", ")} to complete`, () => allEnded(runIds), 90_000, 200);
  } finally {
    b.kill("SIGTERM");
    await exited(b);
  }
}

beforeAll(async () => {
  server = await startScriptedOpenAI();
  app = await openApp(
    loadConfig({
      OPSGRAPH_DATA_DIR: dataDir,
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: "sk-test",
      OPSGRAPH_MODELS: MODEL,
      DATABASE_URL: process.env.DATABASE_URL,
    }),
    { queue: true },
  );
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
  await app?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => {
  server.reset();
  inFlight = 0;
});

describe("a worker SIGKILLed mid-run repeats no more model calls than were in flight", () => {
  it("parallel branches: four runs whose terms analyst finished while the risk analyst was in flight repeat only the risk calls", async () => {
    let slow = true;
    for (const a of AGENTS)
      answer(
        a,
        () => ok(a),
        () => (a === "risk_analyst" && slow ? 3_000 : 50),
      );
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++)
      runIds.push(
        (await app.contractReview.submit({ document: contract(`${CONTRACT}\n\nBranches ${i} ${Date.now()}.`, `branches-${i}.txt`), autoApprove: true })).run_id,
      );
    const a = startWorker(4);
    await until(
      "every run's terms analyst answered, its risk analyst in flight",
      () => server.requestsFor("terms_analyst").length === 4 && server.requestsFor("risk_analyst").length === 4 && inFlight === 4,
      90_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // the terms answers reach their checkpoint writes
    const atKill = await kill(a);
    slow = false;
    await finish(runIds, 4);
    const ledger = await ledgerCalls(runIds, app.contractReview);
    const repeated = server.requests.length - sum(ledger);
    expectBound(repeated, atKill, ledger);
    expect(server.requestsFor("terms_analyst")).toHaveLength(4);
  }, 240_000);

  it("a long contract split into chunks: the chunks answered before the kill are not asked again", async () => {
    const filler = (n: number) =>
      `${n}. Deliveries. The Supplier shall deliver the goods listed in schedule ${n} to the Buyer's site within ten business days of each order, packed to the Buyer's standard.`;
    const text = `${CONTRACT}\n\n${Array.from({ length: 1400 }, (_, i) => filler(i + 4)).join("\n\n")}`;
    const chunks = clauseExtractor.split!({ text, start: 0, end: text.length }).length;
    expect(chunks).toBeGreaterThanOrEqual(4);
    const none = {
      json: {
        categories: (answerOf("clause_extractor") as { categories: { name: string }[] }).categories.map(({ name }) => ({
          name,
          present: false,
          excerpts: [],
          value: null,
        })),
      },
    };
    let slow = true;
    for (const a of AGENTS)
      answer(
        a,
        () => (a === "clause_extractor" ? none : ok(a)),
        () => (slow ? 600 : 20),
      );
    const { run_id } = await app.contractReview.submit({ document: contract(text, "long.txt"), autoApprove: true });
    const a = startWorker(1);
    await until("three chunks answered, the fourth in flight", () => server.requestsFor("clause_extractor").length === 4 && inFlight === 1, 90_000);
    const atKill = await kill(a);
    slow = false;
    await finish([run_id], 1);
    const ledger = await ledgerCalls([run_id], app.contractReview);
    expect(ledger["clause_extractor"]).toBe(chunks);
    const repeated = server.requests.length - sum(ledger);
    expectBound(repeated, atKill, ledger);
    // the answers kept for the crashed task go with the thread's checkpoints
    expect((await prune(app.db.pool, { olderThanMs: 0 })).part_answers).toBe(chunks);
  }, 240_000);

  it("Send fan-out: the analysts of the companies that finished before the kill are not run again", async () => {
    const tickers = ["FJRD", "KSTR", "PLVR", "FZWL", "ORBX", "QSFT"];
    const slowTickers = new Set(["PLVR", "QSFT"]);
    let slow = true;
    const ticker = (req: RecordedRequest) => /\(([A-Z]+)\)/.exec(userPrompt(req))?.[1] ?? "";
    for (const [agent, responder] of Object.entries(portfolioResponders)) {
      answer(
        agent,
        (req) => responder(req) as Reply,
        (req) => (slow && agent === "analyse_kpis" ? (slowTickers.has(ticker(req)) ? 4_000 : 100) : 20),
      );
    }
    const portfolio = portfolioInputFromFlags(
      { fundamentals: path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv"), tickers: tickers.join(","), year: 2014 },
      ROOT,
    );
    const { run_id } = await app.portfolio.submit({ portfolio, requestId: `crash-fan-out-${Date.now()}` });
    const a = startWorker(1);
    await until(
      "the fast analysts answered, the slow ones in flight",
      () => server.requestsFor("analyse_kpis").length === tickers.length && inFlight === slowTickers.size,
      90_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const atKill = await kill(a);
    slow = false;
    await finish([run_id], 1);
    const ledger = await ledgerCalls([run_id], app.portfolio);
    const repeated = server.requests.length - sum(ledger);
    expectBound(repeated, atKill, ledger);
  }, 240_000);
});

function answerOf(agent: (typeof AGENTS)[number]): unknown {
  return (ok(agent) as { json: unknown }).json;
}
