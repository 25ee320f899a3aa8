import { describe, expect, it } from "vitest";
import { DEFAULT_TIER_ORDER_POLICY, isFloorRun, orderTiers, type TierStats } from "./tier-order.js";

const BIG = "openai:gpt-4.1";
const MINI = "openai:gpt-4.1-mini";
const NANO = "openai:gpt-4.1-nano";
const AGENT = "risk_analyst";

const stats = (tier: string, s: Partial<TierStats> & { calls: number }, agent = AGENT): TierStats => {
  const invalid = s.invalid ?? 0;
  const transient = s.transient ?? 0;
  return { agent, tier, invalid, transient, ok: s.ok ?? s.calls - invalid - transient, p95_ms: s.p95_ms ?? 800, calls: s.calls };
};

/** Run ids outside (or inside) the risk analyst's traffic floor. */
const runIds = (n: number, floor: boolean, agent = AGENT) => {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (isFloorRun(`run-${i}`, agent) === floor) out.push(`run-${i}`);
  return out;
};
const RUN = runIds(1, false)[0]!;

describe("adaptive tier order", () => {
  it("keeps the configured order, rules last, when no tier fails", () => {
    const o = orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [stats(MINI, { calls: 100 }), stats(NANO, { calls: 100 })], runId: RUN });
    expect(o).toEqual({ order: [MINI, NANO, "rules"], why: [] });
  });

  it("tries a model that fails the agent's schema half the time after the next tier, and says why", () => {
    const o = orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [stats(MINI, { calls: 40, invalid: 21 }), stats(NANO, { calls: 30 })], runId: RUN });
    expect(o.order).toEqual([NANO, MINI, "rules"]);
    expect(o.why).toEqual([`${MINI} after ${NANO}: 53% schema failures for ${AGENT} over 40 calls`]);
  });

  it("demotes on transient failures too", () => {
    const o = orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [stats(MINI, { calls: 50, transient: 20 })], runId: RUN });
    expect(o.order).toEqual([NANO, MINI, "rules"]);
    expect(o.why).toEqual([`${MINI} after ${NANO}: 40% transient failures for ${AGENT} over 50 calls`]);
  });

  it("leaves a tier below the demotion threshold where it is", () => {
    const o = orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [stats(MINI, { calls: 100, invalid: 29 })], runId: RUN });
    expect(o.order).toEqual([MINI, NANO, "rules"]);
  });

  it("moves no tier before it has the minimum of calls", () => {
    const few = stats(MINI, { calls: DEFAULT_TIER_ORDER_POLICY.minCalls - 1, invalid: DEFAULT_TIER_ORDER_POLICY.minCalls - 1 });
    expect(orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [few], runId: RUN }).order).toEqual([MINI, NANO, "rules"]);
    const enough = stats(MINI, { calls: DEFAULT_TIER_ORDER_POLICY.minCalls, invalid: DEFAULT_TIER_ORDER_POLICY.minCalls });
    expect(orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: [enough], runId: RUN }).order).toEqual([NANO, MINI, "rules"]);
  });

  it("reads only the agent's own stats: another agent's failures move nothing", () => {
    const o = orderTiers({ agent: "summarizer", tiers: [MINI, NANO], stats: [stats(MINI, { calls: 40, invalid: 30 })], runId: RUN });
    expect(o).toEqual({ order: [MINI, NANO, "rules"], why: [] });
  });

  it("orders demoted tiers fewest failures first, the faster first when they fail about as often", () => {
    const slow = stats(BIG, { calls: 40, invalid: 16, p95_ms: 4_000 }); // 40%
    const fast = stats(MINI, { calls: 40, invalid: 17, p95_ms: 900 }); // 42.5%: the same band
    const o = orderTiers({ agent: AGENT, tiers: [BIG, MINI, NANO], stats: [slow, fast], runId: RUN });
    expect(o.order).toEqual([NANO, MINI, BIG, "rules"]);
    expect(o.why).toEqual([`${BIG} after ${MINI}: both fail ${AGENT} about as often (40% vs 43%), p95 4.0 s vs 900 ms`]);
    // latency only breaks ties: a slower tier that fails clearly less goes first
    const worse = stats(MINI, { calls: 40, invalid: 28, p95_ms: 900 }); // 70%
    expect(orderTiers({ agent: AGENT, tiers: [BIG, MINI, NANO], stats: [slow, worse], runId: RUN }).order).toEqual([NANO, BIG, MINI, "rules"]);
  });

  it("keeps rules last even when it is configured first or every model fails", () => {
    const o = orderTiers({
      agent: AGENT,
      tiers: ["rules", MINI, NANO],
      stats: [stats(MINI, { calls: 40, invalid: 40 }), stats(NANO, { calls: 40, transient: 40 })],
      runId: RUN,
    });
    expect(o.order.at(-1)).toBe("rules");
    expect(o.order.filter((t) => t === "rules")).toHaveLength(1);
    expect(orderTiers({ agent: AGENT, tiers: [], stats: [], runId: RUN }).order).toEqual(["rules"]);
  });

  it("gives a demoted tier first place on 1 run in 10, the same runs every time, so a recovered model is tried again", () => {
    const failing = [stats(MINI, { calls: 40, invalid: 30 })];
    const ids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const firsts = ids.map((runId) => orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: failing, runId }));
    const floor = firsts.filter((o) => o.order[0] === MINI);
    expect(floor.length).toBeGreaterThan(60);
    expect(floor.length).toBeLessThan(140);
    expect(floor[0]!.why[0]).toMatch(/1 in 10 that tries demoted tiers first/);
    // reproducible: the same run id gets the same order
    expect(ids.map((runId) => orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: failing, runId }))).toEqual(firsts);
    // without a run (opsgraph status): the order outside the floor
    expect(orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: failing }).order).toEqual([NANO, MINI, "rules"]);
  });

  it("lets a recovered model earn its place back once its window holds enough successes", () => {
    const recovered = [stats(MINI, { calls: 50, invalid: 14 })]; // 28%: under the threshold again
    expect(orderTiers({ agent: AGENT, tiers: [MINI, NANO], stats: recovered, runId: RUN }).order).toEqual([MINI, NANO, "rules"]);
  });
});
