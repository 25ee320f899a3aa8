import type { Clock } from "../nodes/clock.js";

/** A clock whose sleeps return at once and move time on: backoff and breakers without real waits. */
export class FakeClock implements Clock {
  /** Every sleep asked for, in order (ms). */
  readonly slept: number[] = [];
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now() {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal) {
    if (signal?.aborted) throw signal.reason;
    this.slept.push(ms);
    this.t += ms;
  }
  advance(ms: number) {
    this.t += ms;
  }
  get totalSlept() {
    return this.slept.reduce((a, b) => a + b, 0);
  }
}

/**
 * A fake clock whose time also runs with real time: sleeps return at once and move it on, and a
 * call that really takes 150 ms (a timeout) moves it 150 ms. For budgets that count both.
 */
export class FakeWaitsClock extends FakeClock {
  private readonly t0 = performance.now();
  override now() {
    return super.now() + (performance.now() - this.t0);
  }
}
