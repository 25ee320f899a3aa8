// `npm run bench`: how long one rules-tier review takes and how big its checkpoint is, for
// the longest contract of a CUAD-format folder, on the runtime's PostgreSQL (embedded unless
// DATABASE_URL is set). Usage: npm run bench -- [--data DIR] [--repeat N]
import { createHash } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { extractClausesByRules } from "../agents/contract-review/clause-rules.js";
import { z } from "zod";
import { loadCuadSplit } from "../evals/cuad.js";
import { createModelTiers } from "../runtime/models.js";
import { openDatabase } from "../runtime/postgres.js";
import { ContractReviewRunner } from "../runtime/runs.js";

const { values } = parseArgs({ options: { data: { type: "string", default: "../shared/datasets/cuad/dev" }, repeat: { type: "string", default: "5" } } });
const repeat = Number(values.repeat);
const contracts = await loadCuadSplit(values.data!);
const longest = contracts.reduce((a, b) => (b.text.length > a.text.length ? b : a));
const dataDir = path.join(".opsgraph", "bench");
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir });
const runner = new ContractReviewRunner({ pool: db.pool, tiers: [], reportsDir: path.join(dataDir, "reports"), reviewThreshold: 60 });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: [string, string][] = [];

// one full review (ingest → report) of the longest contract, each with a fresh request id
const times: number[] = [];
let bytes = 0;
for (let i = 0; i < repeat; i++) {
  const text = longest.text;
  const document = { text, source: `${longest.id}.txt`, path: longest.id, bytes: Buffer.byteLength(text), sha256: createHash("sha256").update(text).digest("hex"), format: "txt" as const };
  const t0 = performance.now();
  const run = await runner.review({ document, requestId: `bench-${Date.now()}-${i}`, autoApprove: true });
  times.push(performance.now() - t0);
  if (run.status !== "completed") throw new Error(`bench run ended ${run.status}: ${run.error ?? ""}`);
  bytes = await runner.checkpointBytes(run.thread_id);
}
rows.push([`rules-tier review of ${longest.id} (${longest.text.length.toLocaleString("en")} chars), PostgreSQL, median of ${repeat}`, `${median(times).toFixed(0)} ms`]);
rows.push([`latest checkpoint of that run (with its blobs)`, `${(bytes / 1024).toFixed(1)} KiB`]);

// the clause rules alone over the whole folder
const t0 = performance.now();
for (const c of contracts) extractClausesByRules(c.text);
const all = performance.now() - t0;
const chars = contracts.reduce((n, c) => n + c.text.length, 0);
rows.push([`clause rules over ${contracts.length} contracts (${(chars / 1e6).toFixed(2)} M chars)`, `${all.toFixed(0)} ms (${(chars / 1e6 / (all / 1000)).toFixed(1)} M chars/s)`]);
// an open circuit breaker: how long a tier takes to refuse a call
const [tier] = createModelTiers({ modelTiers: [{ provider: "openai", model: "bench", id: "openai:bench" }], openai: { apiKey: "x", baseURL: "http://127.0.0.1:1/v1", structuredOutput: "jsonSchema" }, modelTimeoutMs: 1000 });
for (let i = 0; i < 5; i++) tier!.breaker.failure();
const skips = 10_000;
const s0 = performance.now();
for (let i = 0; i < skips; i++) await tier!.invoke({ agent: "bench", schema: z.object({}), system: "", user: "" }).catch(() => undefined);
rows.push([`open breaker refusing a call (mean of ${skips.toLocaleString("en")})`, `${(((performance.now() - s0) / skips) * 1000).toFixed(1)} µs`]);
rows.push(["peak RSS of this process", `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`]);

await db.close();
const width = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
