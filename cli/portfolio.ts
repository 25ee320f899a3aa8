import path from "node:path";
import type { CompanyResult } from "../flows/portfolio-monitoring/agents/company.js";
import { openApp } from "../app/app.js";
import type { Config } from "../runtime/config.js";
import { InputError } from "../runtime/errors.js";
import { portfolioInputFromFlags, readPortfolioInput, type PortfolioInput } from "../flows/portfolio-monitoring/run/input.js";
import type { RunRecord } from "../runtime/runs/flow-runner.js";
import { table } from "./format.js";
import { announceTiers } from "./run.js";

export interface PortfolioOptions {
  input?: string;
  fundamentals?: string;
  tickers?: string;
  year?: number;
  kpis?: string;
  period?: string;
  requestId?: string;
  json: boolean;
}

/** The portfolio a command names: `--input portfolio.yaml`, or `--tickers` with `--fundamentals`/`--kpis`. */
export async function readPortfolio(opts: Omit<PortfolioOptions, "json" | "requestId">): Promise<PortfolioInput> {
  if (opts.input) {
    if (opts.tickers || opts.fundamentals || opts.kpis)
      throw new InputError("--input: a portfolio file names its companies and sources; drop --tickers, --fundamentals and --kpis");
    const p = await readPortfolioInput(opts.input);
    return opts.year !== undefined ? { ...p, year: opts.year } : p;
  }
  if (!opts.tickers)
    throw new InputError("portfolio-monitoring: give --input <portfolio.yaml>, or --tickers A,B,... with --fundamentals <csv> (and/or --kpis <dir>)");
  return portfolioInputFromFlags(
    { tickers: opts.tickers, fundamentals: opts.fundamentals, kpis: opts.kpis, year: opts.year, period: opts.period },
    process.cwd(),
  );
}

interface PortfolioResult {
  companies?: CompanyResult[];
  report_path?: string | null;
  report_html_path?: string | null;
}

/** The companies of a finished run, one line each. */
export function companiesTable(run: RunRecord): string {
  const r = (run.result ?? {}) as PortfolioResult;
  const rows = [["ticker", "name", "sector", "status", "flags", "top flag"]];
  for (const c of r.companies ?? []) {
    const top = c.flags[0];
    rows.push([
      c.ticker,
      c.name.slice(0, 28),
      c.sector,
      c.status,
      String(c.flags.length),
      top
        ? `${top.severity} ${top.metric} ${top.period}${top.change_pct !== null ? ` ${top.change_pct > 0 ? "+" : ""}${top.change_pct.toFixed(1)}%` : ""}`
        : (c.reason ?? ""),
    ]);
  }
  return table(rows);
}

/** `opsgraph run portfolio-monitoring`: reviews a portfolio now; exit 1 when the run failed. */
export async function runPortfolio(cfg: Config, opts: PortfolioOptions): Promise<number> {
  const portfolio = await readPortfolio(opts);
  const app = await openApp(cfg);
  announceTiers(cfg);
  try {
    if (!opts.json) process.stderr.write(`reviewing ${portfolio.companies.length} companies${portfolio.year ? ` for fiscal ${portfolio.year}` : ""}...\n`);
    const run = await app.portfolio.review({ portfolio, ...(opts.requestId ? { requestId: opts.requestId } : {}) });
    if (opts.json) process.stdout.write(JSON.stringify(run) + "\n");
    else {
      const r = (run.result ?? {}) as PortfolioResult;
      const counts = new Map<string, number>();
      for (const c of r.companies ?? []) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
      const rel = (p: string | null | undefined) => (p ? path.relative(process.cwd(), p) || p : "");
      process.stdout.write(
        [
          `run ${run.run_id} (${run.flow}) ${run.status}${run.cached ? " (stored result)" : ""}: ${run.model_calls} model calls, tiers ${run.tiers_used.join(", ") || "none"}, ${run.duration_ms} ms`,
          companiesTable(run),
          `${(r.companies ?? []).length} companies: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")}`,
          ...(r.report_path ? [`report: ${rel(r.report_path)}`, `html:   ${rel(r.report_html_path)}`] : []),
          ...(run.error ? [`error: ${run.error}`] : []),
        ].join("\n") + "\n",
      );
    }
    return run.status === "failed" || run.status === "dead_lettered" ? 1 : 0;
  } finally {
    await app.close();
  }
}
