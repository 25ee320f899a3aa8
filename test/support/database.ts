import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { migrate } from "../../runtime/db/migrations.js";
import { openDatabase, type Database } from "../../runtime/db/postgres.js";

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
  const pool = new pg.Pool({
    host: o.host,
    port: o.port,
    user: o.user,
    password: o.password as string,
    database: name,
    connectionString: o.connectionString ? withDatabase(o.connectionString, name) : undefined,
    max: 10,
  });
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

/**
 * Registers the hooks of a test file whose every test gets a fresh, migrated database and a
 * temp dir of its own (both removed after the test). Read `pool` and `dir` inside tests.
 */
export function useFreshDatabase(tempPrefix = "opsgraph-test-"): { readonly pool: pg.Pool; readonly dir: string } {
  let admin: Database | undefined;
  let current: { pool: pg.Pool; drop: () => Promise<void> } | undefined;
  let dir = "";
  beforeAll(async () => {
    admin = await openTestDatabase();
  });
  afterAll(async () => {
    await admin?.close();
  });
  beforeEach(async () => {
    current = await freshDatabase(admin!);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), tempPrefix));
    return async () => {
      await current?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  });
  return {
    get pool() {
      return current!.pool;
    },
    get dir() {
      return dir;
    },
  };
}
