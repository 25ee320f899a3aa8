// Over 300 lines: every persisted state version and its upgrade, from the kept fixtures, on one database.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Checkpoint, CheckpointMetadata } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { buildContractReviewGraph, CONTRACT_REVIEW_STATE_VERSION, DOCUMENTS_NAMESPACE } from "../flows/contract-review/graph/index.js";
import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import { CONTRACT_REVIEW_STATE_VERSIONS } from "../flows/contract-review/graph/upgrade.js";
import type { Agent } from "../nodes/agent.js";
import { createCheckpointer, createStore } from "../runtime/db/checkpointer.js";
import { ContractReviewRunner, type RunStatus } from "../flows/contract-review/run/runner.js";
import { checkpointStateVersion, ensureStateVersion, StateVersionError } from "../runtime/db/state-version.js";
import { useFreshDatabase } from "./support/database.js";

// Runs checkpointed under the previous state version (real version-1 checkpoints, made by
// test/fixtures/checkpoints/make-v1.ts) go on after the upgrade; a state newer than this
// code knows is refused, and nothing is touched.

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "checkpoints");

interface Fixture {
  next: string[];
  document: { key: string; text: string; source: string };
  checkpoint: Checkpoint;
  metadata: CheckpointMetadata;
  new_versions: Record<string, number>;
  pending_writes: [string, string, unknown][];
}
const fixture = (name: string): Fixture => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), "utf8")) as Fixture;
const AWAITING_REVIEW = "contract-review-v1-awaiting-review.json";
const BEFORE_SUMMARIZER = "contract-review-v1-before-summarizer.json";

/** The same checkpoint, as if written by an opsgraph whose state is version 99. */
function asVersion99(f: Fixture): Fixture {
  const copy = structuredClone(f);
  const version = Math.max(...Object.values(copy.checkpoint.channel_versions).map(Number)) + 1;
  copy.checkpoint.channel_values["state_version"] = 99;
  copy.checkpoint.channel_versions["state_version"] = version;
  copy.new_versions["state_version"] = version;
  return copy;
}

const db = useFreshDatabase("opsgraph-reports-");

const runner = () => new ContractReviewRunner({ pool: db.pool, tiers: [], reportsDir: db.dir, reviewThreshold: 60 });

/** Puts a fixture's checkpoint and pending writes into the database's PostgresSaver, its document into the Store, and a run row for it. */
async function load(f: Fixture, opts: { status: RunStatus; autoApprove?: boolean }) {
  const run_id = randomUUID();
  const request_id = `v1-${run_id}`;
  const thread_id = `contract-review:${request_id}`;
  const saver = createCheckpointer(db.pool);
  const saved = await saver.put({ configurable: { thread_id, checkpoint_ns: "" } }, f.checkpoint, f.metadata, f.new_versions);
  const byTask = new Map<string, [string, unknown][]>();
  for (const [task, channel, value] of f.pending_writes) byTask.set(task, [...(byTask.get(task) ?? []), [channel, value]]);
  for (const [task, writes] of byTask) await saver.putWrites(saved, writes, task);
  await createStore(db.pool).put(DOCUMENTS_NAMESPACE, f.document.key, { text: f.document.text, source: f.document.source });
  const input = { auto_approve: opts.autoApprove ?? false, source: f.document.source, document_ref: f.document.key };
  await db.pool.query(`INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input) VALUES ($1, $2, $3, 'contract-review', $4, $5)`, [
    run_id,
    request_id,
    thread_id,
    opts.status,
    JSON.stringify(input),
  ]);
  return { run_id, request_id, thread_id, config: { configurable: { thread_id } } };
}

