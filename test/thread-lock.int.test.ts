import { describe, expect, it } from "vitest";
import { ThreadLock } from "../runtime/runs/flow-runner.js";
import { useFreshDatabase } from "./support/database.js";

// A run lets go of its thread's lock in the same round trip as its row's last update, and the
// lock is free only once that update is committed: nobody can take the thread and read the row
// as it was before.

const db = useFreshDatabase("opsgraph-thread-lock-");
const tryLock = async (c: { query: (sql: string, v: unknown[]) => Promise<{ rows: { ok: boolean }[] }> }, thread: string) =>
  (await c.query("SELECT pg_try_advisory_lock(hashtext('opsgraph:thread'), hashtext($1)) AS ok", [thread])).rows[0]!.ok;

describe("ThreadLock.releaseWith", () => {
  it("writes, and frees the thread only when the write's transaction ends; without a row written the lock is kept", async () => {
    await db.pool.query("CREATE TABLE lock_probe (id int PRIMARY KEY, v text)");
    await db.pool.query("INSERT INTO lock_probe VALUES (1, 'before')");
    const holder = await db.pool.connect();
    const other = await db.pool.connect();
    try {
      expect(await tryLock(holder, "t1")).toBe(true);
      const lock = new ThreadLock(holder, "t1");
      expect(await tryLock(other, "t1")).toBe(false);

      // inside a transaction the caller holds open, to look between the statement and its commit
      await holder.query("BEGIN");
      const rows = await lock.releaseWith<{ id: number; v: string }>("UPDATE lock_probe SET v = $2 WHERE id = $1 RETURNING id, v", [1, "after"]);
      expect(rows).toEqual([{ id: 1, v: "after" }]);
      expect(lock.released).toBe(true);
      expect(await tryLock(other, "t1")).toBe(false); // written, not committed: still held
      await holder.query("COMMIT");
      expect(await tryLock(other, "t1")).toBe(true); // committed: free
      expect((await other.query("SELECT v FROM lock_probe")).rows[0].v).toBe("after");
      await other.query("SELECT pg_advisory_unlock(hashtext('opsgraph:thread'), hashtext($1))", ["t1"]);

      // no row written: nothing released
      expect(await tryLock(holder, "t2")).toBe(true);
      const kept = new ThreadLock(holder, "t2");
      expect(await kept.releaseWith("UPDATE lock_probe SET v = $2 WHERE id = $1 RETURNING id", [99, "x"])).toEqual([]);
      expect(kept.released).toBe(false);
      expect(await tryLock(other, "t2")).toBe(false);
    } finally {
      holder.release();
      other.release();
    }
  });
});
