// The PostgreSQL ceiling: single-row INSERT transactions a second (synchronous_commit as the
// server has it) against the bench's own server, with pgbench when it is installed, else the
// same load from Node.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const TABLE = "bench_pgbench_writes";

export interface Conn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The bench server's address and credentials: DATABASE_URL, else `<dataDir>/pg-server.json`. */
export function connectionOf(databaseUrl: string | undefined, dataDir: string): Conn {
  if (databaseUrl) {
    const u = new URL(databaseUrl);
    return {
      host: u.hostname,
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    };
  }
  const info = JSON.parse(fs.readFileSync(path.join(dataDir, "pg-server.json"), "utf8")) as { port: number; user: string; password: string; database: string };
  return { host: "127.0.0.1", port: info.port, user: info.user, password: info.password, database: info.database };
}

export function findPgbench(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, "pgbench");
    if (dir && fs.existsSync(p)) return p;
  }
  try {
    for (const v of fs.readdirSync("/usr/lib/postgresql").sort().reverse()) {
      const p = path.join("/usr/lib/postgresql", v, "bin", "pgbench");
      if (fs.existsSync(p)) return p;
    }
  } catch {
    // no Debian PostgreSQL
  }
  return undefined;
}

export interface CeilingResult {
  tool: string;
  clients: number;
  seconds: number;
  writesPerSec: number;
  latencyMs: number;
  synchronousCommit: string;
  fsync: string;
}

/**
 * `clients` connections each doing `INSERT INTO bench_pgbench_writes (v) VALUES (1)` (one row,
 * one commit, so one WAL flush to wait for, shared by group commit) for `seconds`.
 */
export async function measurePostgresCeiling(conn: Conn, opts: { clients: number; seconds: number }): Promise<CeilingResult> {
  const admin = new pg.Client(conn);
  await admin.connect();
  try {
    await admin.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id bigserial PRIMARY KEY, v integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    await admin.query(`TRUNCATE ${TABLE}`);
    const settings = Object.fromEntries(
      (await admin.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync')`)).rows.map(
        (r) => [r.name, r.setting],
      ),
    );
    const pgbench = findPgbench();
    const r = pgbench ? await withPgbench(pgbench, conn, opts) : await withNode(conn, opts);
    return { ...r, clients: opts.clients, seconds: opts.seconds, synchronousCommit: settings["synchronous_commit"] ?? "?", fsync: settings["fsync"] ?? "?" };
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => {});
    await admin.end();
  }
}

async function withPgbench(bin: string, conn: Conn, { clients, seconds }: { clients: number; seconds: number }) {
  const script = path.join(os.tmpdir(), `opsgraph-bench-${process.pid}.sql`);
  fs.writeFileSync(script, `INSERT INTO ${TABLE} (v) VALUES (1);\n`);
  try {
    const { stdout } = await promisify(execFile)(
      bin,
      [
        "-n",
        "-c",
        String(clients),
        "-j",
        String(Math.min(clients, os.availableParallelism())),
        "-T",
        String(seconds),
        "-f",
        script,
        "-h",
        conn.host,
        "-p",
        String(conn.port),
        "-U",
        conn.user,
        conn.database,
      ],
      { env: { ...process.env, PGPASSWORD: conn.password }, timeout: (seconds + 30) * 1000 },
    );
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    const lat = /latency average = ([\d.]+) ms/.exec(stdout);
    if (!tps) throw new Error(`bench: cannot read pgbench's output:\n${stdout}`);
    const version = (await promisify(execFile)(bin, ["--version"])).stdout.trim();
    return { tool: `pgbench (${version}, ${bin})`, writesPerSec: Number(tps[1]), latencyMs: lat ? Number(lat[1]) : NaN };
  } finally {
    fs.rmSync(script, { force: true });
  }
}

async function withNode(conn: Conn, { clients, seconds }: { clients: number; seconds: number }) {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client(conn);
      await c.connect();
      return c;
    }),
  );
  let n = 0;
  let latency = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < end) {
        const s = performance.now();
        await c.query(`INSERT INTO ${TABLE} (v) VALUES (1)`);
        latency += performance.now() - s;
        n++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(conns.map((c) => c.end()));
  return { tool: "node-postgres (pgbench not found): autocommit single-row INSERTs", writesPerSec: n / elapsed, latencyMs: latency / n };
}
