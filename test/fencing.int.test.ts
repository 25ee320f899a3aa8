import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { createCheckpointer } from "../runtime/db/checkpointer.js";
import { DeadLetterQueue } from "../runtime/queue/dead-letters.js";
import { FENCE_KEY, FencedError } from "../runtime/runs/fencing.js";
import { Outbox } from "../runtime/queue/outbox.js";
import { useFreshDatabase } from "./support/database.js";

// The guards of an execution's writes: each is written only while the run's fence is the
// token the write carries, in the same statement; a stale token writes nothing and throws.

const db = useFreshDatabase("opsgraph-fencing-");

/** A run whose fence is 4: executions 1 to 3 lost it to the fourth. */
async function runAtFence4() {
  const run_id = randomUUID();
  const thread_id = `contract-review:${run_id}`;
  await db.pool.query(
    `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input, fence) VALUES ($1, $2, $3, 'contract-review', 'running', '{}', 4)`,
    [run_id, run_id, thread_id],
  );
  return { run_id, thread_id };
}

const count = async (table: string, thread_id: string) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE thread_id = $1`, [thread_id])).rows[0]!.n;

describe("fenced writes", () => {
  it("the saver: a put or putWrites with a stale token writes nothing and throws FencedError; the current token writes", async () => {
    const { run_id, thread_id } = await runAtFence4();
    const saver = createCheckpointer(db.pool);
    const config = (fence: number) => ({ configurable: { thread_id, checkpoint_ns: "", [FENCE_KEY]: fence } });
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { clauses: { n: 1 } }, channel_versions: { clauses: 1 } };

    const stale = saver.put(config(3), checkpoint, { source: "loop", step: 0, parents: {} }, { clauses: 1 });
    await expect(stale).rejects.toBeInstanceOf(FencedError);
    await expect(stale).rejects.toThrow(`run ${run_id}: lease lost to another worker (fence 3 < 4)`);
    expect(await count("checkpoints", thread_id)).toBe(0);
    expect(await count("checkpoint_blobs", thread_id)).toBe(0);

    const saved = await saver.put(config(4), checkpoint, { source: "loop", step: 0, parents: {} }, { clauses: 1 });
    expect(await count("checkpoints", thread_id)).toBe(1);
    expect(await count("checkpoint_blobs", thread_id)).toBe(1);

    const at = { configurable: { ...saved.configurable, [FENCE_KEY]: 3 } };
    await expect(saver.putWrites(at, [["terms", { ok: true }]], "task-1")).rejects.toThrow("(fence 3 < 4)");
    expect(await count("checkpoint_writes", thread_id)).toBe(0);
    await saver.putWrites({ configurable: { ...saved.configurable, [FENCE_KEY]: 4 } }, [["terms", { ok: true }]], "task-1");
    expect(await count("checkpoint_writes", thread_id)).toBe(1);

    // no token (LangGraph Studio, the dev server, the checkpoint-validation suite): not fenced
    await saver.putWrites({ configurable: { ...saved.configurable } }, [["risks", { ok: true }]], "task-2");
    expect(await count("checkpoint_writes", thread_id)).toBe(2);
  });

  it("a write that waited on a claim sees the new fence: the claim and the write never both pass", async () => {
    const { thread_id } = await runAtFence4();
    const saver = createCheckpointer(db.pool);
    const claimer = await db.pool.connect();
    try {
      await claimer.query("BEGIN");
      await claimer.query("UPDATE opsgraph_runs SET fence = fence + 1 WHERE thread_id = $1", [thread_id]);
      const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1) };
      const put = saver.put({ configurable: { thread_id, checkpoint_ns: "", [FENCE_KEY]: 4 } }, checkpoint, { source: "loop", step: 0, parents: {} }, {});
      await new Promise((r) => setTimeout(r, 300)); // the put waits on the claim's row lock
      await claimer.query("COMMIT");
      await expect(put).rejects.toThrow("(fence 4 < 5)");
      expect(await count("checkpoints", thread_id)).toBe(0);
    } finally {
      claimer.release();
    }
  });

  it("the outbox and the dead letters: a stale token records no side effect, writes no report file, and throws", async () => {
    const { run_id, thread_id } = await runAtFence4();
    const outbox = new Outbox(db.pool);
    const file = path.join(db.dir, "report.md");
    const report = { key: `${thread_id}:report:r.md`, run_id, thread_id, path: file, markdown: "# r\n" };
    const told = (p: string) => ({ key: `${thread_id}:contract.reviewed`, kind: "contract.reviewed", payload: { path: p } });

    await expect(outbox.deliverReport({ ...report, fence: 3 }, told)).rejects.toThrow(`run ${run_id}: lease lost to another worker (fence 3 < 4)`);
    await expect(outbox.deliverReport({ ...report, fence: 3 })).rejects.toBeInstanceOf(FencedError);
    await expect(
      outbox.enqueueAndDeliver({ key: `${thread_id}:n`, kind: "notification", run_id, thread_id, fence: 3, payload: { kind: "k", payload: {} } }),
    ).rejects.toBeInstanceOf(FencedError);
    expect(fs.readdirSync(db.dir)).toEqual([]);
    expect(await count("opsgraph_outbox", thread_id)).toBe(0);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM opsgraph_notifications")).rows[0].n).toBe(0);

    const letters = new DeadLetterQueue(db.pool);
    const entry = { run_id, thread_id, flow: "contract-review", node: "risk_analyst", agent: "risk_analyst", input_ref: null, errors: [] };
    await expect(letters.fenced(3).put(entry)).rejects.toBeInstanceOf(FencedError);
    expect(await count("opsgraph_dead_letters", thread_id)).toBe(0);

    // the current token: recorded
    expect(await outbox.deliverReport({ ...report, fence: 4 }, told)).toEqual({ path: file, created: true });
    expect(fs.readFileSync(file, "utf8")).toBe("# r\n");
    expect(await count("opsgraph_outbox", thread_id)).toBe(2);
    await letters.fenced(4).put(entry);
    expect(await count("opsgraph_dead_letters", thread_id)).toBe(1);
  });
});
