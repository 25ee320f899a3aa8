import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildContractReviewGraph, type ContractReviewContext, type ContractReviewState } from "../flows/contract-review/graph/index.js";
import { createCheckpointer, createStore } from "../runtime/db/checkpointer.js";
import { Outbox, outboxNotifier, outboxPublisher, outboxReportSink } from "../runtime/queue/outbox.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { useFreshDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";

// Side effects go through the outbox under a unique key: delivering again, enqueueing the same
// key again, or running the report step again repeats none of them.

const CONTRACT = [
  "MASTER SERVICES AGREEMENT",
  "1. Governing Law. This Agreement is governed by the laws of the State of Delaware.",
  "2. Liability. Nothing in this Agreement limits either party's liability for its indemnification obligations.",
  "3. Non-Competition. During the term, Supplier shall not provide similar services to any competitor of Customer.",
  "4. Fees. Customer shall pay each invoice within thirty (30) days of receipt.",
].join("\n\n");

const doc = (text: string, source = "msa.txt") => documentOf(text, source);

const db = useFreshDatabase("opsgraph-outbox-");

const count = async (sql: string, values: unknown[] = []) => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0]!.n;
/** Identity of a file's current version: a rewrite (temp + rename) gives a new inode. */
const version = (file: string) => {
  const st = fs.statSync(file, { bigint: true });
  return `${st.ino}:${st.mtimeNs}`;
};

