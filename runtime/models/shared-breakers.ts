// Over 300 lines: SharedBreakers is one state machine over one table (claim, succeed, fail, release, listen, poll) whose steps share its maps, timers and connection; the local breaker is nodes/circuit-breaker.ts.
import os from "node:os";
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { CircuitBreaker, CircuitState, FailureOutcome, FleetCircuit } from "../../nodes/circuit-breaker.js";
import { systemClock, type Clock } from "../../nodes/clock.js";
import type { Logger } from "../observability/log.js";
import type { BreakerLink } from "./models.js";

/** Where a change of a fleet breaker is announced (the payload is its key). */
export const BREAKERS_CHANNEL = "opsgraph_circuit_breakers";

export interface SharedBreakersOptions {
  /** Failures in a row, every process's calls counted, that open a breaker (OPSGRAPH_BREAKER_FAILURES). Default 5. */
  consecutiveFailures?: number;
  /** The cooldown before a probe (OPSGRAPH_BREAKER_COOLDOWN_MS). Default 30 s. */
  cooldownMs?: number;
  /** How long a claimed probe stays this process's: past it (its worker died) another process may claim it. Default 60 s. */
  probeMs?: number;
  /** How often the fleet's states are read besides the notifications (the fallback when one is lost). Default 1 s. */
  pollMs?: number;
  /** A probe waits at most this long for its claim; then it goes as this process's alone. Default 2 s. */
  claimTimeoutMs?: number;
  clock?: Pick<Clock, "now">;
  log?: Logger;
}

interface Row {
  breaker_key: string;
  state: CircuitState;
  generation: string;
  failures: number;
  opened_ago_ms: number | null;
  probe_owner: string | null;
  probe_left_ms: number | null;
}

const TABLE = "opsgraph_circuit_breakers";
// ages on the database's clock, so no two hosts' clocks need agree
const columns = (t: string) => `${t}.breaker_key, ${t}.state, ${t}.generation, ${t}.failures, ${t}.probe_owner,
  (EXTRACT(EPOCH FROM now() - ${t}.opened_at) * 1000)::float8 AS opened_ago_ms,
  (EXTRACT(EPOCH FROM ${t}.probe_deadline - now()) * 1000)::float8 AS probe_left_ms`;
const COLUMNS = columns(TABLE);

/**
 * The circuit breakers of every process, through PostgreSQL (one row per breaker key in
 * opsgraph_circuit_breakers). Each process keeps its own breakers (nodes/circuit-breaker.ts) and
 * calls through them with no round trip while closed; this class writes what the fleet must know
 * and applies what the others wrote:
 * - a failure adds to the fleet's failures in a row, in one statement that opens the breaker when
 *   they reach the threshold (or when this process's breaker opened on its failure rate), and the
 *   first success after failures sets them back;
 * - every change of state is announced (NOTIFY), and read by every process within ms; a poll of
 *   one query every `pollMs` catches a lost notification; a new process reads the table at start;
 * - in half-open, the probe is claimed by a conditional UPDATE with a deadline: one process
 *   probes, the others refuse until its success closes the breaker everywhere or its failure
 *   opens it again; a probe whose worker died is claimable again after its deadline.
 * A database error never fails a model call: it is logged and the local breaker decides alone.
 */
export class SharedBreakers implements BreakerLink {
  /** This process, as the owner of a probe. */
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Per key, the fleet's last state applied: its generation, its failures in a row, the state on this clock. */
  private readonly seen = new Map<string, { generation: number; failures: number; fleet: FleetCircuit }>();
  /** Writes per key, in order. */
  private readonly writes = new Map<string, Promise<void>>();
  private pool: pg.Pool | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listening: Promise<void> | undefined;
  private stopListening: (() => void) | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private closed = false;
  private readonly consecutiveFailures: number;
  private readonly cooldownMs: number;
  private readonly probeMs: number;
  private readonly pollMs: number;
  private readonly claimTimeoutMs: number;
  private readonly clock: Pick<Clock, "now">;

  constructor(private readonly o: SharedBreakersOptions = {}) {
    const { consecutiveFailures = 5, cooldownMs = 30_000, probeMs = 60_000, pollMs = 1_000, claimTimeoutMs = 2_000, clock = systemClock } = o;
    this.consecutiveFailures = consecutiveFailures;
    this.cooldownMs = cooldownMs;
    this.probeMs = probeMs;
    this.pollMs = pollMs;
    this.claimTimeoutMs = claimTimeoutMs;
    this.clock = clock;
  }

  track(key: string, breaker: CircuitBreaker): void {
    this.breakers.set(key, breaker);
  }

