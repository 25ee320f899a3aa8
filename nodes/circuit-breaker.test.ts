import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";

const clock = () => {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe("circuit breaker", () => {
  it("opens after a run of failures and refuses calls until the cooldown", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 3, cooldownMs: 30_000 });
    for (let i = 0; i < 3; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.failure();
    }
    expect(b.current).toBe("open");
    expect(b.tryAcquire()).toBe(false);
    c.advance(29_999);
    expect(b.tryAcquire()).toBe(false);
  });

  it("lets one probe through after the cooldown; its success closes the breaker", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 1, cooldownMs: 1000 });
    b.tryAcquire();
    b.failure();
    c.advance(1000);
    expect(b.current).toBe("half_open");
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // only one probe at a time
    b.success();
    expect(b.current).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("opens again when the probe fails, for another cooldown", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 1, cooldownMs: 1000 });
    b.tryAcquire();
    b.failure();
    c.advance(1000);
    b.tryAcquire();
    b.failure();
    expect(b.current).toBe("open");
    c.advance(999);
    expect(b.tryAcquire()).toBe(false);
  });

  it("opens on a failure rate even without a run of failures", () => {
    const b = new CircuitBreaker(clock(), { consecutiveFailures: 100, failureRate: 0.5, window: 10 });
    for (let i = 0; i < 10; i++) {
      b.tryAcquire();
      if (i % 2) b.failure();
      else b.success();
    }
    expect(b.current).toBe("open");
  });

  it("a success resets the run of failures", () => {
    const b = new CircuitBreaker(clock(), { consecutiveFailures: 3, failureRate: 1 });
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.current).toBe("closed");
  });
});
