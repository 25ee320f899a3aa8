import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrate } from "../../runtime/migrations.js";
import { openDatabase, type Database } from "../../runtime/postgres.js";

/** The data dir tests share: one embedded server for every test process (or DATABASE_URL when set). */
export const TEST_DATA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", ".opsgraph", "test");

/** Opens the runtime's database exactly as the CLI does, on the test data dir. */
export function openTestDatabase(): Promise<Database> {
  return openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: TEST_DATA_DIR });
}

/**
 * A fresh, migrated database on the same server, so a test starts from empty tables.
 * Returns its pool and a drop() that removes it.
 */
export async function freshDatabase(admin: Database): Promise<{ pool: pg.Pool; drop: () => Promise<void> }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await admin.pool.query(`CREATE DATABASE ${name}`);
  const o = admin.pool.options;
  const pool = new pg.Pool({ host: o.host, port: o.port, user: o.user, password: o.password as string, database: name, connectionString: o.connectionString ? withDatabase(o.connectionString, name) : undefined, max: 10 });
  pool.on("error", () => {}); // DROP DATABASE ... WITH (FORCE) ends the idle connections
  await migrate(pool);
  return {
    pool,
    drop: async () => {
      await pool.end();
      await admin.pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
