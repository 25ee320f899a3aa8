import { validate } from "@langchain/langgraph-checkpoint-validation";
import type { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type pg from "pg";
import { createCheckpointer } from "../runtime/db/checkpointer.js";
import type { Database } from "../runtime/db/postgres.js";
import { freshDatabase, openTestDatabase } from "./support/database.js";

// LangGraph's own checkpointer conformance suite, against the checkpointer exactly as the
// runtime builds it: PostgresSaver on a runtime pool, tables created by runtime migrations.
let admin: Database;
const databases = new Map<PostgresSaver, { pool: pg.Pool; drop: () => Promise<void> }>();

validate<PostgresSaver>({
  checkpointerName: "opsgraph PostgresSaver (runtime pool, runtime migrations)",
  beforeAllTimeout: 180_000,
  async beforeAll() {
    admin = await openTestDatabase();
  },
  async afterAll() {
    await admin.close();
  },
  async createCheckpointer() {
    const db = await freshDatabase(admin);
    const saver = createCheckpointer(db.pool);
    databases.set(saver, db);
    return saver;
  },
  async destroyCheckpointer(saver) {
    await databases.get(saver)?.drop();
    databases.delete(saver);
  },
});
