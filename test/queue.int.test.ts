import pg from "pg";
import { describe, expect, it } from "vitest";
import { openQueue } from "../runtime/queue/queue.js";
import { useFreshDatabase } from "./support/database.js";

const db = useFreshDatabase();

describe("the job queue", () => {
  it("workers starting together on a new database all open the queue (pg-boss creates its schema once)", async () => {
    const o = db.pool.options;
    // separate pools, as separate worker processes have
    const pools = Array.from(
      { length: 6 },
      () => new pg.Pool({ host: o.host, port: o.port, user: o.user, password: o.password as string, database: o.database, max: 3 }),
    );
    for (const p of pools) p.on("error", () => {}); // the test database is dropped with force afterwards
    try {
      const opened = await Promise.allSettled(pools.map((p) => openQueue(p)));
      const failed = opened.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
      expect(failed).toEqual([]);
      for (const r of opened) if (r.status === "fulfilled") await r.value.stop({ graceful: false, wait: true, close: false });
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
