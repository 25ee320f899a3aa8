import { isGraphBubbleUp, Send, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import type { Attempt } from "../../../../nodes/agent.js";
import type { Company } from "../../agents/company.js";
import { issueFlagger, type FlaggerInput } from "../../agents/issue-flagger.js";
import type { KpiAnalysis } from "../../agents/kpi-analyst.js";
import type { CompanyMetrics } from "../../agents/company.js";
import { ANALYSE, COLLECT } from "../../agents/router.js";
import { agentWorker } from "../../../../nodes/agent-worker.js";
import { taskKey } from "../../../../nodes/supervisor.js";
import type { PortfolioMonitoringState, PortfolioMonitoringUpdate } from "../state.js";

export const ISSUE_FLAGGER = "issue_flagger" as const;

/** The issue flagger as an agent step in a one-agent subgraph (retry, fallback, dead letter), once per company. */
const flagger = agentWorker({
  name: ISSUE_FLAGGER,
  description: "Turns one company's findings into flags with severity, evidence and an action",
  agent: issueFlagger,
  input: z.custom<FlaggerInput>(),
});

/** The flagger's one-agent graph, declared on its node so drawings show its resilience edges. */
export const flaggerGraph = flagger.graph;

/** A company the flagger gets: its analysis is done. */
export interface FlagTask {
  ticker: string;
  input: FlaggerInput;
}

/** The companies whose analysis is done, with what the flagger needs. */
export function flagTasks(state: PortfolioMonitoringState): FlagTask[] {
  const tasks: FlagTask[] = [];
  for (const c of state.companies) {
    const analysis = state.tasks[taskKey(ANALYSE, { ticker: c.ticker })];
    const metrics = state.tasks[taskKey(COLLECT, { ticker: c.ticker })]?.output as CompanyMetrics | null | undefined;
    if (analysis?.status !== "done" || !metrics) continue;
    const company: Company = { ticker: c.ticker, name: c.name ?? metrics.company.name, sector: c.sector ?? metrics.company.sector };
    tasks.push({ ticker: c.ticker, input: { company, analysis: analysis.output as KpiAnalysis } });
  }
  return tasks;
}

/** After the supervisor: one flagger per analysed company, in parallel; the report when there is none. */
export function routeToFlagger(state: PortfolioMonitoringState): Send<typeof ISSUE_FLAGGER>[] | "report" {
  const tasks = flagTasks(state).filter((t) => state.flags[t.ticker]?.status !== "done");
  return tasks.length ? tasks.map((flag_task) => new Send(ISSUE_FLAGGER, { flag_task })) : "report";
}

/** The supervisor's loop has ended: where the flaggers are sent from. */
export async function flagDispatch(): Promise<PortfolioMonitoringUpdate> {
  return {};
}

/** One company's flags; a failure marks only that company. */
export async function issueFlaggerNode(arg: { flag_task: FlagTask }, config: LangGraphRunnableConfig): Promise<PortfolioMonitoringUpdate> {
  const { ticker, input } = arg.flag_task;
  const attempts: Attempt[] = [];
  try {
    const report = await flagger.run(input, config, { round: 0, dispatch: 1, inputs: [], ledger: (a) => void attempts.push(...a) });
    return { flags: { [ticker]: { status: "done", report } }, attempts };
  } catch (e) {
    if (isGraphBubbleUp(e) || config.signal?.aborted) throw e;
    return { flags: { [ticker]: { status: "failed", error: (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300) } }, attempts };
  }
}
