// `npm run bench:portfolio`: a weekly review of 20 S&P 500 companies (AAL among them, fiscal
// 2014) through the real ChatOpenAI tier against the scripted server, every call after
// --latency-ms (100) with --fault-rate (0.2) of them failing (500, 429, hangs, resets,
// schema-invalid JSON), on the bench's own embedded PostgreSQL. Reports each run's wall time
// over the critical path of its model latencies (testing/scripted-portfolio.ts
// criticalPath: per stage, the slowest parallel task's calls and backoff, summed over stages),
// median of --runs (5) after one warm-up. Target: under 1.3.
//
//   npm run bench:portfolio -- [--json] [--runs N] [--latency-ms MS] [--fault-rate R]
import { setMaxListeners } from "node:events";
import path from "node:path";
import { parseArgs } from "node:util";
import type { CompanyResult } from "../flows/portfolio-monitoring/agents/company.js";
import { openApp } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { createModelTiers } from "../runtime/models/models.js";
import { portfolioInputFromFlags } from "../flows/portfolio-monitoring/run/input.js";
import { PortfolioRunner } from "../flows/portfolio-monitoring/run/runner.js";
import { startScriptedOpenAI } from "../testing/scripted-openai.js";
import { criticalPath, faulty, MODEL, scriptPortfolioModel } from "../testing/scripted-portfolio.js";
import { BENCH_DATA_DIR, median } from "./support.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    "latency-ms": { type: "string", default: "100" },
    "fault-rate": { type: "string", default: "0.2" },
    fundamentals: { type: "string", default: "../shared/datasets/portfolio/sp500-fundamentals-2012-2016/fundamentals.csv" },
    json: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const latencyMs = Number(values["latency-ms"]);
const rate = Number(values["fault-rate"]);
if (!Number.isInteger(runs) || runs < 1 || !(latencyMs >= 0) || !(rate >= 0 && rate < 1)) {
  process.stderr.write("bench:portfolio: --runs must be a whole number of at least 1, --latency-ms at least 0, --fault-rate in [0, 1)\n");
  process.exit(2);
}
// 20 parallel tasks listen on the run's abort signal (see cli/main.ts)
setMaxListeners(100);
const TICKERS = ["AAL", "DAL", "UAL", "AAPL", "MSFT", "ADBE", "AMZN", "HD", "ABT", "AMGN", "CL", "KO", "AEP", "D", "AFL", "AIG", "AMT", "CVX", "APA", "T"];
const progress = (m: string) => process.stderr.write(`bench:portfolio: ${m}\n`);

const server = await startScriptedOpenAI();
const app = await openApp(
  loadConfig({ OPSGRAPH_DATA_DIR: BENCH_DATA_DIR, LOG_LEVEL: "warn", ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}) }),
  { concurrency: 8 },
);
try {
  // a hung call is abandoned after 10 × the latency; retries wait 20, 40, 80, 160 ms
  const tiers = createModelTiers(
    loadConfig({
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: "sk-bench",
      OPSGRAPH_MODELS: MODEL,
      OPSGRAPH_MODEL_TIMEOUT_MS: String(Math.max(500, latencyMs * 10)),
    }),
  );
  const runner = new PortfolioRunner({
    pool: app.db.pool,
    tiers,
    reportsDir: path.join(BENCH_DATA_DIR, "reports"),
    backoff: { delaysMs: [20, 40, 80, 160], maxAttempts: 5, maxWaitMs: 2000, jitter: 0 },
  });
  const portfolio = (tickers: string[]) =>
    portfolioInputFromFlags({ fundamentals: values.fundamentals, tickers: tickers.join(","), year: 2014 }, process.cwd());
  const tag = Date.now().toString(36);
  scriptPortfolioModel(server);
  await runner.review({ portfolio: portfolio(["LUV", "PG"]), requestId: `bench-warm-${tag}` });
  const samples: { wall: number; path: number; ratio: number; faults: number; calls: number; flagged: number; aal: boolean }[] = [];
  for (let i = 0; i < runs; i++) {
    server.reset();
    const injector = faulty({ rate, seed: 10 + i, latencyMs });
    scriptPortfolioModel(server, injector.wrap);
    const t0 = performance.now();
    const run = await runner.review({ portfolio: portfolio(TICKERS), requestId: `bench-${tag}-${i}` });
    const wall = performance.now() - t0;
    if (run.status !== "completed") throw new Error(`bench:portfolio: run ended ${run.status}: ${run.error ?? ""}`);
    const companies = (run.result as { companies: CompanyResult[] }).companies;
    const p = criticalPath(run.attempts ?? []).ms;
    const aal = companies.find((c) => c.ticker === "AAL")?.flags.some((f) => f.metric === "total_revenue" && f.period === "2014") ?? false;
    samples.push({
      wall,
      path: p,
      ratio: wall / p,
      faults: Object.values(injector.stats.faults).reduce((n, k) => n + k, 0),
      calls: run.model_calls,
      flagged: companies.filter((c) => c.status === "flagged").length,
      aal,
    });
    progress(
      `run ${i + 1}/${runs}: ${Math.round(wall)} ms, critical path ${Math.round(p)} ms, ratio ${(wall / p).toFixed(2)}, ${samples.at(-1)!.faults} faults`,
    );
  }
  const out = {
    companies: TICKERS.length,
    latency_ms: latencyMs,
    fault_rate: rate,
    runs,
    critical_path_ratio: median(samples.map((s) => s.ratio)),
    wall_ms: median(samples.map((s) => s.wall)),
    critical_path_ms: median(samples.map((s) => s.path)),
    samples,
  };
  if (values.json) process.stdout.write(JSON.stringify(out) + "\n");
  else {
    process.stdout.write(
      [
        `portfolio monitoring, ${TICKERS.length} companies, ${latencyMs} ms a call, ${Math.round(rate * 100)}% faults, median of ${runs}`,
        `critical_path_ratio  ${out.critical_path_ratio.toFixed(2)}  (target < 1.3)`,
        `wall                 ${Math.round(out.wall_ms)} ms`,
        `critical path        ${Math.round(out.critical_path_ms)} ms (per stage, the slowest task's calls and backoff)`,
        `runs                 ${samples.map((s) => `${s.ratio.toFixed(2)} (${s.faults} faults, ${s.calls} calls, AAL ${s.aal ? "flagged" : "NOT flagged"})`).join(", ")}`,
      ].join("\n") + "\n",
    );
  }
} finally {
  await app.close();
  await server.close();
}
