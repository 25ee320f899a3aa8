import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatTrace } from "../cli/trace.js";
import { createModelTiers } from "../runtime/models/models.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { createTracing, loadTrace, type Tracing } from "../runtime/observability/tracing.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { useFreshDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";
import { answers, CONTRACT, MODEL } from "../testing/scripted-contract.js";

// Traces of contract reviews: spans stored with the run, the `opsgraph trace` tree, and the
// same spans over OTLP/HTTP to a local receiver.

const db = useFreshDatabase("opsgraph-trace-");
let model: ScriptedServer;

beforeAll(async () => {
  model = await startScriptedOpenAI();
});
afterAll(async () => {
  await model?.close();
});
beforeEach(() => model.reset());

function runner(tracing: Tracing, reviewThreshold = 60) {
  const tiers = createModelTiers({
    modelTiers: [{ provider: "openai", model: "gpt-4.1-mini", id: MODEL }],
    openai: { apiKey: "sk-test", baseURL: model.url, structuredOutput: "jsonSchema" },
    modelTimeoutMs: 5_000,
  });
  return new ContractReviewRunner({
    pool: db.pool,
    tiers,
    reportsDir: db.dir,
    reviewThreshold,
    observers: [tracing],
    backoff: { delaysMs: [20], maxAttempts: 3, maxWaitMs: 1_000, jitter: 0 },
  });
}

/** clause_extractor: a 429, then a slow answer (the slowest step); the others answer at once. */
function scriptRetryAndSlowStep() {
  model.script(
    "clause_extractor",
    { fault: { kind: "status", status: 429 } },
    { fault: { kind: "latency", ms: 400, then: { json: answers.clause_extractor, usage: { prompt_tokens: 900, completion_tokens: 300 } } } },
  );
  model.script("risk_analyst", { json: answers.risk_analyst, usage: { prompt_tokens: 100, completion_tokens: 50 } });
  model.script("terms_analyst", { json: answers.terms_analyst, usage: { prompt_tokens: 100, completion_tokens: 50 } });
  model.script("summarizer", { json: answers.summarizer, usage: { prompt_tokens: 100, completion_tokens: 50 } });
}

describe("traces of contract reviews", () => {
  it("stores a span for the run, every node and every attempt, and prints the tree with the slowest step marked", async () => {
    scriptRetryAndSlowStep();
    const tracing = createTracing({ pool: db.pool });
    const run = await runner(tracing).review({ document: documentOf(CONTRACT, "supply.txt"), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(run.model_calls).toBe(5);

    const trace = (await loadTrace(db.pool, run.run_id.slice(0, 8)))!;
    const spans = trace.spans;
    const byId = new Map(spans.map((s) => [s.id, s]));
    const root = spans.filter((s) => s.kind === "run");
    expect(root).toHaveLength(1);
    expect(root[0]!.name).toBe("contract-review");
    expect(root[0]!.attributes).toMatchObject({ status: "completed", model_calls: 5, input_tokens: 1200, output_tokens: 450 });

    // every node of the graph that ran, each under the run, with a duration
    const nodes = spans.filter((s) => s.kind === "node");
    for (const n of nodes) expect(n.parent_id).toBe(root[0]!.id);
    const names = nodes.map((n) => n.name);
    // the runner stores the document itself, so the graph starts at the agents (no ingest); auto-approved: no decide
    expect([...new Set(names)].sort()).toEqual(["clause_extractor", "clause_extractor_retry", "report", "risk_analyst", "summarizer", "terms_analyst"]);
    expect(names.filter((n) => n === "clause_extractor")).toHaveLength(2);
    for (const s of spans) expect(s.end_ms).toBeGreaterThanOrEqual(s.start_ms);

    // every attempt of the ledger, under the node execution that made it
    const attempts = spans.filter((s) => s.kind === "attempt");
    expect(attempts).toHaveLength(run.attempts!.length);
    for (const a of attempts) expect(byId.get(a.parent_id!)!.name).toBe(a.attributes.agent);
    const clause = attempts.filter((a) => a.attributes.agent === "clause_extractor").sort((a, b) => a.start_ms - b.start_ms);
    expect(clause.map((a) => [a.attributes.attempt, a.attributes.outcome, a.attributes.http_status])).toEqual([
      [1, "error", 429],
      [2, "ok", null],
    ]);
    expect(clause[0]!.parent_id).not.toBe(clause[1]!.parent_id);
    expect(clause[1]!.end_ms - clause[1]!.start_ms).toBeGreaterThanOrEqual(390);
    // gpt-4.1-mini: $0.40 in, $1.60 out per 1M tokens
    expect(clause[1]!.attributes.cost_usd).toBeCloseTo((900 * 0.4 + 300 * 1.6) / 1e6, 10);
    expect(root[0]!.attributes.cost_usd).toBeCloseTo((1200 * 0.4 + 450 * 1.6) / 1e6, 10);

    const text = formatTrace(trace);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(
      new RegExp(`^run ${run.run_id.slice(0, 8)} \\(contract-review, completed\\) \\d+\\.\\d s, 5 model calls, 1650 tokens, \\$0\\.0012$`),
    );
    expect(lines.filter((l) => l.includes("← slowest"))).toEqual([
      expect.stringMatching(/^├─ clause_extractor \d+ ms {2}openai:gpt-4\.1-mini {2}2 attempts \(429, ok\) {2}1200 tokens {2}\$0\.0008 {3}← slowest$/),
    ]);
    expect(text).toMatch(
      /│ {2}├─ attempt 1 openai:gpt-4\.1-mini \d+ ms {2}429 transient, then waited 20 ms\n│ {2}├─ clause_extractor_retry \d+ ms\n│ {2}└─ attempt 2 openai:gpt-4\.1-mini \d+ ms {2}ok {2}900\+300 tokens {2}\$0\.0008/,
    );
    expect(text).toMatch(/└─ report \d+ ms$/);
    expect(text).toMatch(/├─ risk_analyst \d+ ms {2}openai:gpt-4\.1-mini {2}1 attempt \(ok\)/);
  });

  it("keeps the spans of each invocation: a paused run and its resume are one trace", async () => {
    model.script("clause_extractor", { json: answers.clause_extractor });
    model.script("risk_analyst", { json: answers.risk_analyst });
    model.script("terms_analyst", { json: answers.terms_analyst });
    model.script("summarizer", { json: answers.summarizer });
    const tracing = createTracing({ pool: db.pool });
    const r = runner(tracing, 0); // every contract goes to a person
    const paused = await r.review({ document: documentOf(CONTRACT, "supply.txt") });
    expect(paused.status).toBe("awaiting_review");
    const done = await r.resume(paused.run_id, { decision: "approve" });
    expect(done.status).toBe("completed");

    const trace = (await loadTrace(db.pool, paused.run_id))!;
    const runs = trace.spans.filter((s) => s.kind === "run");
    expect(runs.map((s) => s.attributes.status)).toEqual(["awaiting_review", "completed"]);
    expect(trace.spans.filter((s) => s.kind === "attempt")).toHaveLength(4);
    const text = formatTrace(trace);
    expect(text).toMatch(/^├─ invocation 1 \d+ ms {2}awaiting_review$/m);
    expect(text).toMatch(/^└─ invocation 2 \d+ ms {2}completed$/m);
  });
});

interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: {
        spans: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes: { key: string; value: Record<string, unknown> }[];
        }[];
      }[];
    }[];
  };
}

