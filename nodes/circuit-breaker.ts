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
 * The fleet's state of a breaker (every process's, kept in PostgreSQL by
 * runtime/models/shared-breakers.ts), with its times already on this breaker's clock.
 */
export interface FleetCircuit {
  state: CircuitState;
  /** open, half_open: when it (last) opened; the cooldown counts from it. */
  openedAt: number | null;
  /** half_open: until when another process's probe is out (refuse till then); null when no other process probes. */
  probeHeldUntil: number | null;
  /** closed: the fleet's failures in a row (every process's calls); this process's run is no longer. */
  failures?: number;
}

/** What one failure did: whether it opened the breaker, and the failure rate it saw. */
export interface FailureOutcome {
  opened: boolean;
  /** The share of failures over the recent calls, this one included (before an opening clears them). */
  failureRate: number;
}

/**
 * A circuit breaker for one (provider, model), shared by every run in the process.
 * closed: calls pass. open: calls are refused at once until the cooldown has passed; then
 * half_open: one probe passes; its success closes the breaker, its failure opens it again.
 * `adopt` takes the state the fleet agreed on (another process opened it, or closed it with its
 * probe, or holds the one probe), so every process refuses and probes alike; the counting of
 * this process's own calls stays here, without I/O.
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
  /** Another process's probe is out until then: refuse, rather than probe twice. */
  private heldUntil = 0;
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

  /** Whether this process's probe is out (the call `tryAcquire` let through in half_open). */
  get probe(): boolean {
    return this.probing;
  }

  /** The share of failures over this process's recent calls (0 before any). */
  get recentFailureRate(): number {
    return this.recent.length ? this.recent.filter((ok) => !ok).length / this.recent.length : 0;
  }

  /** Failures in a row seen by this process. */
  get failuresInARow(): number {
    return this.inARow;
  }

  /** Whether a call may go through now; in half_open, only the first caller (the probe) may. */
  tryAcquire(): boolean {
    const state = this.current;
    if (state === "closed") return true;
    if (state === "open" || this.probing || this.clock.now() < this.heldUntil) return false;
    this.state = "half_open";
    this.probing = true;
    return true;
  }

  success(): void {
    this.state = "closed";
    this.probing = false;
    this.heldUntil = 0;
    this.inARow = 0;
    this.record(true);
  }

  failure(): FailureOutcome {
    this.probing = false;
    this.inARow++;
    this.record(false);
    const failures = this.recent.filter((ok) => !ok).length;
    const failureRate = failures / this.recent.length;
    const rateTripped = this.recent.length >= this.window && failureRate >= this.failureRate;
    const wasClosed = this.state === "closed";
    if (this.state === "half_open" || this.inARow >= this.consecutiveFailures || rateTripped) {
      // a late failure of a call made before it opened does not push the (fleet's) cooldown back
      if (this.state !== "open") this.openedAt = this.clock.now();
      this.state = "open";
      this.recent = [];
    }
    return { opened: wasClosed && this.state === "open", failureRate };
  }

  /** A call that ended without telling anything about the provider's health (it was cancelled). */
  release(): void {
    this.probing = false;
  }

  /**
   * Takes the fleet's state. closed: calls pass again (this process's counts start over, as
   * after a probe's success; a breaker already closed keeps its counts). open: refused until
   * the fleet's cooldown ends. half_open: refused while another process's probe is out, then
   * this process may ask for the probe. Taking the same state again changes nothing, but for a
   * run of failures the fleet ended.
   */
  adopt(fleet: FleetCircuit): void {
    if (fleet.state === "closed") {
      // a success elsewhere ended the fleet's run, so it ended this process's too
      if (this.state === "closed") {
        this.inARow = Math.min(this.inARow, fleet.failures ?? this.inARow);
        return;
      }
      this.state = "closed";
      this.probing = false;
      this.heldUntil = 0;
      this.inARow = 0;
      this.recent = [];
      return;
    }
    this.probing = false;
    this.recent = [];
    this.openedAt = fleet.openedAt ?? this.clock.now();
    this.state = fleet.state;
    this.heldUntil = fleet.state === "half_open" ? (fleet.probeHeldUntil ?? 0) : 0;
  }

  private record(ok: boolean) {
    this.recent.push(ok);
    if (this.recent.length > this.window) this.recent.shift();
  }
}
