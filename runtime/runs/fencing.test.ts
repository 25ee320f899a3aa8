import { describe, expect, it } from "vitest";
import type { ModelTier, StructuredCall } from "../../nodes/agent.js";
import { FencedError, RunLease } from "./fencing.js";

// An execution's lease as its process sees it: no model call once it has run out here (a
// process thawed after a freeze), and a call in flight is cancelled when it is lost.

function tier() {
  const calls: StructuredCall<unknown>[] = [];
  const t: ModelTier = {
    id: "openai:test",
    invoke: async <M>(call: StructuredCall<M>) => {
      calls.push(call as StructuredCall<unknown>);
      return { output: {} as M, usage: { input_tokens: 0, output_tokens: 0 } };
    },
  };
  return { t, calls };
}
const call = { agent: "risk_analyst", schema: {} as never, system: "", user: "" };

describe("RunLease", () => {
  it("refuses a model call once the lease has not been renewed for leaseMs (the clock jumped past it), and aborts the run", async () => {
    let now = 1_000;
    const lease = new RunLease("r1", 2_000, () => now);
    lease.claimed(3);
    const { t, calls } = tier();
    const guarded = lease.guard(t);
    await guarded.invoke(call);
    now += 1_500;
    lease.renewed(now);
    now += 1_900;
    await guarded.invoke(call);
    expect(calls).toHaveLength(2);
    now += 200; // 2 100 ms since the last renewal
    await expect(guarded.invoke(call)).rejects.toThrow(FencedError);
    await expect(guarded.invoke(call)).rejects.toThrow("run r1: lease lost (not renewed for 2100 ms, lease 2000 ms)");
    expect(calls).toHaveLength(2);
    expect(lease.signal.aborted).toBe(true);
    lease.renewed(now); // a late renewal does not bring a lost lease back
    expect(() => lease.check()).toThrow(FencedError);
  });

  it("passes its signal to the call: losing the lease cancels a call in flight", async () => {
    const lease = new RunLease("r2", 60_000);
    lease.claimed(1);
    const { t, calls } = tier();
    await lease.guard(t).invoke(call);
    expect(calls[0]!.signal?.aborted).toBe(false);
    lease.lose("another execution holds the run");
    expect(calls[0]!.signal?.aborted).toBe(true);
    lease.end();
  });

  it("an execution with no lease (opsgraph run: the thread's lock) never runs out", async () => {
    let now = 0;
    const lease = new RunLease("r3", undefined, () => now);
    lease.claimed(1);
    now += 1e9;
    expect(() => lease.check()).not.toThrow();
  });
});