/** A local OTLP/HTTP receiver: records each POST; `answer: false` never answers. */
async function otlpReceiver(answer = true) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8").on("data", (c: string) => (raw += c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(raw) as Received["body"] });
      if (answer) res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r()) && server.closeAllConnections()),
  };
}

const attr = (s: { attributes: { key: string; value: Record<string, unknown> }[] }, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue) : undefined;
};

describe("OpenTelemetry export", () => {
  it("sends the run's spans over OTLP/HTTP JSON, with the run's structure: run, its nodes, their attempts", async () => {
    const receiver = await otlpReceiver();
    try {
      scriptRetryAndSlowStep();
      const tracing = createTracing({ pool: db.pool, otlp: { endpoint: receiver.url, headers: { "x-api-key": "k1" }, serviceName: "opsgraph-test" } });
      const run = await runner(tracing).review({ document: documentOf(CONTRACT, "supply.txt"), autoApprove: true });
      expect(run.status).toBe("completed");
      await tracing.close();

      expect(receiver.received).toHaveLength(1);
      const got = receiver.received[0]!;
      expect(got.path).toBe("/v1/traces");
      expect(got.headers["content-type"]).toBe("application/json");
      expect(got.headers["x-api-key"]).toBe("k1");
      const rs = got.body.resourceSpans[0]!;
      expect(rs.resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "opsgraph-test" } });
      const spans = rs.scopeSpans[0]!.spans;
      for (const s of spans) {
        expect(s.traceId).toBe(run.run_id.replace(/-/g, ""));
        expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano));
      }
      // the same spans as stored
      const stored = (await loadTrace(db.pool, run.run_id))!.spans;
      expect(new Set(spans.map((s) => s.spanId))).toEqual(new Set(stored.map((s) => s.id)));

      const roots = spans.filter((s) => !s.parentSpanId);
      expect(roots.map((s) => s.name)).toEqual(["contract-review"]);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const nodes = spans.filter((s) => attr(s, "opsgraph.kind") === "node");
      expect(nodes.length).toBeGreaterThanOrEqual(7);
      for (const n of nodes) expect(n.parentSpanId).toBe(roots[0]!.spanId);
      const attempts = spans.filter((s) => attr(s, "opsgraph.kind") === "attempt");
      expect(attempts).toHaveLength(5);
      for (const a of attempts) {
        const parent = byId.get(a.parentSpanId!)!;
        expect(attr(parent, "opsgraph.kind")).toBe("node");
        expect(parent.name).toBe(attr(a, "opsgraph.agent"));
      }
      const failed = attempts.find((a) => attr(a, "opsgraph.outcome") === "error")!;
      expect(String(attr(failed, "opsgraph.http_status"))).toBe("429");
    } finally {
      await receiver.close();
    }
  });

  it("a collector that never answers holds neither the run nor the close", async () => {
    const receiver = await otlpReceiver(false);
    try {
      scriptRetryAndSlowStep();
      const tracing = createTracing({ pool: db.pool, otlp: { endpoint: receiver.url, headers: {}, serviceName: "opsgraph" } });
      const t0 = Date.now();
      const run = await runner(tracing).review({ document: documentOf(CONTRACT, "supply.txt"), autoApprove: true });
      expect(run.status).toBe("completed");
      await tracing.close(300);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(receiver.received).toHaveLength(1); // it was sent, and given up on
    } finally {
      await receiver.close();
    }
  });
});
