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

  it("says which failure opened it, and the failure rate it saw", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 2, cooldownMs: 1000 });
    b.success();
    expect(b.failure()).toEqual({ opened: false, failureRate: 0.5 });
    expect(b.failure()).toEqual({ opened: true, failureRate: 2 / 3 });
    expect(b.failure().opened).toBe(false); // a late failure while open opens nothing
    c.advance(1000);
    expect(b.tryAcquire()).toBe(true);
    expect(b.probe).toBe(true);
    expect(b.failure().opened).toBe(false); // a failed probe re-opens; it was open already
  });

  it("a late failure while open does not push the cooldown back", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 1, cooldownMs: 1000 });
    b.failure();
    c.advance(600);
    b.failure();
    c.advance(400);
    expect(b.current).toBe("half_open");
  });
});

describe("circuit breaker adopting the fleet's state", () => {
  it("open elsewhere: refuses at once, until the fleet's cooldown (counted from when the fleet opened it)", () => {
    const c = clock();
    c.advance(10_000);
    const b = new CircuitBreaker(c, { consecutiveFailures: 3, cooldownMs: 1000 });
    b.adopt({ state: "open", openedAt: 10_000 - 400, probeHeldUntil: null });
    expect(b.current).toBe("open");
    expect(b.tryAcquire()).toBe(false);
    c.advance(599);
    expect(b.tryAcquire()).toBe(false);
    c.advance(1);
    expect(b.tryAcquire()).toBe(true); // past the cooldown: this process may ask for the probe
    expect(b.probe).toBe(true);
  });

  it("half-open with another process's probe out: refuses until that probe's deadline, then may probe", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 1, cooldownMs: 1000 });
    b.adopt({ state: "half_open", openedAt: -5000, probeHeldUntil: 2000 });
    expect(b.current).toBe("half_open");
    expect(b.tryAcquire()).toBe(false);
    c.advance(1999);
    expect(b.tryAcquire()).toBe(false);
    c.advance(1);
    expect(b.tryAcquire()).toBe(true);
  });

  it("a refused probe: adopting the fleet's state clears this process's probe", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 1, cooldownMs: 1000 });
    b.failure();
    c.advance(1000);
    expect(b.tryAcquire()).toBe(true);
    b.adopt({ state: "half_open", openedAt: 0, probeHeldUntil: 5000 });
    expect(b.probe).toBe(false);
    expect(b.tryAcquire()).toBe(false);
  });

  it("closed by the fleet's probe: calls pass and the counting starts over", () => {
    const c = clock();
    const b = new CircuitBreaker(c, { consecutiveFailures: 2, cooldownMs: 1000 });
    b.failure();
    b.failure();
    expect(b.current).toBe("open");
    b.adopt({ state: "closed", openedAt: null, probeHeldUntil: null });
    expect(b.current).toBe("closed");
    b.failure();
    expect(b.current).toBe("closed"); // one failure of a fresh run of two
  });

  it("closed when already closed keeps this process's run of failures, unless the fleet's run is shorter (a success elsewhere)", () => {
    const b = new CircuitBreaker(clock(), { consecutiveFailures: 3 });
    b.failure();
    b.failure();
    b.adopt({ state: "closed", openedAt: null, probeHeldUntil: null, failures: 2 });
    expect(b.failuresInARow).toBe(2);
    b.adopt({ state: "closed", openedAt: null, probeHeldUntil: null, failures: 0 });
    expect(b.failuresInARow).toBe(0);
    b.failure();
    b.failure();
    expect(b.current).toBe("closed");
    b.failure();
    expect(b.current).toBe("open");
  });
});
