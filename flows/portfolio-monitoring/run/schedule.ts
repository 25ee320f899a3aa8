import type { SchedulableFlow } from "../../../runtime/queue/schedules.js";
import type { PortfolioInput } from "./input.js";
import { PORTFOLIO_MONITORING, type PortfolioRunner } from "./runner.js";

/** Portfolio monitoring as a schedule starts it: a tick's run of the kept portfolio. */
export function scheduledPortfolio(runner: Pick<PortfolioRunner, "submit">): SchedulableFlow<PortfolioInput> {
  return { flow: PORTFOLIO_MONITORING, submit: (portfolio, requestId) => runner.submit({ portfolio, requestId }) };
}
