// Outage figures, measured from outside as a user meets an outage: the `opsgraph` command
// against the shared fault-injecting model server (../shared/tools/chaos-llm.mjs, OpenAI
// chat completions on loopback), each run on a fresh embedded PostgreSQL data dir, real time.
//
//   - one contract (samples/contracts/acme-saas-subscription.md) on a dead provider (every
//     request answers 500, or hangs past a 3 s timeout) with 1, 2 and 3 model tiers: seconds;
//   - N companies (S&P 500 fundamentals, 2014) on one model with 100 ms latency and a fifth
//     of its requests faulted (500, 429, hang, reset, garbage JSON, schema-invalid JSON):
//     seconds, model calls, calls per company.
//
//   npx tsx scripts/outage.ts [--companies 100] [--tiers 1,2,3] [--faults 500,hang] [--json]
import { datasetsDir } from "../runtime/config.js";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    companies: { type: "string", default: "100" },
    tiers: { type: "string", default: "1,2,3" },
    faults: { type: "string", default: "500,hang" },
    datasets: { type: "string", default: datasetsDir(process.env, ROOT) },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      "npx tsx scripts/outage.ts [options]: outage figures through the opsgraph command and ../shared/tools/chaos-llm.mjs",
      "  --companies N   companies of the portfolio run on a 20%-faulty model (default 100; 0 skips it)",
      "  --tiers LIST    model tier counts for the dead-provider contract (default 1,2,3)",
      "  --faults LIST   how the provider is dead: 500, hang (past a 3 s timeout), reset (default 500,hang)",
      "  --datasets DIR  the shared datasets (default $OPSGRAPH_DATASETS, else ../shared/datasets, else .opsgraph/datasets)",
      "  --json          one JSON object instead of the table",
      "",
    ].join("\n"),
  );
  process.exit(0);
}
const CHAOS = path.join(ROOT, "..", "shared", "tools", "chaos-llm.mjs");
const FUNDAMENTALS = path.join(values.datasets, "portfolio", "sp500-fundamentals-2012-2016", "fundamentals.csv");
for (const [what, file] of [
  ["the chaos model server", CHAOS],
  ["the S&P 500 fundamentals", FUNDAMENTALS],
] as const) {
  if (!fs.existsSync(file)) {
    process.stderr.write(`outage: ${what} not found at ${file}\n`);
    process.exit(2);
  }
}

/** Starts chaos-llm with `args`; resolves with its port and a stop function. */
async function chaosServer(args: string[]) {
  const child = spawn(process.execPath, [CHAOS, "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`chaos-llm exited (${code})`)));
  });
  const stats = async () => (await (await fetch(`http://127.0.0.1:${port}/__stats`)).json()) as { requests: number; faults: Record<string, number> };
  return { url: `http://127.0.0.1:${port}/v1`, stats, stop: () => child.kill() };
}

interface RunJson {
  status: string;
  /** The run itself, without the process's start (a fresh embedded PostgreSQL's initdb). */
  duration_ms: number;
  model_calls: number;
  tiers_used: string[];
  error?: string;
}

/** `opsgraph run ...` on a fresh data dir; the JSON line of its run, and the wall time. */
async function opsgraph(args: string[], env: Record<string, string>): Promise<{ run: RunJson; seconds: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-outage-"));
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "opsgraph.js"), ...args, "--json"], {
    cwd: ROOT,
    env: { ...process.env, ...env, OPSGRAPH_DATA_DIR: dataDir, OPENAI_API_KEY: "sk-outage", LOG_LEVEL: "error" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(dataDir, { recursive: true, force: true });
  const line = out.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`opsgraph ${args.join(" ")} exited ${code} with no run:\n${err.slice(-2000)}`);
  return { run: JSON.parse(line) as RunJson, seconds };
}

const rows: {
  case: string;
  seconds: number;
  run_seconds: number;
  status: string;
  model_calls: number;
  server_requests: number;
  per_company?: number;
  tiers_used: string[];
}[] = [];
const say = (s: string) => process.stderr.write(`${s}\n`);

for (const fault of values.faults.split(",").filter(Boolean)) {
  const server = await chaosServer(["--fault", fault]);
  try {
    for (const tiers of values.tiers.split(",").map(Number)) {
      const models = ["openai:model-a", "openai:model-b", "openai:model-c"].slice(0, tiers).join(",");
      say(`contract on a dead provider (${fault}), ${tiers} tier(s)...`);
      const before = (await server.stats()).requests;
      const { run, seconds } = await opsgraph(["run", "contract-review", "--input", "samples/contracts/acme-saas-subscription.md"], {
        OPSGRAPH_MODELS: models,
        OPENAI_BASE_URL: server.url,
        OPSGRAPH_MODEL_TIMEOUT_MS: "3000",
      });
      rows.push({
        case: `1 contract, dead provider (${fault}), ${tiers} tier(s)`,
        seconds,
        run_seconds: run.duration_ms / 1000,
        status: run.status,
        model_calls: run.model_calls,
        server_requests: (await server.stats()).requests - before,
        tiers_used: run.tiers_used,
      });
    }
  } finally {
    server.stop();
  }
}

const companies = Number(values.companies);
if (companies > 0) {
  const csv = fs.readFileSync(FUNDAMENTALS, "utf8");
  const header = csv.slice(0, csv.indexOf("\n")).split(",");
  const col = header.indexOf("Ticker Symbol");
  const tickers = [
    ...new Set(
      csv
        .split("\n")
        .slice(1)
        .map((l) => l.split(",")[col])
        .filter((t): t is string => !!t),
    ),
  ]
    .sort()
    .slice(0, companies);
  const server = await chaosServer(["--fault", "mix", "--rate", "0.2", "--latency-ms", "100"]);
  try {
    say(`${tickers.length} companies on a 20%-faulty model...`);
    const { run, seconds } = await opsgraph(["run", "portfolio-monitoring", "--fundamentals", FUNDAMENTALS, "--tickers", tickers.join(","), "--year", "2014"], {
      OPSGRAPH_MODELS: "openai:model-a",
      OPENAI_BASE_URL: server.url,
      OPSGRAPH_MODEL_TIMEOUT_MS: "3000",
    });
    const requests = (await server.stats()).requests;
    rows.push({
      case: `${tickers.length} companies, 20% faulty model, 1 tier`,
      seconds,
      run_seconds: run.duration_ms / 1000,
      status: run.status,
      model_calls: run.model_calls,
      server_requests: requests,
      per_company: requests / tickers.length,
      tiers_used: run.tiers_used,
    });
  } finally {
    server.stop();
  }
}

if (values.json) process.stdout.write(JSON.stringify({ outage: rows }) + "\n");
else {
  const lines = [["case", "command s", "run s", "status", "model calls (run)", "requests (server)", "per company", "tiers used"]];
  for (const r of rows)
    lines.push([
      r.case,
      r.seconds.toFixed(1),
      r.run_seconds.toFixed(1),
      r.status,
      String(r.model_calls),
      String(r.server_requests),
      r.per_company?.toFixed(2) ?? "",
      r.tiers_used.join(","),
    ]);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  process.stdout.write(lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n") + "\n");
}
process.exit(rows.every((r) => r.status === "completed") ? 0 : 1);
