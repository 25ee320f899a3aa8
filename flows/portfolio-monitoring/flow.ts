import type { FlowDefinition } from "../../runtime/runs/flow-definition.js";
import { PORTFOLIO_AGENTS, PORTFOLIO_MONITORING, PortfolioRunner } from "./run/runner.js";
import { scheduledPortfolio } from "./run/schedule.js";
import { readPortfolioInput, type PortfolioInput } from "./run/input.js";

/** Portfolio monitoring in the registry: one runner, and a schedule's tick runs the kept portfolio. */
export const portfolioFlow: FlowDefinition<PortfolioRunner> = {
  name: PORTFOLIO_MONITORING,
  agents: PORTFOLIO_AGENTS,
  scheduleInput: { read: readPortfolioInput, summary: (input) => `${(input as PortfolioInput).companies.length} companies` },
  open(deps) {
    const runner = new PortfolioRunner(deps);
    return { handle: runner, runners: [runner], schedule: scheduledPortfolio(runner) };
  },
};
