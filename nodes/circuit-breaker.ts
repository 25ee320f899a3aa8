import type { Clock } from "./clock.js";

export interface CircuitBreakerOptions {
  /** Opens after this many failures in a row. Default 5. */
  consecutiveFailures?: number;
  /** ...or when this share of the last `window` calls failed (once `window` calls were seen). Default 0.5. */
  failureRate?: number;
  /** Calls the failure rate is computed over. Default 20. */
  window?: number;
  /** How long it stays open before letting one probe through. Default 30 s. */
  cooldownMs?: number;
}

export type CircuitState = "closed" | "open" | "half_open";

/**
 * A circuit breaker for one (provider, model), shared by every run in the process.
 * closed: calls pass. open: calls are refused at once until the cooldown has passed; then
 * half_open: one probe passes; its success closes the breaker, its failure opens it again.
 *
 * Written here rather than taken from cockatiel: cockatiel 4 needs Node 22, and cockatiel 3
 * reads Date.now() itself, where opsgraph's breakers must run on the injected clock (tests
 * prove a minute-long outage without waiting a minute).
 */
export class CircuitBreaker {
  private state: CircuitState = "closed";
  private openedAt = 0;
  private inARow = 0;
  private recent: boolean[] = [];
  private probing = false;
  private readonly consecutiveFailures: number;
  private readonly failureRate: number;
  private readonly window: number;
  private readonly cooldownMs: number;

  constructor(
    private readonly clock: Pick<Clock, "now">,
    { consecutiveFailures = 5, failureRate = 0.5, window = 20, cooldownMs = 30_000 }: CircuitBreakerOptions = {},
  ) {
    this.consecutiveFailures = consecutiveFailures;
    this.failureRate = failureRate;
    this.window = window;
    this.cooldownMs = cooldownMs;
  }

  /** The state now (an open breaker past its cooldown reads half_open). */
  get current(): CircuitState {
    if (this.state === "open" && this.clock.now() - this.openedAt >= this.cooldownMs) return "half_open";
    return this.state;
  }

  /** Since when it has been open, or null. */
  get openSince(): number | null {
    return this.state === "closed" ? null : this.openedAt;
  }

  /** Whether a call may go through now; in half_open, only the first caller (the probe) may. */
  tryAcquire(): boolean {
    const state = this.current;
    if (state === "closed") return true;
    if (state === "open" || this.probing) return false;
    this.state = "half_open";
    this.probing = true;
    return true;
  }

  success(): void {
    this.state = "closed";
    this.probing = false;
    this.inARow = 0;
    this.record(true);
  }

  failure(): void {
    this.probing = false;
    this.inARow++;
    this.record(false);
    const failures = this.recent.filter((ok) => !ok).length;
    const rateTripped = this.recent.length >= this.window && failures / this.recent.length >= this.failureRate;
    if (this.state === "half_open" || this.inARow >= this.consecutiveFailures || rateTripped) {
      this.state = "open";
      this.openedAt = this.clock.now();
      this.recent = [];
    }
  }

  /** A call that ended without telling anything about the provider's health (it was cancelled). */
  release(): void {
    this.probing = false;
  }

  private record(ok: boolean) {
    this.recent.push(ok);
    if (this.recent.length > this.window) this.recent.shift();
  }
}
