import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidOutputError } from "../../../nodes/agent.js";
import { AgentStepChannels, type GraphBuilder } from "../../../nodes/agent-step.js";
import { addSupervisor, SupervisorChannels, supervisorNodes, taskKey, type SupervisorWorker, type TaskView } from "../../../nodes/supervisor.js";
import { ANALYSE, COLLECT, portfolioRouter, type PortfolioRouterInput } from "./router.js";

const WORKERS = [
  { name: COLLECT, description: "collects a company's metrics" },
  { name: ANALYSE, description: "flags issues in a company's metrics" },
];

function task(worker: string, ticker: string, status: "done" | "failed", extra: Partial<TaskView> = {}): TaskView {
  return {
    key: taskKey(worker, { ticker }),
    worker,
    payload: { ticker },
    status,
    error: status === "failed" ? "boom" : null,
    dispatches: 1,
    round: 1,
    summary: null,
    has_output: status === "done",
    ...extra,
  };
}
const input = (tickers: string[], tasks: TaskView[] = []): PortfolioRouterInput => ({ round: 1, workers: WORKERS, tasks, context: { tickers } });
const asked = (i: PortfolioRouterInput) => portfolioRouter.rules(i).tasks.map((t) => `${t.worker}:${(t.payload as { ticker: string }).ticker}`);

describe("portfolio router rules", () => {
  it("collects every ticker that has no collect task, once each", () => {
    const decision = portfolioRouter.rules(input(["AAL", "MSFT", "AAL"]));
    expect(decision.finish).toBe(false);
    expect(decision.tasks).toEqual([
      { worker: COLLECT, payload: { ticker: "AAL" } },
      { worker: COLLECT, payload: { ticker: "MSFT" } },
    ]);
  });

  it("analyses a ticker whose metrics were collected with data, never one whose data is unavailable", () => {
    const tasks = [task(COLLECT, "AAL", "done"), task(COLLECT, "NODATA", "done", { has_output: false })];
    expect(asked(input(["AAL", "NODATA"], tasks))).toEqual([`${ANALYSE}:AAL`]);
  });

  it("re-dispatches a failed task once, not twice", () => {
    const once = [task(COLLECT, "AAL", "failed"), task(COLLECT, "MSFT", "done"), task(ANALYSE, "MSFT", "failed")];
    expect(asked(input(["AAL", "MSFT"], once))).toEqual([`${COLLECT}:AAL`, `${ANALYSE}:MSFT`]);
    const twice = [task(COLLECT, "AAL", "failed", { dispatches: 2 }), task(COLLECT, "MSFT", "done"), task(ANALYSE, "MSFT", "failed", { dispatches: 2 })];
    const decision = portfolioRouter.rules(input(["AAL", "MSFT"], twice));
    expect(decision).toEqual({ finish: true, reason: "every ticker is analysed, has no data, or failed twice", tasks: [] });
  });

  it("finishes when every ticker is analysed", () => {
    const tasks = [task(COLLECT, "AAL", "done"), task(ANALYSE, "AAL", "done")];
    expect(portfolioRouter.rules(input(["AAL"], tasks)).finish).toBe(true);
  });
});

describe("portfolio router with a model", () => {
  it("turns a model's answer into tasks with a ticker payload", () => {
    const decision = portfolioRouter.finish({ finish: false, reason: "start", tasks: [{ worker: COLLECT, ticker: "AAL" }] }, input(["AAL"]));
    expect(decision).toEqual({ finish: false, reason: "start", tasks: [{ worker: COLLECT, payload: { ticker: "AAL" } }] });
  });

  it("rejects an answer naming a ticker outside the portfolio, or analysing before collecting", () => {
    const i = input(["AAL", "MSFT"], [task(COLLECT, "MSFT", "done", { has_output: false })]);
    const answer = {
      finish: false,
      reason: "go",
      tasks: [
        { worker: COLLECT, ticker: "TSLA" },
        { worker: ANALYSE, ticker: "AAL" },
        { worker: ANALYSE, ticker: "MSFT" },
      ],
    } as const;
    const error = (() => {
      try {
        portfolioRouter.finish({ ...answer, tasks: [...answer.tasks] }, i);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOutputError);
    expect((error as InvalidOutputError).problems).toEqual([
      'ticker "TSLA" is not in the portfolio',
      "AAL cannot be analysed: its metrics were not collected",
      "MSFT cannot be analysed: its metrics were not collected",
    ]);
    expect(() => portfolioRouter.finish({ finish: false, reason: "hm", tasks: [] }, i)).toThrow(/no tasks and no finish/);
  });

  it("prompts with the workers, the tickers, the tasks so far and the plan", () => {
    const { system, user } = portfolioRouter.prompt(input(["AAL"], [task(COLLECT, "AAL", "failed", { error: "timeout" })]));
    expect(system).toMatch(/run a failed task again once/);
    expect(user).toContain(`${COLLECT}: collects a company's metrics`);
    expect(user).toContain("Portfolio tickers: AAL");
    expect(user).toContain(`${COLLECT} AAL: failed (timeout), dispatched 1 time(s)`);
  });
});

describe("portfolio router driving the supervisor", () => {
  it("collects, re-collects a failure once, analyses what has data, then finishes", async () => {
    const State = Annotation.Root({ tickers: Annotation<string[]>, ...AgentStepChannels, ...SupervisorChannels });
    const Ticker = z.object({ ticker: z.string() });
    const collectCalls: string[] = [];
    const analysed: string[] = [];
    const collect: SupervisorWorker<{ ticker: string }> = {
      name: COLLECT,
      description: "collects a company's metrics",
      input: Ticker,
      async run({ ticker }) {
        collectCalls.push(ticker);
        if (ticker === "FLAKY" && collectCalls.filter((t) => t === "FLAKY").length === 1) throw new Error("source timed out");
        return ticker === "NODATA" ? null : { ticker };
      },
    };
    const analyse: SupervisorWorker<{ ticker: string }> = {
      name: ANALYSE,
      description: "flags issues",
      input: Ticker,
      run: async ({ ticker }) => void analysed.push(ticker),
    };
    const graph = new StateGraph(State);
    const g = graph as unknown as GraphBuilder;
    g.addEdge(START, supervisorNodes().round);
    addSupervisor(g, { router: portfolioRouter, workers: [collect, analyse], context: (s: typeof State.State) => ({ tickers: s.tickers }), next: END });
    const state = await graph
      .compile({ checkpointer: new MemorySaver() })
      .invoke({ tickers: ["AAL", "NODATA", "FLAKY"] }, { configurable: { thread_id: "p" } });
    expect(collectCalls.sort()).toEqual(["AAL", "FLAKY", "FLAKY", "NODATA"]);
    expect(analysed.sort()).toEqual(["AAL", "FLAKY"]);
    expect(state.supervisor_stop?.reason).toBe("finished");
    expect(state.decisions.map((d) => d.dispatched.length)).toEqual([3, 2, 1, 0]);
  });
});