describe("the outbox", () => {
  it("delivers a report and a notification once; delivering again or enqueueing the same key again changes nothing", async () => {
    const outbox = new Outbox(db.pool);
    const file = path.join(db.dir, "reports", "a.md");
    const report = { key: "t1:report:a.md", kind: "report.write" as const, thread_id: "t1", payload: { path: file, markdown: "# first\n" } };
    const note = {
      key: "t1:contract.reviewed",
      kind: "notification" as const,
      thread_id: "t1",
      payload: { kind: "contract.reviewed", payload: { decision: "approved" } },
    };

    expect(await outbox.enqueue(db.pool, report)).toBe(true);
    expect(await outbox.enqueue(db.pool, note)).toBe(true);
    expect(await outbox.deliver()).toEqual({ delivered: 2, failed: [] });
    expect(fs.readFileSync(file, "utf8")).toBe("# first\n");
    const written = version(file);
    expect(await count("opsgraph_notifications WHERE key = $1 AND kind = 'contract.reviewed'", [note.key])).toBe(1);
    expect(await count("opsgraph_outbox WHERE status = 'delivered' AND attempts = 1 AND delivered_at IS NOT NULL")).toBe(2);

    // delivering again: nothing pending
    expect(await outbox.deliver()).toEqual({ delivered: 0, failed: [] });
    // the same keys again (a step run again, even with other content): kept once, not delivered again
    const client = await db.pool.connect();
    try {
      expect(await outbox.enqueue(client, { ...report, payload: { path: file, markdown: "# second\n" } })).toBe(false);
    } finally {
      client.release();
    }
    expect(await outbox.enqueue(db.pool, { ...note, payload: { kind: "contract.reviewed", payload: { decision: "rejected" } } })).toBe(false);
    expect(await outbox.deliver()).toEqual({ delivered: 0, failed: [] });

    expect(await count("opsgraph_outbox")).toBe(2);
    expect(await count("opsgraph_notifications")).toBe(1);
    expect(fs.readFileSync(file, "utf8")).toBe("# first\n");
    expect(version(file)).toBe(written); // not rewritten
    expect(fs.readdirSync(path.dirname(file))).toEqual(["a.md"]); // no temp file left
  });

  it("a crash between the side effect and the mark repeats nothing: the notification is keyed, the report is the same file", async () => {
    const outbox = new Outbox(db.pool);
    const file = path.join(db.dir, "b.md");
    await outbox.enqueue(db.pool, { key: "t2:report:b.md", kind: "report.write", payload: { path: file, markdown: "# b\n" } });
    await outbox.enqueue(db.pool, { key: "t2:contract.reviewed", kind: "notification", payload: { kind: "contract.reviewed", payload: {} } });
    await outbox.deliver();
    // as if the process died after the side effects, before marking them delivered
    await db.pool.query(`UPDATE opsgraph_outbox SET status = 'pending', delivered_at = NULL`);
    expect(await outbox.deliver()).toEqual({ delivered: 2, failed: [] });
    expect(await count("opsgraph_notifications")).toBe(1);
    expect(fs.readFileSync(file, "utf8")).toBe("# b\n");
  });

  it("delivers a report and the notification that tells of it as one side effect: once, with the stored path, and nothing when the file cannot be written", async () => {
    const outbox = new Outbox(db.pool);
    const file = path.join(db.dir, "reports-c", "c.md");
    const told = (p: string) => ({ key: "t3:contract.reviewed", kind: "contract.reviewed", payload: { report_path: p } });
    const report = { key: "t3:report:c.md", run_id: null, thread_id: "t3", path: file, markdown: "# c\n" };

    expect(await outbox.deliverReport(report, told)).toEqual({ path: file, created: true });
    expect(fs.readFileSync(file, "utf8")).toBe("# c\n");
    const written = version(file);
    const notes = async () => (await db.pool.query(`SELECT key, kind, payload FROM opsgraph_notifications WHERE key LIKE 't3:%'`)).rows;
    expect(await notes()).toEqual([{ key: "t3:contract.reviewed", kind: "contract.reviewed", payload: { report_path: file } }]);
    expect(await count("opsgraph_outbox WHERE key LIKE 't3:%' AND status = 'delivered' AND attempts = 1")).toBe(2);

    // the step again, with other content and another directory: nothing written or told again, the stored path answered
    const elsewhere = path.join(db.dir, "reports-d", "c.md");
    expect(await outbox.deliverReport({ ...report, path: elsewhere, markdown: "# other\n" }, told)).toEqual({ path: file, created: false });
    expect(version(file)).toBe(written);
    expect(fs.existsSync(elsewhere)).toBe(false);
    expect(await outbox.deliverReport({ ...report, markdown: "# other\n" }, told)).toEqual({ path: file, created: false });
    expect(fs.readdirSync(path.dirname(file))).toEqual(["c.md"]); // what was written aside is gone
    expect(version(file)).toBe(written);
    expect(await notes()).toHaveLength(1);
    expect(await count("opsgraph_outbox WHERE key LIKE 't3:%'")).toBe(2);

    // a file that cannot be written: it throws and records nothing
    fs.writeFileSync(path.join(db.dir, "not-a-dir"), "");
    const bad = { key: "t4:report:x.md", thread_id: "t4", path: path.join(db.dir, "not-a-dir", "x.md"), markdown: "x" };
    await expect(outbox.deliverReport(bad, () => ({ key: "t4:contract.reviewed", kind: "contract.reviewed", payload: {} }))).rejects.toThrow();
    expect(await count("opsgraph_outbox WHERE key LIKE 't4:%'")).toBe(0);
    expect(await count("opsgraph_notifications WHERE key LIKE 't4:%'")).toBe(0);
  });

  it("keeps a failed delivery pending with its attempts counted, delivers the rest, and concurrent deliverers deliver each entry once", async () => {
    const outbox = new Outbox(db.pool);
    fs.writeFileSync(path.join(db.dir, "not-a-db.dir"), "");
    await outbox.enqueue(db.pool, { key: "bad", kind: "report.write", payload: { path: path.join(db.dir, "not-a-db.dir", "x.md"), markdown: "x" } });
    for (let i = 0; i < 20; i++) await outbox.enqueue(db.pool, { key: `n${i}`, kind: "notification", payload: { kind: "contract.reviewed", payload: { i } } });

    const [a, b, c] = await Promise.all([outbox.deliver(), outbox.deliver(), outbox.deliver()]);
    expect(a!.delivered + b!.delivered + c!.delivered).toBe(20);
    const failed = [...a!.failed, ...b!.failed, ...c!.failed];
    // each deliverer tries a failing entry at most once per call
    expect(new Set(failed.map((f) => f.key))).toEqual(new Set(["bad"]));
    expect(await count("opsgraph_notifications")).toBe(20);
    expect(await outbox.get("bad")).toMatchObject({ status: "pending", attempts: failed.length });
    await expect(outbox.deliverOrThrow(["bad"])).rejects.toThrow(/outbox bad: delivery failed/);
  });
});

