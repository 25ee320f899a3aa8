import os from "node:os";
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { CircuitBreaker } from "../../nodes/circuit-breaker.js";
import type { RunEnded, RunObserver } from "../runs/flow-runner.js";
import type { Logger } from "./log.js";

export interface AlertSignalsOptions {
  pool: pg.Pool;
  /** The process's model tiers; those with a breaker are reported. */
  tiers: readonly { id: string; breakerKey?: string; breaker?: Pick<CircuitBreaker, "current" | "openSince"> }[];
  /** How often counts and breaker states are written. Default 5 s. */
  flushEveryMs?: number;
  log?: Logger;
}

/**
 * What this process tells `opsgraph alerts check` (another process, any host): breakers are
 * per process and metrics are in memory, so both are written to PostgreSQL, batched:
 * - opsgraph_breakers: one row per breaker that is not closed (open or half-open), with when
 *   it first opened (a failed half-open probe re-opens it every cooldown: that is one outage,
 *   so `opened_at` is kept until it closes); `seen_at` is refreshed each flush, so a dead process's rows go stale, and the
 *   row is deleted when the breaker closes or the process closes;
 * - opsgraph_agent_calls: per minute, flow, agent and tier, the calls made and how many failed.
 * A run's end only adds to in-memory counts; the writes happen every `flushEveryMs`.
 */
export class AlertSignals implements RunObserver {
  readonly processId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private pending = new Map<string, { minute: string; flow: string; agent: string; tier: string; calls: number; errors: number }>();
  /** Breakers this process has a row for. */
  private reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastPrune = 0;

  constructor(private readonly o: AlertSignalsOptions) {}

  runEnded(e: RunEnded): void {
    const minute = new Date(Math.floor((e.started_at.getTime() + e.duration_ms) / 60_000) * 60_000).toISOString();
    for (const a of e.attempts) {
      if (a.outcome === "skipped") continue; // no call was made
      const key = `${minute}|${e.flow}|${a.agent}|${a.tier}`;
      let c = this.pending.get(key);
      if (!c) this.pending.set(key, (c = { minute, flow: e.flow, agent: a.agent, tier: a.tier, calls: 0, errors: 0 }));
      c.calls++;
      if (a.outcome === "error" || a.outcome === "invalid") c.errors++;
    }
  }

  /** Writes every `flushEveryMs` from now on (the timer does not keep the process alive). */
  start(): void {
    this.timer ??= setInterval(
      () => void this.flush().catch((e) => this.o.log?.warn({ err: String(e) }, "writing alert signals failed")),
      this.o.flushEveryMs ?? 5_000,
    );
    this.timer.unref();
  }

  /** Writes the counts gathered so far and the breakers' states; one flush at a time. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** Stops the timer, writes what is pending, and removes this process's breaker rows (its breakers end with it). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch((e) => this.o.log?.warn({ err: String(e) }, "writing alert signals failed"));
    if (this.reported.size) await this.o.pool.query("DELETE FROM opsgraph_breakers WHERE process_id = $1", [this.processId]).catch(() => {});
    this.reported.clear();
  }

  private async write(): Promise<void> {
    const counts = [...this.pending.values()];
    this.pending = new Map();
    if (counts.length) {
      try {
        await this.o.pool.query(
          `INSERT INTO opsgraph_agent_calls (minute, flow, agent, tier, calls, errors)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[])
           ON CONFLICT (minute, flow, agent, tier) DO UPDATE SET calls = opsgraph_agent_calls.calls + excluded.calls, errors = opsgraph_agent_calls.errors + excluded.errors`,
          [
            counts.map((c) => c.minute),
            counts.map((c) => c.flow),
            counts.map((c) => c.agent),
            counts.map((c) => c.tier),
            counts.map((c) => c.calls),
            counts.map((c) => c.errors),
          ],
        );
      } catch (e) {
        // kept for the next flush rather than lost
        for (const c of counts) this.pending.set(`${c.minute}|${c.flow}|${c.agent}|${c.tier}`, c);
        throw e;
      }
    }
    if (counts.length && Date.now() - this.lastPrune > 3_600_000) {
      this.lastPrune = Date.now();
      // alerts look back minutes; a week of counts is plenty for a person looking into one
      await this.o.pool.query("DELETE FROM opsgraph_agent_calls WHERE minute < now() - interval '7 days'");
      await this.o.pool.query("DELETE FROM opsgraph_breakers WHERE seen_at < now() - interval '1 day'");
    }
    // a breaker is one per provider:model@endpoint; tiers of several agents' chains may share it
    const seen = new Set<string>();
    for (const t of this.o.tiers) {
      const key = t.breakerKey ?? t.id;
      if (!t.breaker || seen.has(key)) continue;
      seen.add(key);
      const state = t.breaker.current;
      if (state === "closed") {
        if (this.reported.delete(key)) await this.o.pool.query("DELETE FROM opsgraph_breakers WHERE process_id = $1 AND model = $2", [this.processId, key]);
        continue;
      }
      await this.o.pool.query(
        `INSERT INTO opsgraph_breakers (process_id, model, state, opened_at, seen_at) VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), now())
         ON CONFLICT (process_id, model) DO UPDATE SET state = excluded.state, seen_at = now()`,
        [this.processId, key, state, t.breaker.openSince ?? Date.now()],
      );
      this.reported.add(key);
    }
  }
}
