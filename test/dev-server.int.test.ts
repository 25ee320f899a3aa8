import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompanyResult } from "../flows/portfolio-monitoring/agents/company.js";
import { startScriptedOpenAI, type RecordedRequest, type ScriptedServer } from "../testing/scripted-openai.js";
import { AGENTS, CONTRACT, MODEL, ok } from "../testing/scripted-contract.js";
import { scriptPortfolioModel } from "../testing/scripted-portfolio.js";

// `npm run dev` (the langgraphjs dev server) driven only through @langchain/langgraph-sdk, as
// Studio and users' code drive it. Its model tier is the scripted OpenAI-compatible server,
// named in the environment only: the graphs must take it from there.

const ROOT = path.resolve(import.meta.dirname, "..");
const STATE_DIR = path.join(ROOT, ".langgraph_api");
const FUNDAMENTALS = path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv");
const STARTUP_MS = 120_000;
// a contract whose clause extraction never answers: the run to cancel mid-way
const HANGS = "THIS CONTRACT HANGS THE MODEL";
const THESIS = fs.readFileSync(path.join(ROOT, "samples/thesis.md"), "utf8");
// a listing from the YC startups dataset (Startups.csv), as the profiler reads it
const CUREBIT = {
  name: "Curebit",
  description: "Talkable is a social referral platform for online stories and subscriptions.",
  categories: "E-Commerce, Analytics, Internet, Marketing, Social Media",
  founders: "Allan Grant, Dominic Coryell, Jeff Yee, Nori Yoshida",
  year_founded: "2010",
  yc_year: "2011",
  yc_session: "Winter",
  investors: "500 Startups, Dharmesh Shah, Alex Lloyd, Auren Hoffman, Gordon Tucker, Stage One Capital, reinmkr inc., Karl Jacob, Y Combinator",
  funding: "$1200000, undisclosed amount",
  city: "San Francisco",
  region: "California",
  country: "USA",
  location: "San Francisco - California - USA",
  website: "",
};
const SOURCING_AGENTS = ["company_profiler", "fit_analyst", "outreach_writer"];
// the server's second model tier (the fallback model), on the same scripted server
const FALLBACK_MODEL = "openai:gpt-4.1-nano";
/** While set, every contract-review call answers 500: the provider is down for both tiers. */
let providerDown = false;

let model: ScriptedServer;
let dev: ChildProcess;
let client: Client;
let output = "";
let stateDirExisted = false;

const registered = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, "langgraph.json"), "utf8")) as { graphs: Record<string, string> }).graphs);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

const tail = () => output.split("\n").slice(-40).join("\n");
const userPrompt = (r: RecordedRequest) => JSON.stringify((r.body as { messages?: unknown[] }).messages ?? []);

