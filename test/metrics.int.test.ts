import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import type { ContractDocument } from "../runtime/documents/documents.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { databaseUrl, ROOT } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { AGENTS, answers, CONTRACT, MODEL } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";

// `opsgraph worker --metrics-port 0` as a process of its own, one contract review submitted
// through the queue, the real ChatOpenAI against the scripted server, /metrics scraped over HTTP.

const db = useFreshDatabase("opsgraph-metrics-");
let server: ScriptedServer;
let app: App | undefined;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  server = await startScriptedOpenAI();
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once("exit", r));
    worker.kill("SIGTERM");
    await exited;
  }
  worker = undefined;
  await app?.close();
  app = undefined;
  server.reset();
});

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OPSGRAPH_|OPENAI_|LANGSMITH_)/.test(k) && k !== "DATABASE_URL" && k !== "LOG_LEVEL") e[k] = v;
  return {
    ...e,
    DATABASE_URL: databaseUrl(db.pool),
    OPSGRAPH_DATA_DIR: db.dir,
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: "sk-test",
    OPSGRAPH_MODELS: MODEL,
    LOG_LEVEL: "warn",
  };
}

/** Starts `opsgraph worker --metrics-port 0`; resolves with the URL it prints. */
function startWorker(): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "worker", "--concurrency", "1", "--metrics-port", "0"], {
    cwd: ROOT,
    env: env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  worker = child;
  let out = "";
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code}: ${out}`)));
  });
}

/** The samples of a Prometheus text exposition: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
const key = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

describe("opsgraph worker --metrics-port", () => {
  it("serves the per-agent series of a run it executed, with its flow, agent, tier and outcome, tokens and cost", async () => {
    // the risk analyst's first call fails with a 500 (retried once), every answer reports its tokens
    for (const a of AGENTS) {
      const answer = { json: answers[a], usage: { prompt_tokens: 1000, completion_tokens: a === "risk_analyst" ? 200 : 100 } };
      if (a === "risk_analyst") server.script(a, { fault: { kind: "status", status: 500 } }, answer);
      else server.script(a, answer);
    }
    const url = await startWorker();
    const before = samples(await (await fetch(url)).text());
    expect(before.get("opsgraph_runs_in_flight")).toBe(0);
    expect(before.get("opsgraph_queue_depth")).toBe(0);

    app = await openApp(
      loadConfig({
        DATABASE_URL: databaseUrl(db.pool),
        OPSGRAPH_DATA_DIR: db.dir,
        OPENAI_BASE_URL: server.url,
        OPENAI_API_KEY: "sk-test",
        OPSGRAPH_MODELS: MODEL,
      }),
      { queue: true },
    );
    const text = `${CONTRACT}\n\nMetrics test ${Date.now()}.`;
    const document: ContractDocument = {
      text,
      source: "supply.txt",
      path: "supply.txt",
      bytes: Buffer.byteLength(text),
      sha256: createHash("sha256").update(text).digest("hex"),
      format: "txt",
    };
    const { run_id } = await app.contractReview.submit({ document, autoApprove: true });
    const status = await until("the run to complete", async () => {
      const s = (await app!.contractReview.get({ runId: run_id }))?.status;
      return s === "completed" || s === "failed" || s === "dead_lettered" ? s : undefined;
    });
    expect(status).toBe("completed");

    // runEnded is told after the run row is written, and the worker lets go of the run after
    // that: scrape until the run's duration shows and it is no longer in flight (or time out)
    const m = await until("the run in /metrics, and no run in flight", async () => {
      const s = samples(await (await fetch(url)).text());
      return (s.get(key("opsgraph_run_duration_seconds_count", { flow: "contract-review", status: "completed" })) ?? 0) >= 1 &&
        s.get("opsgraph_runs_in_flight") === 0
        ? s
        : undefined;
    });
    const flow = "contract-review";
    for (const agent of AGENTS) {
      expect(m.get(key("opsgraph_agent_calls_total", { flow, agent, tier: MODEL, outcome: "ok" })), agent).toBe(1);
      expect(m.get(key("opsgraph_agent_latency_seconds_count", { flow, agent, tier: MODEL })), agent).toBe(server.requestsFor(agent).length);
    }
    expect(m.get(key("opsgraph_agent_calls_total", { flow, agent: "risk_analyst", tier: MODEL, outcome: "error" }))).toBe(1);
    expect(m.get(key("opsgraph_agent_calls_total", { flow, agent: "summarizer", tier: MODEL, outcome: "error" }))).toBeUndefined();
    expect(m.get(key("opsgraph_agent_retries_total", { flow, agent: "risk_analyst", tier: MODEL }))).toBe(1);
    expect(m.get(key("opsgraph_agent_retries_total", { flow, agent: "clause_extractor", tier: MODEL }))).toBeUndefined();
    expect(m.get(key("opsgraph_tokens_total", { model: MODEL, kind: "input" }))).toBe(4000);
    expect(m.get(key("opsgraph_tokens_total", { model: MODEL, kind: "output" }))).toBe(500);
    // gpt-4.1-mini at the default $0.40 / $1.60 per 1M tokens
    expect(m.get(key("opsgraph_cost_usd_total", { model: MODEL }))).toBeCloseTo((4000 * 0.4 + 500 * 1.6) / 1e6, 9);
    // one series per breaker: provider:model@endpoint
    expect(m.get(key("opsgraph_circuit_open", { model: `${MODEL}@${server.url}` }))).toBe(0);
    expect(m.get("opsgraph_runs_in_flight")).toBe(0);
    expect(m.get("opsgraph_queue_depth")).toBe(0);
    expect(m.get("opsgraph_dead_letters")).toBe(0);
  });

  it("serves only GET /metrics, on the loopback interface", async () => {
    const url = await startWorker();
    expect(new URL(url).hostname).toBe("127.0.0.1");
    expect((await fetch(url.replace("/metrics", "/"))).status).toBe(404);
    const res = await fetch(url);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toContain("# TYPE opsgraph_agent_latency_seconds histogram");
  });
});