/** Everything stored for a thread: its run row, checkpoints, blobs and writes. */
async function snapshot(run_id: string, thread_id: string) {
  const q = async (sql: string, params: unknown[]) => (await db.pool.query(sql, params)).rows;
  return {
    run: await q(`SELECT * FROM opsgraph_runs WHERE run_id = $1`, [run_id]),
    checkpoints: await q(`SELECT checkpoint_id, checkpoint, metadata FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_id`, [thread_id]),
    blobs: await q(`SELECT channel, version, blob FROM checkpoint_blobs WHERE thread_id = $1 ORDER BY channel, version`, [thread_id]),
    writes: await q(`SELECT task_id, idx, channel, blob FROM checkpoint_writes WHERE thread_id = $1 ORDER BY task_id, idx`, [thread_id]),
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const compiled = () => buildContractReviewGraph().compile({ checkpointer: createCheckpointer(db.pool), store: createStore(db.pool) });
const newestVersion = async (thread_id: string) =>
  checkpointStateVersion((await createCheckpointer(db.pool).getTuple({ configurable: { thread_id, checkpoint_ns: "" } }))!.checkpoint);

describe("state versions", () => {
  it("the fixtures are version 1: no state_version stored, paused where the v1 graph paused", async () => {
    expect(CONTRACT_REVIEW_STATE_VERSION).toBe(2);
    const f = fixture(AWAITING_REVIEW);
    expect(f.next).toEqual(["decide"]);
    expect(f.checkpoint.channel_versions["state_version"]).toBeUndefined();
    for (const channel of ["steps", "produced_by", "halted"]) expect(f.checkpoint.channel_versions[channel]).toBeUndefined();
    const { thread_id } = await load(f, { status: "awaiting_review" });
    expect(await newestVersion(thread_id)).toBe(1);
  });

  it("upgrades a version-1 checkpoint in place, and the node it was paused at is still next", async () => {
    const { run_id, thread_id, config } = await load(fixture(AWAITING_REVIEW), { status: "awaiting_review" });
    const graph = compiled();
    expect((await graph.getState(config)).next).toEqual(["decide"]);

    const upgraded = await ensureStateVersion({
      runId: run_id,
      config,
      graph,
      checkpointer: createCheckpointer(db.pool),
      versions: CONTRACT_REVIEW_STATE_VERSIONS,
    });
    expect(upgraded).toEqual({ from: 1, to: 2 });
    const after = await graph.getState(config);
    expect(after.next).toEqual(["decide"]);
    expect(after.values.state_version).toBe(2);
    expect(after.values.produced_by).toEqual({ clause_extractor: "rules", risk_analyst: "rules", terms_analyst: "rules", summarizer: "openai:gpt-4.1-mini" });
    expect(after.values.attempts).toHaveLength(7); // the v1 ledger, kept as it was
    expect(await newestVersion(thread_id)).toBe(2);

    // the current version: nothing to do
    const readOnly = { getState: (c: typeof config) => graph.getState(c), updateState: () => Promise.reject(new Error("must not write")) };
    const again = await ensureStateVersion({
      runId: run_id,
      config,
      graph: readOnly,
      checkpointer: createCheckpointer(db.pool),
      versions: CONTRACT_REVIEW_STATE_VERSIONS,
    });
    expect(again).toBeNull();
  });

  it("resumes a run paused at the human review under version 1, after the upgrade, to its report", async () => {
    const { run_id, thread_id } = await load(fixture(AWAITING_REVIEW), { status: "awaiting_review" });

    const done = await runner().resume(run_id, { decision: "approve", note: "checked after the upgrade" });
    expect(done.status).toBe("completed");
    expect(done.model_calls).toBe(0);
    const result = done.result as {
      decision: { decision: string; by: string; note: string };
      produced_by: Record<string, string>;
      report_path: string;
      risk_score: number;
    };
    expect(result.decision).toMatchObject({ decision: "approved", by: "person", note: "checked after the upgrade" });
    expect(result.risk_score).toBe(75);
    expect(result.produced_by).toEqual({ clause_extractor: "rules", risk_analyst: "rules", terms_analyst: "rules", summarizer: "openai:gpt-4.1-mini" });
    const report = fs.readFileSync(result.report_path, "utf8");
    expect(report).toContain("Decision: **approved** (person: checked after the upgrade)");
    expect(report).toContain("| summarizer | openai:gpt-4.1-mini |");
    expect(await newestVersion(thread_id)).toBe(2);
    // no agent ran again: the v1 ledger is the whole ledger
    expect((await runner().show(run_id)).attempts).toHaveLength(7);
  });

  it("carries on a version-1 run that stopped before its summarizer (a join today's wiring does not have), without re-running earlier steps", async () => {
    const f = fixture(BEFORE_SUMMARIZER);
    expect(f.next).toEqual(["summarizer"]);
    const { run_id, thread_id } = await load(f, { status: "queued", autoApprove: true });

    const run = await runner().runQueued(run_id, { workerId: "test-worker", claim: { leaseMs: 30_000 } });
    expect(run.status).toBe("completed");
    const attempts = run.attempts!;
    expect(attempts.filter((a) => a.agent === "clause_extractor")).toHaveLength(2); // as v1 left them: not run again
    expect(attempts.filter((a) => a.agent === "summarizer")).toEqual([expect.objectContaining({ tier: "rules", outcome: "ok" })]);
    const result = run.result as { produced_by: Record<string, string>; decision: { by: string }; report_path: string };
    expect(result.produced_by).toEqual({ clause_extractor: "rules", risk_analyst: "rules", terms_analyst: "rules", summarizer: "rules" });
    expect(result.decision.by).toBe("auto");
    expect(fs.existsSync(result.report_path)).toBe(true);
    expect(await newestVersion(thread_id)).toBe(2);
  });

  it("resumes a run the previous build paused at an escalation (today's channels, no state_version stored): the escalated agent is still next", async () => {
    const f = fixture(AWAITING_REVIEW);
    const document = {
      text: f.document.text,
      source: f.document.source,
      path: f.document.source,
      bytes: f.document.text.length,
      sha256: f.document.key,
      format: "txt" as const,
    };
    const broken = {
      ...clauseExtractor,
      rules: () => {
        throw new Error("rules crashed");
      },
    } as Agent<unknown, unknown, unknown>;
    const escalating = new ContractReviewRunner({
      pool: db.pool,
      tiers: [],
      reportsDir: db.dir,
      reviewThreshold: 60,
      onExhausted: "escalate",
      agents: { clause_extractor: broken },
    });
    const paused = await escalating.review({ document, autoApprove: true });
    expect(paused.status).toBe("awaiting_review");
    // as the build before state versions meant anything left it: ingest did not write state_version
    await db.pool.query(`UPDATE checkpoints SET checkpoint = checkpoint #- '{channel_versions,state_version}' WHERE thread_id = $1`, [paused.thread_id]);
    expect(await newestVersion(paused.thread_id)).toBe(1);

    const output = clauseExtractor.rules({ text: f.document.text, start: 0, end: f.document.text.length });
    const done = await runner().resume(paused.run_id, { output });
    expect(done.status).toBe("completed");
    expect((done.result as { produced_by: Record<string, string> }).produced_by).toEqual({
      clause_extractor: "person",
      risk_analyst: "rules",
      terms_analyst: "rules",
      summarizer: "rules",
    });
    expect(await newestVersion(paused.thread_id)).toBe(2);
  });

  describe("a state newer than this code knows is refused, and nothing is touched", () => {
    const message = (run_id: string) =>
      `run ${run_id}: its state is version 99; this opsgraph reads versions 1 to 2 (upgrade opsgraph, or finish the run with the version that started it)`;

    it("resume", async () => {
      const { run_id, thread_id } = await load(asVersion99(fixture(AWAITING_REVIEW)), { status: "awaiting_review" });
      const before = await snapshot(run_id, thread_id);
      const refused = runner().resume(run_id, { decision: "approve" });
      await expect(refused).rejects.toThrow(StateVersionError);
      await expect(refused).rejects.toThrow(message(run_id));
      expect(await snapshot(run_id, thread_id)).toEqual(before);
      expect(await newestVersion(thread_id)).toBe(99);
    });

    it("a queued run (workers), a run stopped part-way (run again) and a dead letter's retry", async () => {
      const queued = await load(asVersion99(fixture(BEFORE_SUMMARIZER)), { status: "queued" });
      const failed = await load(asVersion99(fixture(BEFORE_SUMMARIZER)), { status: "failed" });
      const lettered = await load(asVersion99(fixture(BEFORE_SUMMARIZER)), { status: "dead_lettered" });
      await runner().deadLetters.put({
        run_id: lettered.run_id,
        thread_id: lettered.thread_id,
        flow: "contract-review",
        node: "summarizer",
        agent: "summarizer",
        input_ref: null,
        errors: [],
      });
      const [letter] = await runner().deadLetters.list();
      const before = await Promise.all([queued, failed, lettered].map((r) => snapshot(r.run_id, r.thread_id)));

      await expect(runner().runQueued(queued.run_id, { workerId: "test-worker", claim: { leaseMs: 30_000 } })).rejects.toThrow(message(queued.run_id));
      const f = fixture(BEFORE_SUMMARIZER);
      const document = {
        text: f.document.text,
        source: f.document.source,
        path: f.document.source,
        bytes: f.document.text.length,
        sha256: f.document.key,
        format: "txt" as const,
      };
      await expect(runner().review({ document, requestId: failed.request_id })).rejects.toThrow(message(failed.run_id));
      await expect(runner().retryDeadLetter(letter!.id)).rejects.toThrow(message(lettered.run_id));

      expect(await Promise.all([queued, failed, lettered].map((r) => snapshot(r.run_id, r.thread_id)))).toEqual(before);
      expect((await runner().deadLetters.get(letter!.id)).status).toBe("waiting");
    });
  });

  it("a new run records version 2 from its input on (the runtime writes it with the stored document); an input-only checkpoint is left alone", async () => {
    const f = fixture(AWAITING_REVIEW);
    const document = {
      text: f.document.text,
      source: f.document.source,
      path: f.document.source,
      bytes: f.document.text.length,
      sha256: f.document.key,
      format: "txt" as const,
    };
    const run = await runner().review({ document, autoApprove: true });
    expect(run.status).toBe("completed");
    const saver = createCheckpointer(db.pool);
    const versions: [number, number | string][] = [];
    for await (const t of saver.list({ configurable: { thread_id: run.thread_id, checkpoint_ns: "" } }))
      versions.push([t.metadata!.step, checkpointStateVersion(t.checkpoint)]);
    versions.sort((a, b) => a[0] - b[0]);
    // -1: the input, not yet in state's channels; 0: the input in state's channels (with the version), and every one after it
    expect(versions.slice(0, 2)).toEqual([
      [-1, 1],
      [0, 2],
    ]);
    expect(versions.slice(1).every(([, v]) => v === 2)).toBe(true);

    // a run stopped before any node ran is left alone: it starts at the current version
    const early = (await collect(saver.list({ configurable: { thread_id: run.thread_id, checkpoint_ns: "" } }))).find((t) => t.metadata!.step === 0)!;
    const none = { getState: () => Promise.reject(new Error("must not read")), updateState: () => Promise.reject(new Error("must not write")) };
    const at = { getTuple: async () => early } as unknown as ReturnType<typeof createCheckpointer>;
    expect(
      await ensureStateVersion({
        runId: run.run_id,
        config: { configurable: { thread_id: run.thread_id } },
        graph: none,
        checkpointer: at,
        versions: CONTRACT_REVIEW_STATE_VERSIONS,
      }),
    ).toBeNull();
  });
});