/** Starts `npm run dev` on a free port; fails with the server's own output if it never answers. */
async function startDevServer(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  // --no-reload: no file watcher in a test; detached: its own process group, killed whole
  dev = spawn(process.execPath, ["scripts/dev.mjs", "--no-reload"], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  dev.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  dev.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<never>((_, reject) =>
    dev.once("exit", (code, signal) => reject(new Error(`npm run dev exited (${signal ?? `code ${code}`}) before it served on port ${port}:\n${tail()}`))),
  );
  const url = `http://127.0.0.1:${port}`;
  const ready = (async () => {
    for (const deadline = Date.now() + STARTUP_MS; Date.now() < deadline;) {
      const up = await fetch(`${url}/ok`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return url;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`npm run dev did not answer on ${url}/ok within ${STARTUP_MS / 1000} s:\n${tail()}`);
  })();
  return Promise.race([ready, exited]);
}

async function stopDevServer(): Promise<void> {
  if (!dev?.pid || dev.exitCode !== null || dev.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => dev.once("exit", () => resolve()));
  process.kill(-dev.pid, "SIGTERM");
  const timer = setTimeout(() => dev.pid && process.kill(-dev.pid, "SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
  // the server's own children (the CLI's workers) may still be writing their state: wait for the whole group
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-dev.pid, 0);
    } catch {
      return; // ESRCH: the group is gone
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(-dev.pid, "SIGKILL");
}

beforeAll(async () => {
  stateDirExisted = fs.existsSync(STATE_DIR);
  model = await startScriptedOpenAI();
  const down = { fault: { kind: "status", status: 500 } } as const;
  for (const agent of AGENTS) model.setResponder(agent, () => (providerDown ? down : ok(agent)));
  model.setResponder("clause_extractor", (r) => (providerDown ? down : userPrompt(r).includes(HANGS) ? { fault: { kind: "hang" } } : ok("clause_extractor")));
  scriptPortfolioModel(model);
  // the sourcing agents' model refuses (a bad request is not retried): their steps fall back to rules
  for (const agent of SOURCING_AGENTS) model.setResponder(agent, () => ({ fault: { kind: "status", status: 400, message: "model refuses in this test" } }));
  const url = await startDevServer({
    OPSGRAPH_MODELS: `${MODEL},${FALLBACK_MODEL}`,
    OPENAI_BASE_URL: model.url,
    OPENAI_API_KEY: "sk-test",
    OPSGRAPH_REVIEW_THRESHOLD: "0",
    LOG_LEVEL: "warn",
  });
  // the server extracts a graph's schemas with the TypeScript compiler on first request: slow on a loaded machine
  client = new Client({ apiUrl: url, timeoutMs: 120_000 });
}, STARTUP_MS + 10_000);

afterAll(async () => {
  await stopDevServer();
  await model?.close();
  // the server keeps its threads under .langgraph_api; leave one we did not create alone
  if (!stateDirExisted) fs.rmSync(STATE_DIR, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}, 30_000);

describe("npm run dev, through @langchain/langgraph-sdk", () => {
  it("lists every graph of langgraph.json as an assistant", async () => {
    const assistants = await client.assistants.search({ limit: 100 });
    expect(new Set(assistants.map((a) => a.graph_id))).toEqual(new Set(registered));
  });

  it("serves each graph's input schema, every field described", async () => {
    for (const graphId of registered) {
      const schemas = await client.assistants.getSchemas(graphId);
      const input = schemas.input_schema as { properties?: Record<string, { description?: string }> } | null;
      const fields = Object.entries(input?.properties ?? {});
      expect(fields.length, `${graphId} serves no input schema`).toBeGreaterThan(0);
      expect(
        fields.filter(([, f]) => !f.description?.trim()).map(([name]) => name),
        `${graphId}: input fields without a description`,
      ).toEqual([]);
    }
    const contract = await client.assistants.getSchemas("contract_review");
    expect(Object.keys((contract.input_schema as { properties: object }).properties)).toEqual(["text", "source", "document_ref", "state_version"]);
  }, 180_000);

  it("runs a contract review on the environment's model to its human review, streaming the nodes in order, and resumes it to the end", async () => {
    const thread = await client.threads.create();
    const nodes: string[] = [];
    // a context of its own (partial): the model tier and threshold still come from the server's environment
    for await (const chunk of client.runs.stream(thread.thread_id, "contract_review", {
      input: { text: CONTRACT, source: "supply.txt" },
      context: { autoApprove: false },
      streamMode: "updates",
    })) {
      if (chunk.event === "error") throw new Error(`run failed: ${JSON.stringify(chunk.data)}`);
      if (chunk.event === "updates") nodes.push(...Object.keys(chunk.data as object));
    }
    // risk and terms analysis run in parallel: either may report first
    expect(nodes.slice(0, 2)).toEqual(["ingest", "clause_extractor"]);
    expect(new Set(nodes.slice(2, 4))).toEqual(new Set(["risk_analyst", "terms_analyst"]));
    expect(nodes.slice(4)).toEqual(["summarizer", "__interrupt__"]);

    const paused = await client.threads.get(thread.thread_id);
    expect(paused.status).toBe("interrupted");
    const values = paused.values as { produced_by: Record<string, string>; decision: unknown };
    expect(values.produced_by).toEqual(Object.fromEntries(AGENTS.map((a) => [a, MODEL])));
    expect(values.decision).toBeNull();
    expect(model.requestsFor("summarizer").length).toBeGreaterThan(0);

    await client.runs.wait(thread.thread_id, "contract_review", { command: { resume: { decision: "approve" } } });
    const done = await client.threads.get(thread.thread_id);
    expect(done.status).toBe("idle");
    const final = done.values as { decision: { decision: string; by: string }; report_path: string | null };
    expect(final.decision).toMatchObject({ decision: "approved", by: "person" });
    expect(final.report_path).toMatch(/\w/);
  }, 60_000);

  it("reviews a portfolio of three companies from the fundamentals its run's context names", async () => {
    const thread = await client.threads.create();
    const values = (await client.runs.wait(thread.thread_id, "portfolio_monitoring", {
      input: { companies: [{ ticker: "FJRD" }, { ticker: "QSFT" }, { ticker: "FZWL" }] },
      context: { sources: { fundamentals: FUNDAMENTALS }, year: 2014 },
    })) as { results: CompanyResult[]; produced_by: Record<string, string> };
    expect(values.results.map((c) => c.ticker).sort()).toEqual(["FJRD", "FZWL", "QSFT"]);
    for (const c of values.results) expect(["ok", "flagged"], `${c.ticker}: ${c.reason ?? ""}`).toContain(c.status);
    expect(values.produced_by["supervisor"]).toBe(MODEL);
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
  }, 120_000);

  it("runs every sourcing stage for one company, the refused model falling back to rules along the drawn edge", async () => {
    const thread = await client.threads.create();
    const nodes: string[] = [];
    for await (const chunk of client.runs.stream(thread.thread_id, "sourcing", { input: { company: CUREBIT, thesis_text: THESIS }, streamMode: "updates" })) {
      if (chunk.event === "error") throw new Error(`run failed: ${JSON.stringify(chunk.data)}`);
      if (chunk.event === "updates") nodes.push(...Object.keys(chunk.data as object));
    }
    expect(nodes.slice(0, 4)).toEqual(["read_thesis", "company_profiler", "company_profiler_fallback", "company_profiler"]);
    expect(nodes).toContain("fit_analyst_fallback");
    expect(model.requestsFor("company_profiler").length).toBeGreaterThan(0);
    const done = await client.threads.get(thread.thread_id);
    expect(done.status).toBe("idle");
    const values = done.values as { profile: { name: string } | null; fit: unknown; produced_by: Record<string, string> };
    expect(values.profile?.name).toBe("Curebit");
    expect(values.fit).not.toBeNull();
    expect(values.produced_by).toMatchObject({ company_profiler: "rules", fit_analyst: "rules" });
  }, 60_000);

  it("runs one sourcing stage alone, as the event bus does", async () => {
    const values = (await client.runs.wait(null, "sourcing_company_profiler", { input: { company: CUREBIT } })) as {
      profile: { name: string } | null;
      fit: unknown;
    };
    expect(values.profile?.name).toBe("Curebit");
    expect(values.fit).toBeNull();
  }, 60_000);

  it("cancels a run mid-way: it stops where it was, interrupted", async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "contract_review", { input: { text: `${CONTRACT}\n\n${HANGS}`, source: "hangs.txt" } });
    const hung = () => model.requestsFor("clause_extractor").some((r) => userPrompt(r).includes(HANGS));
    for (const deadline = Date.now() + 30_000; !hung() && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 200));
    expect(hung()).toBe(true);
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("running");

    await client.runs.cancel(thread.thread_id, run.run_id, true);
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    // its last checkpoint is after ingest, at the clause extraction the cancel cut short
    const state = await client.threads.getState(thread.thread_id);
    expect(state.next).toEqual(["clause_extractor"]);
    const values = state.values as { chars: number; clauses: unknown; report_path: unknown };
    expect(values.chars).toBeGreaterThan(0);
    expect(values.clauses).toBeNull();
    expect(values.report_path).toBeNull();
  }, 60_000);
  // last: it opens the server's breakers for both models
  it("a provider down for both model tiers: the contract review ends on rules, never on LangGraph's recursion limit", async () => {
    providerDown = true;
    try {
      const before = model.requests.length;
      const thread = await client.threads.create();
      // a fast backoff through the run's context, so the outage takes milliseconds, not the 30 s of the default
      const backoff = { delaysMs: [1, 1, 1, 1], maxAttempts: 5, maxWaitMs: 1000, jitter: 0 };
      const values = (await client.runs.wait(thread.thread_id, "contract_review", {
        input: { text: CONTRACT, source: "down.txt" },
        context: { autoApprove: true, backoff },
      })) as {
        produced_by: Record<string, string>;
        attempts: { tier: string; outcome: string }[];
        report_path: string | null;
        __error__?: unknown;
      };
      expect(values.__error__).toBeUndefined();
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
      expect(values.produced_by).toEqual(Object.fromEntries(AGENTS.map((a) => [a, "rules"])));
      expect(values.report_path).toMatch(/\w/);
      // both tiers were tried and failed, each attempt a step of its own: far past LangGraph's default of 25 steps
      const failed = values.attempts.filter((a) => a.outcome !== "ok");
      expect(new Set(failed.map((a) => a.tier))).toEqual(new Set([MODEL, FALLBACK_MODEL]));
      expect(failed.length).toBeGreaterThanOrEqual(10);
      expect(model.requests.length - before).toBeGreaterThanOrEqual(10);
    } finally {
      providerDown = false;
    }
  }, 120_000);
});
