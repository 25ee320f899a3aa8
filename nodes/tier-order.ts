import { RULES_TIER } from "./agent-step.js";

/** What the attempt ledger says of one model tier for one agent, over its recent window. */
export interface TierStats {
  agent: string;
  /** `provider:model`. */
  tier: string;
  /** Calls made (a skipped attempt is no call). */
  calls: number;
  ok: number;
  /** Answers that failed the agent's schema or its checks (outcome `invalid`). */
  invalid: number;
  /** Transient errors: timeouts, 429, 5xx, resets. */
  transient: number;
  /** p95 latency of the calls that answered (ms); null when none did. */
  p95_ms: number | null;
}

/**
 * When a tier is moved. A tier needs `minCalls` calls in the window before its stats count
 * (too few calls say nothing); it is demoted when its failures (schema and transient alike,
 * every call that did not answer) reach `demoteAt` of its calls. Demoted tiers go after the
 * healthy ones, fewer failures first (by bands of `bandWidth`), the faster first within a
 * band. One run in `floorEvery` per agent (by a hash of the run id, so it is reproducible)
 * keeps the configured order: a demoted model still answers some traffic and can earn its
 * place back as its window fills with successes.
 */
export interface TierOrderPolicy {
  minCalls: number;
  demoteAt: number;
  bandWidth: number;
  floorEvery: number;
}

export const DEFAULT_TIER_ORDER_POLICY: TierOrderPolicy = { minCalls: 20, demoteAt: 0.3, bandWidth: 0.1, floorEvery: 10 };

/** An agent's tiers in the order to try them (`rules` last), and one line per tier moved. */
export interface TierOrder {
  order: string[];
  why: string[];
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const secs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** 32-bit FNV-1a: a stable hash with no I/O. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Whether this run keeps the configured order for this agent (the traffic floor of demoted tiers). */
export function isFloorRun(runId: string, agent: string, floorEvery = DEFAULT_TIER_ORDER_POLICY.floorEvery): boolean {
  return floorEvery > 0 && fnv1a(`${runId}:${agent}`) % floorEvery === 0;
}

/**
 * The order in which `agent` tries its model tiers, from the configured order and the ledger's
 * stats of this agent (others are ignored). `rules` is always last (given or not). `runId`:
 * the run it is for (its floor share); without it, the order outside the floor (`opsgraph
 * status`). Pure: no I/O, no clock.
 */
export function orderTiers(
  input: { agent: string; tiers: readonly string[]; stats: readonly TierStats[]; runId?: string },
  policy: TierOrderPolicy = DEFAULT_TIER_ORDER_POLICY,
): TierOrder {
  const { agent } = input;
  const configured = input.tiers.filter((t) => t !== RULES_TIER);
  const byTier = new Map(input.stats.filter((s) => s.agent === agent).map((s) => [s.tier, s]));
  const failureRate = (s: TierStats) => (s.calls - s.ok) / s.calls;
  const demoted = (tier: string) => {
    const s = byTier.get(tier);
    return s !== undefined && s.calls >= policy.minCalls && failureRate(s) >= policy.demoteAt ? s : undefined;
  };
  const band = (s: TierStats) => Math.floor(failureRate(s) / policy.bandWidth + 1e-9);
  const healthy = configured.filter((t) => !demoted(t));
  const worse = configured
    .map((t, i) => ({ tier: t, i, s: demoted(t) }))
    .filter((x): x is { tier: string; i: number; s: TierStats } => x.s !== undefined)
    .sort((a, b) => band(a.s) - band(b.s) || (a.s.p95_ms ?? Infinity) - (b.s.p95_ms ?? Infinity) || a.i - b.i);
  const order = [...healthy, ...worse.map((x) => x.tier)];
  if (order.every((t, i) => t === configured[i])) return { order: [...configured, RULES_TIER], why: [] };
  if (input.runId !== undefined && isFloorRun(input.runId, agent, policy.floorEvery)) {
    return {
      order: [...configured, RULES_TIER],
      why: [`configured order: this run is ${agent}'s 1 in ${policy.floorEvery} that tries demoted tiers first, so a recovered model can earn its place back`],
    };
  }
  const why: string[] = [];
  for (const [i, tier] of order.entries()) {
    if (i <= configured.indexOf(tier)) continue; // not moved later
    const s = demoted(tier)!;
    const before = order[i - 1]!;
    const prev = demoted(before);
    if (prev && band(prev) === band(s)) {
      why.push(
        `${tier} after ${before}: both fail ${agent} about as often (${pct(failureRate(s))} vs ${pct(failureRate(prev))}), p95 ${s.p95_ms === null ? "unknown" : secs(s.p95_ms)} vs ${prev.p95_ms === null ? "unknown" : secs(prev.p95_ms)}`,
      );
      continue;
    }
    const kinds = [
      s.invalid ? `${pct(s.invalid / s.calls)} schema failures` : "",
      s.transient ? `${pct(s.transient / s.calls)} transient failures` : "",
    ].filter(Boolean);
    const other = s.calls - s.ok - s.invalid - s.transient;
    if (other) kinds.push(`${pct(other / s.calls)} other failures`);
    why.push(`${tier} after ${before}: ${kinds.join(", ")} for ${agent} over ${s.calls} calls`);
  }
  return { order: [...order, RULES_TIER], why };
}
