// Over 300 lines: the embedded server's sharing between real processes (start, reuse, crash, takeover) and DATABASE_URL, with their process helpers.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../runtime/errors.js";
import { MIGRATIONS } from "../runtime/db/migrations.js";
import { openDatabase } from "../runtime/db/postgres.js";

// The embedded PostgreSQL shared between processes, proven with real processes: each test
// has its own fresh data dir, and holders (test/support/hold-database.ts) open it exactly as
// the CLI does.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HOLD = path.join(ROOT, "test", "support", "hold-database.ts");
const STOP_WITHIN_MS = 10_000;

const dataDirs: string[] = [];
const holders = new Set<Holder>();

function freshDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-pg-"));
  dataDirs.push(dir);
  return dir;
}

/** Running, and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  if (fs.existsSync("/proc/self/stat")) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function kill(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Pids of postmasters running on `<dataDir>/pg` (started as `postgres -D <dir>/pg ...`). */
function postmasters(dataDir: string): number[] {
  const cluster = path.join(dataDir, "pg");
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const d = args.indexOf("-D");
    if (d >= 0 && args[d + 1] === cluster && path.basename(args[0] ?? "") === "postgres" && running(Number(name))) pids.push(Number(name));
  }
  return pids;
}

function postmasterPidFile(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function serverInfo(dataDir: string): { port: number; keeperPid: number } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, "pg-server.json"), "utf8")) as { port: number; keeperPid: number };
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = STOP_WITHIN_MS): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

/** A process holding the database of a data dir open (test/support/hold-database.ts). */
class Holder {
  readonly child: ChildProcess;
  private buffer = "";
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  stderr = "";
  exit: Promise<number | null>;
  port = 0;
  keeperPid = 0;