  /** Reads the fleet's states (a breaker open elsewhere is open here at once), then listens and polls. */
  async start(pool: pg.Pool): Promise<void> {
    this.pool = pool;
    try {
      await pool.query(`INSERT INTO ${TABLE} (breaker_key) SELECT unnest($1::text[]) ON CONFLICT (breaker_key) DO NOTHING`, [[...this.breakers.keys()]]);
    } catch (e) {
      this.o.log?.warn({ err: String(e) }, "shared circuit breakers unavailable; each process's breakers decide alone");
    }
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
    this.listening = this.listen(pool);
  }

  /** Stops listening and polling, after the writes under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.stopListening?.();
    await this.listening;
    await Promise.all(this.writes.values());
    await this.refreshing;
    this.pool = undefined;
  }

  /** Reads every tracked breaker's row (one query) and applies the newer ones; calls coalesce. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const pool = this.pool;
    if (!pool || !this.breakers.size) return Promise.resolve();
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${TABLE} WHERE breaker_key = ANY($1)`, [[...this.breakers.keys()]]);
        for (const r of rows) this.apply(r);
      } while (this.refreshAgain && !this.closed);
    })()
      .catch((e) => this.o.log?.warn({ err: String(e) }, "reading the shared circuit breakers failed"))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  async claimProbe(key: string): Promise<boolean> {
    const pool = this.pool;
    if (!pool) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), this.claimTimeoutMs)));
    try {
      const claim = async () => {
        const claimed = await this.change(
          key,
          `state = 'half_open', probe_owner = $2, probe_deadline = now() + make_interval(secs => $3 / 1000.0), generation = b.generation + 1`,
          `(b.state = 'open' AND b.opened_at <= now() - make_interval(secs => $4 / 1000.0))
           OR (b.state = 'half_open' AND (b.probe_owner IS NULL OR b.probe_owner = $2 OR b.probe_deadline <= now()))`,
          [this.owner, this.probeMs, this.cooldownMs],
          pool,
        );
        if (claimed) return true;
        const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${TABLE} WHERE breaker_key = $1`, [key]);
        const fleet = rows[0];
        if (!fleet) return true; // no row: this process's breaker alone
        // refused: open still (cooldown on the fleet's clock), or another process's probe is out
        this.apply(fleet, { force: true });
        return fleet.state === "closed";
      };
      const r = await Promise.race([claim(), timedOut]);
      if (r === "timeout") throw new Error(`no answer in ${this.claimTimeoutMs} ms`);
      return r;
    } catch (e) {
      this.o.log?.warn({ err: String(e), breaker: key }, "claiming the fleet's probe failed; probing for this process alone");
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  succeeded(key: string, probe: boolean): void {
    const seen = this.seen.get(key);
    if (!probe && seen && seen.fleet.state !== "closed") {
      // a call made before the fleet's breaker opened answered late: the fleet's probe decides, not it
      this.breakers.get(key)?.adopt(seen.fleet);
      return;
    }
    if (probe) {
      // the provider answered the probe: closed everywhere
      this.write(
        key,
        `state = 'closed', failures = 0, failure_rate = 0, opened_at = NULL, since = now(), probe_owner = NULL, probe_deadline = NULL, generation = b.generation + 1`,
        `b.state <> 'closed' AND (b.probe_owner IS NULL OR b.probe_owner = $2 OR b.probe_deadline <= now())`,
        [this.owner],
      );
    } else if (seen && seen.failures > 0) {
      // the fleet's run of failures ends (no write while it is 0: the fast path)
      seen.failures = 0;
      this.write(key, `failures = 0, failure_rate = $2`, `b.state = 'closed' AND b.failures > 0`, [this.breakers.get(key)?.recentFailureRate ?? 0]);
    }
  }

  failed(key: string, probe: boolean, { opened, failureRate }: FailureOutcome): void {
    const seen = this.seen.get(key);
    if (seen) seen.failures++;
    // $2: this process's breaker opened (its own run, or its failure rate); $3: the fleet's run reached the threshold;
    // $4: the probe failed
    const opens = `(b.state = 'closed' AND ($2::boolean OR b.failures + 1 >= $3::int))`;
    const reopens = `($4::boolean AND b.state <> 'closed' AND (b.probe_owner IS NULL OR b.probe_owner = $5 OR b.probe_deadline <= now()))`;
    this.write(
      key,
      `failures = b.failures + 1, failure_rate = $6,
       state = CASE WHEN ${opens} OR ${reopens} THEN 'open' ELSE b.state END,
       opened_at = CASE WHEN ${opens} OR ${reopens} THEN now() ELSE b.opened_at END,
       since = CASE WHEN ${opens} THEN now() ELSE b.since END,
       cooldown_ms = CASE WHEN ${opens} OR ${reopens} THEN $7 ELSE b.cooldown_ms END,
       probe_owner = CASE WHEN ${reopens} THEN NULL ELSE b.probe_owner END,
       probe_deadline = CASE WHEN ${reopens} THEN NULL ELSE b.probe_deadline END,
       generation = b.generation + (${opens} OR ${reopens})::int`,
      "true",
      [opened, this.consecutiveFailures, probe, this.owner, failureRate, this.cooldownMs],
    );
  }

  released(key: string): void {
    this.write(key, `probe_owner = NULL, probe_deadline = NULL, generation = b.generation + 1`, `b.state = 'half_open' AND b.probe_owner = $2`, [this.owner]);
  }

  /** A change in the background (a model call never waits for it), after the key's earlier ones. */
  private write(key: string, set: string, where: string, params: unknown[]): void {
    const pool = this.pool;
    if (!pool) return;
    const next = (this.writes.get(key) ?? Promise.resolve())
      .then(() => this.change(key, set, where, params, pool))
      .then(
        () => {},
        (e) => this.o.log?.warn({ err: String(e), breaker: key }, "writing a shared circuit breaker failed; this process's breaker decides alone"),
      );
    this.writes.set(key, next);
    void next.finally(() => this.writes.get(key) === next && this.writes.delete(key));
  }

