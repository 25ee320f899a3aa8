import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import lockfile from "proper-lockfile";
import { InputError } from "../errors.js";
import { migrate } from "./migrations.js";

export interface Database {
  pool: pg.Pool;
  /** True when the database is the embedded server under the data dir. */
  embedded: boolean;
  /** host:port/database, without credentials: safe to print. */
  where: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** Pool size; runs are mostly waiting on models, so a few connections go a long way. */
  maxConnections?: number;
}

const KEEPER = fileURLToPath(new URL("./embedded-pg-keeper.mjs", import.meta.url));
const START_TIMEOUT_MS = 120_000;

interface ServerInfo {
  port: number;
  user: string;
  password: string;
  database: string;
  keeperPid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // A zombie (exited, not yet reaped by its parent) answers kill(0) but is gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function readServerInfo(file: string): ServerInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(file, "utf8")) as ServerInfo;
    return alive(info.keeperPid) ? info : undefined;
  } catch {
    return undefined;
  }
}

function keeperFailure(dataDir: string): string {
  try {
    const lines = fs.readFileSync(path.join(dataDir, "pg-keeper.log"), "utf8").trim().split("\n");
    // the keeper's own "failed: ..." line says why; else the last thing postgres said
    const failed = [...lines].reverse().find((l) => / keeper\[\d+\] failed: /.test(l));
    return (failed?.replace(/^.* keeper\[\d+\] failed: /, "") ?? lines.at(-1) ?? "").slice(0, 300);
  } catch {
    return "";
  }
}

/**
 * Attaches this process to the embedded PostgreSQL of a data dir: registers this process
 * as a client and, when no server runs, starts its keeper (embedded-pg-keeper.mjs), which
 * stops the server once the last client process has gone.
 */
/** Open databases of this process, by client registration file. */
const attachments = new Map<string, number>();

async function attachEmbedded(dataDir: string): Promise<{ info: ServerInfo; detach: () => void }> {
  const dir = path.resolve(dataDir);
  const serverFile = path.join(dir, "pg-server.json");
  const clientFile = path.join(dir, "pg-clients", String(process.pid));
  fs.mkdirSync(path.join(dir, "pg-clients"), { recursive: true });
  const release = await lockfile.lock(dir, {
    lockfilePath: path.join(dir, "pg.lock"),
    retries: { retries: 600, minTimeout: 50, maxTimeout: 250 },
    stale: 10_000,
  });
  try {
    fs.writeFileSync(clientFile, "");
    let info = readServerInfo(serverFile);
    if (!info) {
      fs.rmSync(serverFile, { force: true });
      const out = fs.openSync(path.join(dir, "pg-keeper.log"), "a");
      const keeper = spawn(process.execPath, [KEEPER, dir], { detached: true, stdio: ["ignore", out, out] });
      fs.closeSync(out);
      keeper.unref();
      let exited = false;
      keeper.once("exit", () => (exited = true));
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(info = readServerInfo(serverFile))) {
        if (exited || Date.now() > deadline) {
          const why = exited ? keeperFailure(dir) : `not ready after ${START_TIMEOUT_MS / 1000} s`;
          throw new InputError(
            `OPSGRAPH_DATA_DIR: the embedded PostgreSQL in ${path.join(dir, "pg")} did not start: ${why} (see ${path.join(dir, "pg-keeper.log")})`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // A process may open several databases on one data dir: it stays registered until the last closes.
    const users = (attachments.get(clientFile) ?? 0) + 1;
    attachments.set(clientFile, users);
    let detached = false;
    return {
      info,
      detach: () => {
        if (detached) return;
        detached = true;
        const left = (attachments.get(clientFile) ?? 1) - 1;
        attachments.set(clientFile, left);
        if (left <= 0) {
          attachments.delete(clientFile);
          fs.rmSync(clientFile, { force: true });
        }
      },
    };
  } catch (e) {
    if (!attachments.get(clientFile)) fs.rmSync(clientFile, { force: true });
    throw e;
  } finally {
    await release();
  }
}

/** The host, port and database of a URL, never its credentials. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * Opens the one pool of this process: DATABASE_URL when set, otherwise the embedded
 * PostgreSQL under `<dataDir>/pg`. Runs migrations (once, under an advisory lock).
 * An unreachable database is an InputError naming the setting.
 */
export async function openDatabase({ databaseUrl, dataDir, maxConnections = 10 }: DatabaseOptions): Promise<Database> {
  let pool: pg.Pool;
  let detach = () => {};
  let where: string;
  if (databaseUrl) {
    where = describeUrl(databaseUrl);
    pool = new pg.Pool({ connectionString: databaseUrl, max: maxConnections, connectionTimeoutMillis: 10_000 });
  } else {
    const attached = await attachEmbedded(dataDir);
    detach = attached.detach;
    const { info } = attached;
    where = `127.0.0.1:${info.port}/${info.database} (embedded, ${path.join(dataDir, "pg")})`;
    pool = new pg.Pool({
      host: "127.0.0.1",
      port: info.port,
      user: info.user,
      password: info.password,
      database: info.database,
      max: maxConnections,
      connectionTimeoutMillis: 10_000,
    });
  }
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  process.once("exit", detach);
  try {
    await pool.query("SELECT 1");
  } catch (e) {
    await pool.end().catch(() => {});
    detach();
    const reason = (e as Error).message.split("\n")[0];
    throw new InputError(
      databaseUrl
        ? `DATABASE_URL: cannot connect to ${where}: ${reason}`
        : `OPSGRAPH_DATA_DIR: cannot connect to the embedded PostgreSQL at ${where}: ${reason}`,
    );
  }
  await migrate(pool);
  let closed = false;
  return {
    pool,
    embedded: !databaseUrl,
    where,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      detach();
      process.removeListener("exit", detach);
    },
  };
}
