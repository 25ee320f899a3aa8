// Opens the database of a data dir exactly as the CLI does and holds it open, for the
// multi-process tests in test/embedded-postgres.int.test.ts.
//
//   node --import tsx test/support/hold-database.ts <dataDir>
//
// Env START_AT=<epoch ms>: wait until then before opening (lines several processes up).
// Prints `ready <port> <keeperPid>` once open, then answers commands on stdin, one a line:
//   query              -> `ok <n>` (SELECT 1 round trip on the shared server)
//   write <text>       -> `written` (kept in table hold_test)
//   read               -> `rows <json array of texts>`
//   migrations         -> `migrations <json array of {version,count}>`
// Closes the database and exits 0 when stdin ends; on any error prints `error <message>`.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { openDatabase, type Database } from "../../runtime/db/postgres.js";

const dataDir = process.argv[2];
if (!dataDir) {
  process.stdout.write("error usage: hold-database.ts <dataDir>\n");
  process.exit(2);
}

const startAt = Number(process.env.START_AT ?? 0);
if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));

let db: Database;
try {
  db = await openDatabase({ databaseUrl: undefined, dataDir });
} catch (e) {
  process.stdout.write(`error ${(e as Error).message.split("\n")[0]}\n`);
  process.exit(1);
}
const server = JSON.parse(fs.readFileSync(path.join(dataDir, "pg-server.json"), "utf8")) as { port: number; keeperPid: number };
const port = db.pool.options.port;
if (port !== server.port) {
  process.stdout.write(`error pool port ${port} is not the server's ${server.port}\n`);
  process.exit(1);
}
process.stdout.write(`ready ${port} ${server.keeperPid}\n`);

const { pool } = db;
const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    const [cmd, ...rest] = line.trim().split(" ");
    try {
      if (cmd === "query") {
        const { rows } = await pool.query<{ n: number }>("SELECT 1 AS n");
        process.stdout.write(`ok ${rows[0]?.n}\n`);
      } else if (cmd === "write") {
        await pool.query("CREATE TABLE IF NOT EXISTS hold_test (v text NOT NULL)");
        await pool.query("INSERT INTO hold_test (v) VALUES ($1)", [rest.join(" ")]);
        process.stdout.write("written\n");
      } else if (cmd === "read") {
        const { rows } = await pool.query<{ v: string }>("SELECT v FROM hold_test ORDER BY v");
        process.stdout.write(`rows ${JSON.stringify(rows.map((r) => r.v))}\n`);
      } else if (cmd === "migrations") {
        const { rows } = await pool.query<{ version: number; count: number }>(
          "SELECT version, count(*)::int AS count FROM opsgraph_migrations GROUP BY version ORDER BY version",
        );
        process.stdout.write(`migrations ${JSON.stringify(rows)}\n`);
      } else {
        process.stdout.write(`error unknown command ${cmd}\n`);
      }
    } catch (e) {
      process.stdout.write(`error ${(e as Error).message.split("\n")[0]}\n`);
    }
  });
});
rl.on("close", () => {
  void queue.then(async () => {
    await db.close();
    process.exit(0);
  });
});
