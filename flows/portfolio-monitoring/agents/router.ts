import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import type { RouterDecision, RouterInput, TaskView } from "../../../nodes/supervisor.js";

/** The portfolio flow's workers, as the router names them. */
export const COLLECT = "collect_metrics";
export const ANALYSE = "analyse_kpis";

/** What the portfolio router knows besides the task board. */
export interface PortfolioRouterContext {
  tickers: string[];
}
export type PortfolioRouterInput = RouterInput<PortfolioRouterContext>;

/** A failed task is run again once: two dispatches in all. */
const MAX_DISPATCHES = 2;

export const PortfolioRouterAnswer = z.object({
  finish: z.boolean().describe("True when nothing is left to do for any ticker; then tasks is empty"),
  reason: z.string().describe("Why these tasks, or why finish, in one sentence"),
  tasks: z
    .array(
      z.object({
        worker: z.enum([COLLECT, ANALYSE]).describe("collect_metrics gathers a company's metrics; analyse_kpis flags issues in collected metrics"),
        ticker: z.string().describe("The ticker of the company, one of the portfolio's"),
      }),
    )
    .describe("The tasks to run now, in parallel"),
});
export type PortfolioRouterAnswer = z.infer<typeof PortfolioRouterAnswer>;

const tickerOf = (t: TaskView) => (t.payload as { ticker?: unknown } | null)?.ticker;
const find = (input: PortfolioRouterInput, worker: string, ticker: string) => input.tasks.find((t) => t.worker === worker && tickerOf(t) === ticker);
const retryable = (t: TaskView) => t.status === "failed" && t.dispatches < MAX_DISPATCHES;
/** A collect task that is done with data; a null output means the data is unavailable. */
const collected = (t: TaskView | undefined) => t?.status === "done" && t.has_output;

/** The plan: collect what is missing, analyse what was collected, re-run a failure once, finish. */
function plan(input: PortfolioRouterInput): { worker: string; ticker: string }[] {
  const tasks: { worker: string; ticker: string }[] = [];
  for (const ticker of new Set(input.context.tickers)) {
    const collect = find(input, COLLECT, ticker);
    if (!collect || retryable(collect)) {
      tasks.push({ worker: COLLECT, ticker });
      continue;
    }
    if (!collected(collect)) continue;
    const analyse = find(input, ANALYSE, ticker);
    if (!analyse || retryable(analyse)) tasks.push({ worker: ANALYSE, ticker });
  }
  return tasks;
}

function decision(tasks: { worker: string; ticker: string }[], reason: string): RouterDecision {
  return { finish: tasks.length === 0, reason, tasks: tasks.map(({ worker, ticker }) => ({ worker, payload: { ticker } })) };
}

function describeTask(t: TaskView): string {
  const outcome = t.status === "failed" ? `failed (${t.error ?? "no reason"})` : t.has_output ? "done" : "done, no data";
  return `- ${t.worker} ${String(tickerOf(t))}: ${outcome}, dispatched ${t.dispatches} time(s)${t.summary ? `; ${t.summary}` : ""}`;
}

export const portfolioRouter: Agent<PortfolioRouterInput, PortfolioRouterAnswer, RouterDecision> = {
  name: "portfolio_router",
  version: 1,
  modelOutput: PortfolioRouterAnswer,
  output: z.object({
    finish: z.boolean().describe("True when nothing is left to do"),
    reason: z.string().describe("Why, in one sentence"),
    tasks: z
      .array(
        z.object({
          worker: z.enum([COLLECT, ANALYSE]).describe("The worker"),
          payload: z.object({ ticker: z.string().describe("The company's ticker") }).describe("The task's payload"),
        }),
      )
      .describe("The tasks to run now"),
  }),
  prompt(input) {
    const workers = input.workers.map((w) => `- ${w.name}: ${w.description}`).join("\n");
    const tasks = input.tasks.length ? input.tasks.map(describeTask).join("\n") : "(none yet)";
    return {
      system:
        "You supervise the monitoring of a portfolio of companies. Each round you choose the next tasks for the workers; they run in parallel. " +
        "The plan: collect the metrics of every company that has no collect task; analyse every company whose metrics were collected with data " +
        "(a company with no data is not analysed); run a failed task again once, never more; finish when nothing is left to do.",
      user: `Round ${input.round}.\n\nWorkers:\n${workers}\n\nPortfolio tickers: ${input.context.tickers.join(", ")}\n\nTasks so far:\n${tasks}`,
    };
  },
  finish(answer, input) {
    const tickers = new Set(input.context.tickers);
    const problems: string[] = [];
    for (const t of answer.tasks) {
      if (!tickers.has(t.ticker)) problems.push(`ticker "${t.ticker}" is not in the portfolio`);
      else if (t.worker === ANALYSE && !collected(find(input, COLLECT, t.ticker)))
        problems.push(`${t.ticker} cannot be analysed: its metrics were not collected`);
    }
    if (!answer.finish && answer.tasks.length === 0) problems.push("no tasks and no finish: either name tasks or finish");
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return { ...decision(answer.finish ? [] : answer.tasks, answer.reason), finish: answer.finish };
  },
  rules(input) {
    const tasks = plan(input);
    const count = (w: string) => tasks.filter((t) => t.worker === w).length;
    const reason = tasks.length
      ? `collect ${count(COLLECT)}, analyse ${count(ANALYSE)} (a failed task is run again once)`
      : "every ticker is analysed, has no data, or failed twice";
    return decision(tasks, reason);
  },
};
