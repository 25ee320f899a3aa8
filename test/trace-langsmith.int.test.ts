import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { databaseUrl, ROOT, runOpsgraph } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";

// LangSmith tracing through the CLI, as a user turns it on (LANGSMITH_TRACING=true): runs
// reach LangSmith under opsgraph's names, and an unreachable LangSmith never holds a run or
// the process.

const db = useFreshDatabase("opsgraph-langsmith-");
const CONTRACT = path.join(ROOT, "samples", "contracts", "northwind-supply-agreement.txt");

/** A stand-in LangSmith API: records every request; `answer: false` accepts connections and never answers. */
async function fakeLangSmith(answer: boolean) {
  const requests: { method: string; url: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        body: (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8"),
      });
      if (!answer) return;
      if (req.url?.startsWith("/info"))
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: "0.10.0", batch_ingest_config: {} }));
      else res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r()) && server.closeAllConnections()),
  };
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

async function review(endpoint: string) {
  const env = {
    DATABASE_URL: databaseUrl(db.pool),
    OPSGRAPH_DATA_DIR: db.dir,
    LANGSMITH_TRACING: "true",
    LANGSMITH_ENDPOINT: endpoint,
    LANGSMITH_API_KEY: "lsv2-test",
    LOG_LEVEL: "warn",
  };
  const t0 = Date.now();
  const res = await runOpsgraph(["run", "contract-review", "--input", CONTRACT, "--auto-approve", "--json"], env, 30_000);
  return {
    ...res,
    ms: Date.now() - t0,
    run: res.code === 0 ? (JSON.parse(res.stdout.trim().split("\n").at(-1)!) as { run_id: string; status: string }) : undefined,
  };
}

describe("LangSmith tracing", () => {
  it("sends each run to LangSmith named after its flow, with its nodes under their own names", async () => {
    const ls = await fakeLangSmith(true);
    try {
      const r = await review(ls.url);
      expect(r.code, r.stderr).toBe(0);
      expect(r.run!.status).toBe("completed");
      const posted = ls.requests
        .filter((q) => q.method === "POST")
        .map((q) => q.body)
        .join("\n");
      expect(posted).toContain('"name":"contract-review"');
      for (const node of ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer", "report"]) expect(posted).toContain(`"name":"${node}"`);
      expect(posted).toContain(r.run!.run_id);
      // and the same names in opsgraph's own trace
      const trace = await runOpsgraph(["trace", r.run!.run_id], { DATABASE_URL: databaseUrl(db.pool), OPSGRAPH_DATA_DIR: db.dir });
      expect(trace.code, trace.stderr).toBe(0);
      expect(trace.stdout).toMatch(new RegExp(`^run ${r.run!.run_id.slice(0, 8)} \\(contract-review, completed\\)`));
      for (const node of ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer", "report"])
        expect(trace.stdout).toMatch(new RegExp(`─ ${node} \\d+ ms`));
      expect(trace.stdout).toContain("rules");
    } finally {
      await ls.close();
    }
  }, 60_000);

  it("with LangSmith unreachable (nothing listening), the run finishes and the process exits", async () => {
    const r = await review(await closedPort());
    expect(r.code, r.stderr).toBe(0);
    expect(r.run!.status).toBe("completed");
    expect(r.ms).toBeLessThan(10_000);
  }, 60_000);

  it("with a LangSmith that never answers, the run finishes and the process exits", async () => {
    const ls = await fakeLangSmith(false);
    try {
      const r = await review(ls.url);
      expect(r.code, r.stderr).toBe(0);
      expect(r.run!.status).toBe("completed");
      expect(r.ms).toBeLessThan(10_000);
      expect(ls.requests.length).toBeGreaterThan(0); // tracing was on: it tried
    } finally {
      await ls.close();
    }
  }, 60_000);
});
