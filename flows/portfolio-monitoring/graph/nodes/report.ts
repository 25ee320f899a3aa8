import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type { CompanyMetrics, CompanyResult } from "../../agents/company.js";
import type { KpiAnalysis } from "../../agents/kpi-analyst.js";
import { ANALYSE, COLLECT } from "../../agents/router.js";
import { storeOfRun } from "../../../../nodes/agent-step.js";
import { taskKey } from "../../../../nodes/supervisor.js";
import { renderPortfolioReport } from "../report.js";
import { REPORTS_NAMESPACE, type PortfolioMonitoringContext, type PortfolioMonitoringState, type PortfolioMonitoringUpdate } from "../state.js";

/** Every company's status: one company's failure or missing data never fails the run. */
export function companyResults(state: PortfolioMonitoringState): { results: CompanyResult[]; metrics: Record<string, CompanyMetrics | null> } {
  const metrics: Record<string, CompanyMetrics | null> = {};
  const results = state.companies.map((c): CompanyResult => {
    const collect = state.tasks[taskKey(COLLECT, { ticker: c.ticker })];
    const analyse = state.tasks[taskKey(ANALYSE, { ticker: c.ticker })];
    const m = (collect?.output as CompanyMetrics | null | undefined) ?? null;
    metrics[c.ticker] = m;
    const base = { ticker: c.ticker, name: c.name ?? m?.company.name ?? c.ticker, sector: c.sector ?? m?.company.sector ?? "Unknown", flags: [] };
    const stopped = state.supervisor_stop && state.supervisor_stop.reason !== "finished" ? `; the supervisor stopped: ${state.supervisor_stop.note}` : "";
    if (!collect) return { ...base, status: "failed", reason: `its metrics were never collected${stopped}` };
    if (collect.status === "failed") return { ...base, status: "failed", reason: `collecting its metrics failed: ${collect.error ?? "unknown error"}` };
    if (!m) return { ...base, status: "data_unavailable", reason: `no data source has ${c.ticker}` };
    if (!analyse) return { ...base, status: "failed", reason: `it was never analysed${stopped}` };
    if (analyse.status === "failed") return { ...base, status: "failed", reason: `the KPI analysis failed: ${analyse.error ?? "unknown error"}` };
    if ((analyse.output as KpiAnalysis).focus_year === null) return { ...base, status: "data_unavailable", reason: "no fiscal year under review in its data" };
    const flagged = state.flags[c.ticker];
    if (!flagged) return { ...base, status: "failed", reason: "its issues were never flagged" };
    if (flagged.status === "failed") return { ...base, status: "failed", reason: `flagging issues failed: ${flagged.error}` };
    const flags = flagged.report.flags;
    return { ...base, status: flags.length ? "flagged" : "ok", flags };
  });
  return { results, metrics };
}

/** Writes the Markdown and HTML reports (to the run's sink, or the Store in Studio) and records every company's result. */
export async function report(state: PortfolioMonitoringState, config: LangGraphRunnableConfig): Promise<PortfolioMonitoringUpdate> {
  const ctx = (config.context ?? {}) as PortfolioMonitoringContext;
  const { results, metrics } = companyResults(state);
  const now = new Date((ctx.clock?.now() ?? Date.now()) as number);
  const title = state.title ?? "Portfolio review";
  const { markdown, html } = renderPortfolioReport({ title, generated_at: now.toISOString(), year: ctx.year ?? null, companies: results, metrics });
  const thread = String((config.configurable as { thread_id?: unknown } | undefined)?.thread_id ?? "portfolio");
  const base = `portfolio-${(thread.split(":").pop() ?? thread).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 16)}`;
  const write = async (name: string, content: string) => {
    if (ctx.reports) return ctx.reports.write(name, content);
    const store = storeOfRun(config);
    if (!store) throw new Error("portfolio-monitoring needs a report sink or a Store");
    await store.put(REPORTS_NAMESPACE, name, { content });
    return `store:${REPORTS_NAMESPACE.join("/")}/${name}`;
  };
  const report_path = await write(`${base}.md`, markdown);
  const report_html_path = await write(`${base}.html`, html);
  return { results, report_path, report_html_path };
}
