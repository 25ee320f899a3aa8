import { DEFAULT_BACKOFF, type BackoffPolicy } from "./errors.js";

/**
 * What one run may spend, read from the run's context by every flow (the CLI, a worker, a
 * Studio run's JSON context). The defaults live here and only here.
 */
export interface RunBudget {
  /** Supervisor rounds (router decisions) at most; the next one stops the loop ("max_rounds"). */
  maxRounds: number;
  /** Model calls (HTTP requests, retries included) at most: then agents answer on rules. */
  maxModelCalls: number;
  /** US$ of model calls at most (OPSGRAPH_PRICES' table), or null for no cap: then agents answer on rules. */
  maxCostUsd: number | null;
  /**
   * What one agent step may lose to failures across all its tiers (ms): failed calls (a
   * timeout's wait included) and backoff waits together. Once spent, no more waiting: each
   * remaining tier is tried once, then rules. Calls that answer do not count (a long contract's
   * chunks take what they take).
   */
  stepBudgetMs: number;
}

export const DEFAULT_BUDGET: RunBudget = { maxRounds: 8, maxModelCalls: 500, maxCostUsd: null, stepBudgetMs: 30_000 };

/** The budget keys a run's context may set (numbers; anything else is ignored). */
export type BudgetContext = Partial<RunBudget>;

const positive = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);

/** The run's budget: its context's settings over the defaults. */
export function budgetOf(context: BudgetContext | undefined): RunBudget {
  const c = context ?? {};
  return {
    maxRounds: Math.floor(positive(c.maxRounds) ?? DEFAULT_BUDGET.maxRounds),
    maxModelCalls: Math.floor(positive(c.maxModelCalls) ?? DEFAULT_BUDGET.maxModelCalls),
    maxCostUsd: positive(c.maxCostUsd) ?? (c.maxCostUsd === 0 ? 0 : DEFAULT_BUDGET.maxCostUsd),
    stepBudgetMs: positive(c.stepBudgetMs) ?? DEFAULT_BUDGET.stepBudgetMs,
  };
}

/**
 * The supersteps one agent step may take at most. Every attempt is a node followed by its
 * retry or fallback node; a tier has `maxAttempts` attempts and one repair; then rules, and an
 * escalation or a dead letter.
 */
export function agentStepSupersteps(tiers: number, backoff: Pick<BackoffPolicy, "maxAttempts"> = DEFAULT_BACKOFF): number {
  return 2 * tiers * (backoff.maxAttempts + 1) + 3;
}

/** What a flow's recursion limit depends on. */
export interface LimitInputs {
  /** Model tiers (rules not counted). */
  tiers: number;
  backoff?: Pick<BackoffPolicy, "maxAttempts">;
  /** Supervisor rounds (flows with a supervisor). Default: DEFAULT_BUDGET.maxRounds. */
  maxRounds?: number;
}

/**
 * A recursion limit LangGraph never reaches before opsgraph's own bounds do: `agentSteps` agent
 * steps and `plainSteps` other nodes on the longest path, `loops` times over (a supervisor's
 * rounds), and a margin.
 */
export function recursionLimitOf(inputs: LimitInputs, path: { agentSteps: number; plainSteps: number; loops?: number }): number {
  const perPass = path.agentSteps * agentStepSupersteps(inputs.tiers, inputs.backoff) + path.plainSteps;
  return perPass * (path.loops ?? 1) + 10;
}
