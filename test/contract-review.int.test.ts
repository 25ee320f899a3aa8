import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type pg from "pg";
import { ChatOpenAI } from "@langchain/openai";
import type { z } from "zod";
import { riskAnalyst } from "../flows/contract-review/agents/risk-analyst.js";
import { summarizer } from "../flows/contract-review/agents/summarizer.js";
import { createModelTiers } from "../runtime/models/models.js";
import type { Database } from "../runtime/db/postgres.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { startScriptedOpenAI, type ScriptedServer } from "../testing/scripted-openai.js";
import { freshDatabase, openTestDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";

// The whole contract-review flow on PostgreSQL, with the real ChatOpenAI client talking
// HTTP to the scripted OpenAI-compatible server.

const CONTRACT = [
  "MASTER SERVICES AGREEMENT",
  "1. Governing Law. This Agreement is governed by the laws of the State of Delaware.",
  "2. Liability. Nothing in this Agreement limits either party's liability for its indemnification obligations.",
  "3. Non-Competition. During the term, Supplier shall not provide similar services to any competitor of Customer.",
  "4. Fees. Customer shall pay each invoice within thirty (30) days of receipt.",
  "5. Termination. Either party may terminate this Agreement on sixty (60) days' prior written notice.",
].join("\n\n");

const MODEL = "openai:gpt-4.1-mini";

const doc = (text: string, source = "msa.txt") => documentOf(text, source);

const absent = (name: string) => ({ name, present: false, excerpts: [], value: null });
const CATEGORY_NAMES = [
  "Governing Law",
  "Termination For Convenience",
  "Cap On Liability",
  "Uncapped Liability",
  "Non-Compete",
  "Exclusivity",
  "Change Of Control",
  "Anti-Assignment",
  "Renewal Term",
  "Liquidated Damages",
  "Audit Rights",
  "Ip Ownership Assignment",
  "Most Favored Nation",
  "Revenue/Profit Sharing",
];

/** What a careful model would answer for CONTRACT. */
const clauseAnswer = (governingQuote = "This Agreement is governed by the laws of the State of Delaware.") => ({
  categories: CATEGORY_NAMES.map((name) => {
    if (name === "Governing Law") return { name, present: true, excerpts: [governingQuote], value: "Delaware" };
    if (name === "Uncapped Liability")
      return { name, present: true, excerpts: ["Nothing in this Agreement limits either party's liability for its indemnification obligations."], value: null };
    if (name === "Non-Compete")
      return { name, present: true, excerpts: ["Supplier shall not provide similar services to any competitor of Customer."], value: null };
    if (name === "Termination For Convenience")
      return { name, present: true, excerpts: ["Either party may terminate this Agreement on sixty (60) days' prior written notice."], value: null };
    return absent(name);
  }),
});
const riskAnswer = {
  risks: [
    { position: "uncapped-liability", severity: "high", rationale: "Indemnification liability is unlimited." },
    { position: "non-compete", severity: "high", rationale: "Supplier may not serve competitors." },
    { position: "no-liability-cap", severity: "medium", rationale: "There is no general cap." },
  ],
};
const termsAnswer = {
  obligations: ["Customer shall pay each invoice within thirty (30) days of receipt."],
  payment_terms: ["Customer shall pay each invoice within thirty (30) days of receipt."],
  minimum_commitments: [],
  liquidated_damages: [],
  renewal: null,
  notice_periods: [{ days: 60, quote: "Either party may terminate this Agreement on sixty (60) days' prior written notice." }],
};
const summaryAnswer = { summary: "A services agreement under Delaware law with unlimited indemnity and a non-compete on the supplier." };

let admin: Database;
let server: ScriptedServer;
let db: { pool: pg.Pool; drop: () => Promise<void> };
let reportsDir: string;

function runner(opts: { models?: boolean; threshold?: number; structuredOutput?: "jsonSchema" | "functionCalling"; timeoutMs?: number } = {}) {
  const tiers = createModelTiers({
    modelTiers: opts.models === false ? [] : [{ provider: "openai", model: "gpt-4.1-mini", id: MODEL }],
    openai: { apiKey: "sk-test", baseURL: server.url, structuredOutput: opts.structuredOutput ?? "jsonSchema" },
    modelTimeoutMs: opts.timeoutMs ?? 2_000,
  });
  return new ContractReviewRunner({ pool: db.pool, tiers, reportsDir, reviewThreshold: opts.threshold ?? 60 });
}

function scriptHappyPath() {
  server.script("clause_extractor", { json: clauseAnswer(), usage: { prompt_tokens: 900, completion_tokens: 300 } });
  server.script("risk_analyst", { json: riskAnswer });
  server.script("terms_analyst", { json: termsAnswer });
  server.script("summarizer", { json: summaryAnswer });
}

beforeAll(async () => {
  admin = await openTestDatabase();
  server = await startScriptedOpenAI();
});
afterAll(async () => {
  await server?.close();
  await admin?.close();
});
beforeEach(async () => {
  server.reset();
  db = await freshDatabase(admin);
  reportsDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-reports-"));
  return async () => {
    await db.drop();
  };
});

describe("contract review on PostgreSQL with a model tier", () => {
  it("takes the model's answers, pauses for a person over the threshold, and finishes when the person approves", async () => {
    scriptHappyPath();
    const first = await runner().review({ document: doc(CONTRACT) });

    expect(first.status).toBe("awaiting_review");
    expect(first.model_calls).toBe(4);
    expect(server.requests).toHaveLength(4);
    expect(first.tiers_used).toEqual([MODEL]);
    const result = first.result as {
      risk_score: number;
      categories: { name: string; present: boolean; value: string | null; excerpts: { text: string; start: number; end: number }[] }[];
    };
    expect(result.risk_score).toBe(75);
    const law = result.categories.find((c) => c.name === "Governing Law")!;
    expect(law.value).toBe("Delaware");
    expect(CONTRACT.slice(law.excerpts[0]!.start, law.excerpts[0]!.end)).toBe(law.excerpts[0]!.text);

    // another runner (as another process would) answers the review from the checkpoint
    const done = await runner().resume(first.run_id, { decision: "approve", note: "accepted by legal" });
    expect(done.status).toBe("completed");
    expect(done.model_calls).toBe(0);
    const final = done.result as { decision: { decision: string; by: string; note: string }; report_path: string };
    expect(final.decision).toMatchObject({ decision: "approved", by: "person", note: "accepted by legal" });
    const report = fs.readFileSync(final.report_path, "utf8");
    expect(report).toContain("Decision: **approved** (person: accepted by legal)");
    expect(report).toMatch(/\*\*high\*\* Uncapped Liability: .*\(\[chars \d+-\d+\]\(#e-\d+-\d+\)\)/);

    // the token usage the server reported is kept with the run
    const { rows } = await db.pool.query("SELECT tokens FROM opsgraph_runs WHERE run_id = $1", [first.run_id]);
    expect(rows[0].tokens[MODEL].input_tokens).toBeGreaterThanOrEqual(900);
  });

  it("answers the same request again from the stored run with zero model calls", async () => {
    scriptHappyPath();
    const first = await runner().review({ document: doc(CONTRACT), autoApprove: true });
    expect(first.status).toBe("completed");
    const before = server.requests.length;

    const again = await runner().review({ document: doc(CONTRACT), autoApprove: true });
    expect(again).toMatchObject({ run_id: first.run_id, thread_id: first.thread_id, status: "completed", model_calls: 0, cached: true });
    expect(again.result).toEqual(first.result);
    expect(server.requests.length).toBe(before);
  });

  it("runs a request whose process died after writing its row, before its first checkpoint, from its input when it comes again", async () => {
    // as if the process died just after the run row's insert: the row says running, the thread has no checkpoint and the document is not stored
    const d = doc(CONTRACT);
    await runner({ models: false }).review({ document: d, autoApprove: true }); // the rules tier: only its row and thread are wanted
    const row = (await db.pool.query<{ run_id: string; thread_id: string }>("SELECT run_id, thread_id FROM opsgraph_runs")).rows[0]!;
    await db.pool.query("UPDATE opsgraph_runs SET status = 'running', result = NULL, model_calls = 0 WHERE run_id = $1", [row.run_id]);
    for (const t of ["checkpoint_writes", "checkpoint_blobs", "checkpoints"]) await db.pool.query(`DELETE FROM ${t} WHERE thread_id = $1`, [row.thread_id]);
    await db.pool.query("DELETE FROM store");
    server.reset();
    scriptHappyPath();

    const again = await runner().review({ document: d, autoApprove: true });
    expect(again).toMatchObject({ run_id: row.run_id, status: "completed", model_calls: 4 });
    expect(again.cached).toBeUndefined();
    expect(server.requests).toHaveLength(4);
    expect((again.result as { summary: string }).summary).toBe(summaryAnswer.summary);
  });

  it("asks for structured output through function calling when configured, for servers without response_format", async () => {
    scriptHappyPath();
    const run = await runner({ structuredOutput: "functionCalling" }).review({ document: doc(CONTRACT), autoApprove: true });
    expect(run.status).toBe("completed");
    expect(run.tiers_used).toEqual([MODEL]);
    const req = server.requestsFor("clause_extractor")[0]!;
    expect(req.body.tools[0].function.name).toBe("clause_extractor");
    expect(req.body.response_format).toBeUndefined();
    expect((run.result as { summary: string }).summary).toBe(summaryAnswer.summary);
  });

  it("finishes a run whose graph ended but whose row was never updated (its process died in between) from its checkpoint, with no model call", async () => {
    scriptHappyPath();
    const d = doc(CONTRACT);
    const first = await runner().review({ document: d, autoApprove: true });
    expect(first.status).toBe("completed");
    const lostUpdate = () => db.pool.query("UPDATE opsgraph_runs SET status = 'running', result = NULL, heartbeat_at = NULL WHERE run_id = $1", [first.run_id]);

    // the same request again
    await lostUpdate();
    const again = await runner().review({ document: d, autoApprove: true });
    expect(again).toMatchObject({ run_id: first.run_id, status: "completed", model_calls: 0 });
    expect(again.result).toEqual(first.result);

    // a worker claiming it after its lease
    await lostUpdate();
    const claimed = await runner().runQueued(first.run_id, { workerId: "test", claim: { leaseMs: 0 } });
    expect(claimed).toMatchObject({ run_id: first.run_id, status: "completed", model_calls: 0 });
    expect(claimed.result).toEqual(first.result);
    expect(server.requests).toHaveLength(4); // the first run's, no more
  });

  it("finishes and records a run whose connection holding the thread's lock is cut mid-run", async () => {
    server.script("clause_extractor", { json: clauseAnswer() });
    server.script("risk_analyst", { fault: { kind: "latency", ms: 1_000, then: { json: riskAnswer } } });
    server.script("terms_analyst", { json: termsAnswer });
    server.script("summarizer", { json: summaryAnswer });
    const running = runner().review({ document: doc(CONTRACT), autoApprove: true });
    const deadline = Date.now() + 10_000;
    while (server.requestsFor("risk_analyst").length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // the session holding the thread's advisory lock, cut as a restart or a network failure would
    const { rows } = await db.pool.query<{ cut: boolean }>(
      `SELECT pg_terminate_backend(pid) AS cut FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(rows.map((r) => r.cut)).toEqual([true]);
    const run = await running;
    expect(run.status).toBe("completed");
    expect(run.model_calls).toBe(4);
    expect((await db.pool.query("SELECT status FROM opsgraph_runs WHERE run_id = $1", [run.run_id])).rows[0].status).toBe("completed");
  });

  it("sends each agent's call exactly as ChatOpenAI.withStructuredOutput(zod schema, jsonSchema) does, and answers with the zod-checked output", async () => {
    const tier = createModelTiers({
      modelTiers: [{ provider: "openai", model: "gpt-4.1-mini", id: MODEL }],
      openai: { apiKey: "sk-test", baseURL: server.url, structuredOutput: "jsonSchema" },
      modelTimeoutMs: 2_000,
    })[0]!;
    const direct = new ChatOpenAI({ model: "gpt-4.1-mini", apiKey: "sk-test", maxRetries: 0, temperature: 0, configuration: { baseURL: server.url } });
    for (const [agent, answer] of [
      [riskAnalyst, riskAnswer],
      [summarizer, summaryAnswer],
    ] as const) {
      server.script(agent.name, { json: answer }, { json: answer });
      const call = { agent: agent.name, schema: agent.modelOutput as z.ZodType<unknown>, system: "You review contracts.", user: "The contract." };
      const { output } = await tier.invoke(call);
      expect(output).toEqual(agent.modelOutput.parse(answer));
      await direct.withStructuredOutput(agent.modelOutput as z.ZodType<unknown>, { name: agent.name, method: "jsonSchema" }).invoke([
        { role: "system", content: call.system },
        { role: "user", content: call.user },
      ]);
      const [ours, theirs] = server.requestsFor(agent.name);
      expect(ours!.body.response_format.json_schema.strict).toBe(true);
      expect(ours!.body).toEqual(theirs!.body);
    }
  });

  it("rejects an excerpt that is not in the contract, repairs once, and keeps the repaired answer", async () => {
    server.script("clause_extractor", { json: clauseAnswer("This Agreement is governed by the laws of Narnia.") }, { json: clauseAnswer() });
    server.script("risk_analyst", { json: riskAnswer });
    server.script("terms_analyst", { json: termsAnswer });
    server.script("summarizer", { json: summaryAnswer });
    const run = await runner().review({ document: doc(CONTRACT), autoApprove: true });

    expect(run.status).toBe("completed");
    expect(run.model_calls).toBe(5);
    const repair = server.requestsFor("clause_extractor")[1]!;
    expect(JSON.stringify(repair.body.messages)).toContain("is not in the contract");
    const result = run.result as { categories: { name: string; excerpts: { text: string }[] }[] };
    const law = result.categories.find((c) => c.name === "Governing Law")!;
    expect(law.excerpts.map((e) => e.text)).toEqual(["This Agreement is governed by the laws of the State of Delaware."]);
    expect(JSON.stringify(run.result)).not.toContain("Narnia");
  });

  it("keeps the contract's text out of the checkpoint: state carries a key to the store", async () => {
    const big = (CONTRACT + "\n\n").repeat(600).slice(0, 300_000);
    const run = await runner({ models: false }).review({ document: doc(big, "big.txt"), autoApprove: true });
    expect(run.status).toBe("completed");
    const bytes = await runner({ models: false }).checkpointBytes(run.thread_id);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(100_000);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM checkpoint_blobs WHERE thread_id = $1 AND length(blob) > 200000", [run.thread_id]);
    expect(rows[0].n).toBe(0);
  });
});