  constructor(dataDir: string, env: Record<string, string> = {}) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.DATABASE_URL;
    this.child = spawn(process.execPath, ["--import", "tsx", HOLD, dataDir], { cwd: ROOT, env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
    holders.add(this);
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      this.buffer += chunk;
      let i;
      while ((i = this.buffer.indexOf("\n")) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 1);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exit = new Promise((resolve) =>
      this.child.once("exit", (code) => {
        holders.delete(this);
        this.waiters.splice(0).forEach((w) => w());
        resolve(code);
      }),
    );
    this.child.stdin!.on("error", () => {}); // EPIPE after a kill
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The next line of output (fails on `error ...`, on exit, or after timeoutMs). */
  async line(timeoutMs = 150_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`holder ${this.pid} exited (${this.child.exitCode ?? this.child.signalCode}); stderr: ${this.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`holder ${this.pid}: no output after ${timeoutMs} ms; stderr: ${this.stderr.trim()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(0, deadline - Date.now()) + 10);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    const line = this.lines.shift()!;
    if (line.startsWith("error ")) throw new Error(`holder ${this.pid}: ${line}`);
    return line;
  }

  async ready(): Promise<this> {
    const line = await this.line();
    const m = /^ready (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`holder ${this.pid}: expected "ready <port> <keeperPid>", got ${line}`);
    this.port = Number(m[1]);
    this.keeperPid = Number(m[2]);
    return this;
  }

  async send(command: string): Promise<string> {
    this.child.stdin!.write(command + "\n");
    return this.line();
  }

  /** Closes stdin: the holder closes its database and exits. */
  async close(): Promise<void> {
    this.child.stdin!.end();
    const code = await this.exit;
    expect(code).toBe(0);
  }

  async kill9(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exit;
  }
}

async function hold(dataDir: string, env?: Record<string, string>): Promise<Holder> {
  return new Holder(dataDir, env).ready();
}

/** The keeper and its postgres gone: checks both, within STOP_WITHIN_MS. */
async function expectServerStopped(dataDir: string, keeperPid: number, postmasterPid: number) {
  const ms = await waitFor(`the keeper ${keeperPid} and postgres ${postmasterPid} to exit`, () => !running(keeperPid) && !running(postmasterPid));
  expect(postmasters(dataDir)).toEqual([]);
  expect(fs.existsSync(path.join(dataDir, "pg-server.json"))).toBe(false);
  return ms;
}

afterAll(async () => {
  for (const h of holders) h.child.kill("SIGKILL");
  for (const dir of dataDirs) {
    const info = serverInfo(dir);
    if (info) kill(info.keeperPid, "SIGTERM");
  }
  // let the keepers stop their servers cleanly, then make sure nothing is left
  await waitFor("the test servers to stop", () => dataDirs.every((d) => postmasters(d).length === 0), 10_000).catch(() => {});
  for (const dir of dataDirs) {
    const info = serverInfo(dir);
    if (info) kill(info.keeperPid, "SIGKILL");
    for (const pid of postmasters(dir)) kill(pid, "SIGKILL");
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("embedded PostgreSQL shared between processes", () => {
  test("a process with two databases open on one data dir stays registered until it closes the last", async () => {
    const dir = freshDataDir();
    const first = await openDatabase({ databaseUrl: undefined, dataDir: dir });
    const second = await openDatabase({ databaseUrl: undefined, dataDir: dir });
    await first.close();
    await new Promise((r) => setTimeout(r, 1_500)); // three keeper polls
    expect((await second.pool.query("SELECT 1 AS n")).rows[0].n).toBe(1);
    const { keeperPid } = serverInfo(dir)!;
    const postmaster = postmasterPidFile(dir)!;
    await second.close();
    await expectServerStopped(dir, keeperPid, postmaster);
  });

  test("postgres going down under a client (a restart, a crash): the keeper starts it again on the same port and the client's pool reconnects", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    expect(await a.send("write before")).toBe("written");
    for (const signal of ["SIGINT", "SIGKILL"] as const) {
      const old = postmasterPidFile(dir)!;
      kill(old, signal); // SIGINT: a fast shutdown, as an operator's restart; SIGKILL: a crash
      await waitFor("postgres to be started again", () => !running(old) && postmasters(dir).length === 1 && postmasterPidFile(dir) !== old, 20_000);
      expect(serverInfo(dir)).toMatchObject({ port: a.port, keeperPid: a.keeperPid });
      // the pool's idle connections died with the old server; the next query gets a new one
      let answer = "";
      for (let i = 0; i < 20 && answer !== "ok 1"; i++) {
        answer = await a.send("query").catch((e: Error) => e.message); // "the database system is starting up" for a moment
        if (answer !== "ok 1") await new Promise((r) => setTimeout(r, 250));
      }
      expect(answer).toBe("ok 1");
    }
    expect(await a.send("read")).toBe('rows ["before"]');
    await a.close();
  });

  test("two processes on one data dir share one server, which outlives the first and stops after the last", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    const b = await hold(dir);

    // one server: same port, same keeper, one postmaster (the one in postmaster.pid)
    expect(b.port).toBe(a.port);
    expect(b.keeperPid).toBe(a.keeperPid);
    const postmaster = postmasterPidFile(dir)!;
    expect(postmaster).toBeGreaterThan(0);
    expect(postmasters(dir)).toEqual([postmaster]);
    expect(fs.readdirSync(path.join(dir, "pg-clients")).sort()).toEqual([String(a.pid), String(b.pid)].sort());
    expect(await a.send("query")).toBe("ok 1");
    expect(await b.send("query")).toBe("ok 1");

    // the first one (whose openDatabase started the keeper) leaves: the server stays for the second
    await a.close();
    await new Promise((r) => setTimeout(r, 1_500)); // three keeper polls
    expect(running(a.keeperPid)).toBe(true);
    expect(postmasters(dir)).toEqual([postmaster]);
    expect(await b.send("query")).toBe("ok 1");
    expect(await b.send("write still here")).toBe("written");
    expect(await b.send("read")).toBe('rows ["still here"]');

    // the last one leaves: the keeper stops postgres and exits
    await b.close();
    const ms = await expectServerStopped(dir, a.keeperPid, postmaster);
    expect(ms).toBeLessThan(STOP_WITHIN_MS);
    expect(fs.readFileSync(path.join(dir, "pg-keeper.log"), "utf8")).toContain("stopping postgres: no opsgraph process uses it any more");
  });

  test("a client killed with SIGKILL: the keeper still stops the server", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    const postmaster = postmasterPidFile(dir)!;
    expect(await a.send("query")).toBe("ok 1");

    await a.kill9(); // no chance to unregister: pg-clients/<pid> stays behind
    expect(fs.existsSync(path.join(dir, "pg-clients", String(a.pid)))).toBe(true);
    await expectServerStopped(dir, a.keeperPid, postmaster);
    expect(fs.readdirSync(path.join(dir, "pg-clients"))).toEqual([]);
  });

  test("after the keeper and postgres are killed with SIGKILL, the next open starts fine and keeps the data", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    expect(await a.send("write before the crash")).toBe("written");
    const postmaster = postmasterPidFile(dir)!;

    // crash: everything killed at once, nothing cleaned up
    kill(a.keeperPid, "SIGKILL");
    kill(postmaster, "SIGKILL");
    await a.kill9();
    await waitFor("the killed postmaster to go", () => !running(postmaster) && !running(a.keeperPid));
    expect(postmasterPidFile(dir)).toBe(postmaster); // stale
    expect(serverInfo(dir)?.keeperPid).toBe(a.keeperPid); // stale

    const b = await hold(dir);
    expect(b.keeperPid).not.toBe(a.keeperPid);
    expect(await b.send("read")).toBe('rows ["before the crash"]');
    expect(await b.send("migrations")).toBe(`migrations ${JSON.stringify(MIGRATIONS.map((m) => ({ version: m.version, count: 1 })))}`);
    const restarted = postmasterPidFile(dir)!;
    expect(postmasters(dir)).toEqual([restarted]);
    await b.close();
    await expectServerStopped(dir, b.keeperPid, restarted);
  });

  test("the keeper alone killed with SIGKILL: the next open stops the postgres it left running, then starts", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    expect(await a.send("write kept")).toBe("written");
    const postmaster = postmasterPidFile(dir)!;
    kill(a.keeperPid, "SIGKILL");
    await a.kill9();
    await waitFor("the killed keeper to go", () => !running(a.keeperPid));
    expect(running(postmaster)).toBe(true); // orphaned: nothing would ever stop it

    const t0 = Date.now();
    const b = await hold(dir);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(running(postmaster)).toBe(false);
    expect(fs.readFileSync(path.join(dir, "pg-keeper.log"), "utf8")).toContain(`stopping postgres (pid ${postmaster}) left running by a keeper that died`);
    expect(await b.send("read")).toBe('rows ["kept"]');
    const restarted = postmasterPidFile(dir)!;
    expect(postmasters(dir)).toEqual([restarted]);
    await b.close();
    await expectServerStopped(dir, b.keeperPid, restarted);
  });

  test("a stale postmaster.pid naming a live process that is not postgres (pid reused) does not block the start", async () => {
    const dir = freshDataDir();
    const a = await hold(dir);
    expect(await a.send("write kept")).toBe("written");
    const postmaster = postmasterPidFile(dir)!;
    kill(a.keeperPid, "SIGKILL");
    kill(postmaster, "SIGKILL");
    await a.kill9();
    await waitFor("the killed postmaster to go", () => !running(postmaster));

    // the crashed server's pid now belongs to some other process
    const other = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      const pidFile = path.join(dir, "pg", "postmaster.pid");
      const lines = fs.readFileSync(pidFile, "utf8").split("\n");
      lines[0] = String(other.pid);
      fs.writeFileSync(pidFile, lines.join("\n"));

      const b = await hold(dir);
      expect(await b.send("read")).toBe('rows ["kept"]');
      expect(running(other.pid!)).toBe(true);
      const restarted = postmasterPidFile(dir)!;
      expect(restarted).not.toBe(other.pid);
      await b.close();
      await expectServerStopped(dir, b.keeperPid, restarted);
    } finally {
      other.kill("SIGKILL");
    }
  });

