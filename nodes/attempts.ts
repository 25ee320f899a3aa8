// The attempt ledger as an agent step reads it: which tiers an agent has, which answered,
// what the run has spent, and what other agents have learned about a tier.
import type { Attempt, ModelTier } from "./agent.js";
import type { budgetOf } from "./budget.js";

/** The name of the deterministic last tier. */
export const RULES_TIER = "rules";

/** `produced_by` of an output a person supplied at an escalation. */
export const PERSON_TIER = "person";

/** The tiers a run's context gives: the flow's chain, and agents' own. */
export interface TierContext {
  tiers?: ModelTier[];
  agentTiers?: Record<string, ModelTier[]>;
}

/** What abandonedBy reads of a run's state: its attempts and each step's cursor. */
export interface LedgerState {
  attempts: readonly Attempt[];
  steps: Record<string, { tier: number; order?: string[] } | undefined>;
}

/** An agent's model tiers in the run's context: its own list, else the flow's. */
export function tiersOf(ctx: TierContext, agent: string): ModelTier[] {
  return ctx.agentTiers?.[agent] ?? ctx.tiers ?? [];
}

/** A chain as people read it: its tier ids, then rules ("openai:gpt-4.1-mini > rules"). */
export const chainText = (ids: readonly string[]): string => [...ids, RULES_TIER].join(" > ");

/** The most model tiers any agent of the run has (what a flow's worst case counts). */
export function mostTiers(ctx: TierContext): number {
  return Math.max(ctx.tiers?.length ?? 0, ...Object.values(ctx.agentTiers ?? {}).map((t) => t.length));
}

/** `tiers` in the order of their ids in `order` (an id no tier has is left out). */
export function orderedTiers(tiers: readonly ModelTier[], order: readonly string[]): ModelTier[] {
  return order.flatMap((id) => tiers.filter((t) => t.id === id));
}

/** HTTP requests made to model providers, as the ledger records them (retries included). */
export function countModelCalls(attempts: readonly Attempt[]): number {
  return attempts.filter((a) => a.tier !== RULES_TIER && a.tier !== PERSON_TIER && a.outcome !== "skipped").length;
}

/** The tiers that produced an output, in the order they first did. */
export function tiersUsed(attempts: readonly Attempt[]): string[] {
  return [...new Set(attempts.filter((a) => a.outcome === "ok").map((a) => a.tier))];
}

/** Per agent, the tiers that produced its outputs, in the order they first did (a long input's parts, a supervisor's rounds). */
export function tiersUsedByAgent(attempts: readonly Attempt[]): Record<string, string[]> {
  const by: Record<string, string[]> = {};
  for (const a of attempts) {
    if (a.outcome !== "ok") continue;
    const list = (by[a.agent] ??= []);
    if (!list.includes(a.tier)) list.push(a.tier);
  }
  return by;
}

/** Why the model tiers are passed over now (the run's model calls or its cost cap spent), or null. */
export function budgetSpent(
  attempts: readonly Attempt[],
  budget: ReturnType<typeof budgetOf>,
  costOf: ((attempt: Attempt) => number) | undefined,
): string | null {
  const calls = countModelCalls(attempts);
  if (calls >= budget.maxModelCalls) return `the run's model-call budget of ${budget.maxModelCalls} is spent`;
  if (budget.maxCostUsd !== null && costOf) {
    const cost = attempts.reduce((sum, a) => sum + (a.tokens ? costOf(a) : 0), 0);
    if (cost >= budget.maxCostUsd) return `the run's cost cap of $${budget.maxCostUsd} is reached ($${cost.toFixed(4)})`;
  }
  return null;
}

/**
 * How many other agents of this run gave up on a tier after a transient error since it last
 * answered: their latest call to it failed so, and their step moved past it. (An agent still
 * retrying the tier, in a parallel branch, has not given up.) One: this step tries the tier once,
 * with no backoff. Two: this step passes it over (the run has learned the tier is down, whatever
 * its breaker's threshold).
 */
export function abandonedBy(state: LedgerState, agent: string, tierIndex: number, tier: string): number {
  const seen = new Set<string>();
  let gaveUp = 0;
  for (let i = state.attempts.length - 1; i >= 0; i--) {
    const a = state.attempts[i]!;
    if (a.tier !== tier || a.outcome === "skipped") continue;
    if (a.outcome === "ok") break; // it answered since
    if (a.agent === agent || seen.has(a.agent)) continue;
    seen.add(a.agent);
    const other = state.steps[a.agent];
    // the other step's own index of this tier: its order may differ from this step's
    const theirs = other?.order ? other.order.indexOf(tier) : tierIndex;
    if (a.outcome === "error" && a.error_class === "transient" && (other?.tier ?? -1) > theirs) gaveUp++;
  }
  return gaveUp;
}