  /**
   * One conditional UPDATE of a breaker's row (`set` and `where` on `b`, the row as it was; $1 is
   * the key), announced when it changed the state; applies the row it leaves. Undefined when the
   * condition did not hold.
   */
  private async change(key: string, set: string, where: string, params: unknown[], pool: pg.Pool): Promise<Row | undefined> {
    const { rows } = await pool.query<Row & { was: string }>(
      `WITH old AS (SELECT breaker_key, generation FROM ${TABLE} WHERE breaker_key = $1 FOR UPDATE)
       UPDATE ${TABLE} b SET ${set}, updated_at = now() FROM old WHERE b.breaker_key = old.breaker_key AND (${where})
       RETURNING ${columns("b")}, old.generation AS was`,
      [key, ...params],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.generation !== row.was) await pool.query("SELECT pg_notify($1, $2)", [BREAKERS_CHANNEL, key]);
    this.apply(row);
    return row;
  }

  /** Takes a row of the fleet into this process's breaker, when it is newer than the last one applied. */
  private apply(r: Row, { force = false } = {}): void {
    const generation = Number(r.generation);
    const seen = this.seen.get(r.breaker_key);
    if (seen && generation < seen.generation) return; // an older read, overtaken
    const fleet = this.fleetCircuit(r);
    this.seen.set(r.breaker_key, { generation, failures: r.failures, fleet });
    const breaker = this.breakers.get(r.breaker_key);
    if (!breaker) return;
    if (seen && generation === seen.generation && !force) {
      // its run of failures only; not while this process's own failures are on their way to the row
      if (r.state === "closed" && breaker.current === "closed" && !this.writes.has(r.breaker_key)) breaker.adopt(fleet);
      return;
    }
    if (r.state === "half_open" && r.probe_owner === this.owner && !force) return; // this process's probe is out
    breaker.adopt(fleet);
  }

  private fleetCircuit(r: Row): FleetCircuit {
    const now = this.clock.now();
    const others = r.state === "half_open" && r.probe_owner !== null && r.probe_owner !== this.owner && (r.probe_left_ms ?? 0) > 0;
    return {
      state: r.state,
      openedAt: r.opened_ago_ms === null ? null : now - r.opened_ago_ms,
      probeHeldUntil: others ? now + r.probe_left_ms! : null,
      failures: r.failures,
    };
  }

  /**
   * LISTENs on a connection of its own (a pooled one would be handed to others); reconnects after
   * a lost connection, reading the states it may have missed. The poll covers the gap.
   */
  private async listen(pool: pg.Pool): Promise<void> {
    while (!this.closed) {
      const client = new pg.Client(pool.options);
      client.on("error", () => {}); // ends the wait below through "end"
      try {
        await client.connect();
        client.on("notification", () => void this.refresh());
        await client.query(`LISTEN ${BREAKERS_CHANNEL}`);
        void this.refresh();
        await new Promise<void>((resolve) => {
          client.once("end", resolve);
          this.stopListening = resolve;
          if (this.closed) resolve();
        });
      } catch (e) {
        this.o.log?.debug({ err: String(e) }, "listening for circuit breaker changes failed; polling until it reconnects");
      } finally {
        await client.end().catch(() => {});
      }
      if (!this.closed) await new Promise<void>((r) => setTimeout(r, this.pollMs).unref());
    }
  }
}