  test("migrations run once when 4 processes open a fresh data dir at the same moment", async () => {
    const dir = freshDataDir();
    const startAt = String(Date.now() + 2_500); // every holder is loaded by then
    const all = await Promise.all([0, 1, 2, 3].map(() => hold(dir, { START_AT: startAt })));

    expect(new Set(all.map((h) => h.port)).size).toBe(1);
    expect(new Set(all.map((h) => h.keeperPid)).size).toBe(1);
    expect(postmasters(dir)).toHaveLength(1);
    const expected = `migrations ${JSON.stringify(MIGRATIONS.map((m) => ({ version: m.version, count: 1 })))}`;
    for (const h of all) expect(await h.send("migrations")).toBe(expected);
    expect(all.map((h) => h.stderr).join("")).not.toMatch(/error/i);

    const keeper = all[0]!.keeperPid;
    const postmaster = postmasterPidFile(dir)!;
    await Promise.all(all.map((h) => h.close()));
    await expectServerStopped(dir, keeper, postmaster);
  });
});

describe("DATABASE_URL", () => {
  test("a closed port is an InputError on one line naming the setting, without the password", async () => {
    const dir = freshDataDir();
    const err = await openDatabase({ databaseUrl: "postgres://u:secret@127.0.0.1:1/db", dataDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    const message = (err as InputError).message;
    expect(message.startsWith("DATABASE_URL: cannot connect to 127.0.0.1:1")).toBe(true);
    expect(message).not.toContain("\n");
    expect(message).not.toContain("secret");
    expect(message).not.toContain("u:");
    expect(fs.readdirSync(dir)).toEqual([]); // no embedded server was started
  });
});