describe("contract review through the outbox", () => {
  it("leaves one contract.reviewed notification and one delivered report, and the report step run again from its checkpoint adds neither", async () => {
    const reportsDir = path.join(db.dir, "reports");
    const runner = new ContractReviewRunner({ pool: db.pool, tiers: [], reportsDir, reviewThreshold: 60 });
    const run = await runner.review({ document: doc(CONTRACT), autoApprove: true });
    expect(run.status).toBe("completed");
    const result = run.result as { report_path: string; risk_score: number };
    expect(result.report_path).toBe(path.join(reportsDir, path.basename(result.report_path)));
    expect(fs.existsSync(result.report_path)).toBe(true);
    const written = version(result.report_path);

    const notifications = async () =>
      (
        await db.pool.query<{ key: string; kind: string; run_id: string; payload: Record<string, unknown> }>(
          `SELECT key, kind, run_id, payload FROM opsgraph_notifications`,
        )
      ).rows;
    const first = await notifications();
    expect(first).toEqual([
      {
        key: `${run.thread_id}:contract.reviewed`,
        kind: "contract.reviewed",
        run_id: run.run_id,
        payload: {
          run_id: run.run_id,
          thread_id: run.thread_id,
          source: "msa.txt",
          decision: "approved",
          risk_score: result.risk_score,
          report_path: result.report_path,
        },
      },
    ]);
    expect(JSON.stringify(first)).not.toContain("MASTER SERVICES AGREEMENT"); // never the contract's text
    const outboxRows = async () =>
      (
        await db.pool.query<{ key: string; kind: string; status: string }>(
          `SELECT key, kind, status FROM opsgraph_outbox WHERE thread_id = $1 ORDER BY kind DESC`,
          [run.thread_id],
        )
      ).rows;
    const entries = await outboxRows();
    expect(entries).toEqual([
      { key: `${run.thread_id}:report:${path.basename(result.report_path)}`, kind: "report.write", status: "delivered" },
      { key: `${run.thread_id}:contract.reviewed`, kind: "notification", status: "delivered" },
    ]);

    // The report step again: fork the thread at the checkpoint before `report` and run it.
    const graph = buildContractReviewGraph().compile({ checkpointer: createCheckpointer(db.pool), store: createStore(db.pool) });
    let beforeReport: { configurable?: Record<string, unknown> } | undefined;
    for await (const s of graph.getStateHistory({ configurable: { thread_id: run.thread_id } })) {
      if (s.next.length === 1 && s.next[0] === "report") {
        beforeReport = s.config;
        break;
      }
    }
    expect(beforeReport?.configurable?.checkpoint_id).toBeTruthy();
    const outbox = new Outbox(db.pool);
    const ids = { run_id: run.run_id, thread_id: run.thread_id };
    const calls = { write: 0, notify: 0 };
    const sink = outboxReportSink(outbox, reportsDir, ids);
    const notify = outboxNotifier(outbox, ids);
    const context: ContractReviewContext = {
      tiers: [],
      autoApprove: true,
      runId: run.run_id,
      reports: { write: (name, md) => (calls.write++, sink.write(name, md)) },
      notify: (event) => (calls.notify++, notify(event)),
    };
    const again = (await graph.invoke(null, {
      configurable: { thread_id: run.thread_id, checkpoint_id: beforeReport!.configurable!.checkpoint_id },
      context,
      durability: "sync",
    } as never)) as ContractReviewState;

    expect(calls).toEqual({ write: 1, notify: 1 }); // the step did run again...
    expect(again.report_path).toBe(result.report_path);
    expect(await notifications()).toEqual(first); // ...and repeated nothing
    expect(await outboxRows()).toEqual(entries);
    expect(version(result.report_path)).toBe(written);

    // and again through `publish`, as the runner wires it: the report and its notification as one side effect
    const publish = outboxPublisher(outbox, reportsDir, ids);
    let published = 0;
    const viaPublish = (await graph.invoke(null, {
      configurable: { thread_id: run.thread_id, checkpoint_id: beforeReport!.configurable!.checkpoint_id },
      context: { tiers: [], autoApprove: true, runId: run.run_id, publish: (r, e) => (published++, publish(r, e)) } satisfies ContractReviewContext,
      durability: "sync",
    } as never)) as ContractReviewState;
    expect(published).toBe(1);
    expect(viaPublish.report_path).toBe(result.report_path);
    expect(await notifications()).toEqual(first);
    expect(await outboxRows()).toEqual(entries);
    expect(version(result.report_path)).toBe(written);
  });
});
