import type pg from "pg";
import { createCheckpointer, createStore } from "./checkpointer.js";

/**
 * opsgraph's own schema, in order. A released migration is never edited: add a new one.
 * PostgresSaver's and PostgresStore's tables are migrated by their own versioned setup(),
 * called under the same lock (their setup is not safe to run concurrently on its own).
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "runs",
    sql: `
      CREATE TABLE opsgraph_runs (
        run_id       uuid PRIMARY KEY,
        request_id   text NOT NULL UNIQUE,
        thread_id    text NOT NULL UNIQUE,
        flow         text NOT NULL,
        status       text NOT NULL CHECK (status IN ('running','completed','awaiting_review','failed','dead_lettered')),
        model_calls  integer NOT NULL DEFAULT 0,
        tiers_used   jsonb NOT NULL DEFAULT '[]',
        tokens       jsonb NOT NULL DEFAULT '{}',
        duration_ms  integer NOT NULL DEFAULT 0,
        input        jsonb NOT NULL DEFAULT '{}',
        result       jsonb,
        error        text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX opsgraph_runs_status ON opsgraph_runs (status, created_at DESC);`,
  },
  {
    version: 2,
    name: "dead letters",
    sql: `
      CREATE TABLE opsgraph_dead_letters (
        id          bigserial PRIMARY KEY,
        run_id      uuid,
        thread_id   text NOT NULL,
        flow        text NOT NULL,
        node        text NOT NULL,
        agent       text NOT NULL,
        input_ref   jsonb,
        errors      jsonb NOT NULL,
        attempts    integer NOT NULL,
        status      text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting','retried','discarded')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (thread_id, agent, attempts)
      );
      CREATE INDEX opsgraph_dead_letters_status ON opsgraph_dead_letters (status, created_at DESC);`,
  },
  {
    version: 3,
    name: "queued runs, workers and leases",
    sql: `
      ALTER TABLE opsgraph_runs DROP CONSTRAINT opsgraph_runs_status_check;
      ALTER TABLE opsgraph_runs ADD CONSTRAINT opsgraph_runs_status_check
        CHECK (status IN ('queued','running','completed','awaiting_review','failed','dead_lettered'));
      ALTER TABLE opsgraph_runs ADD COLUMN worker_id text, ADD COLUMN heartbeat_at timestamptz;
      CREATE INDEX opsgraph_runs_lease ON opsgraph_runs (heartbeat_at) WHERE status = 'running';
      CREATE TABLE opsgraph_workers (
        worker_id    text PRIMARY KEY,
        host         text NOT NULL,
        pid          integer NOT NULL,
        concurrency  integer NOT NULL,
        in_flight    integer NOT NULL DEFAULT 0,
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        stopped_at   timestamptz
      );`,
  },
  {
    version: 4,
    name: "outbox and notifications",
    sql: `
      CREATE TABLE opsgraph_outbox (
        id           bigserial PRIMARY KEY,
        key          text NOT NULL UNIQUE,
        kind         text NOT NULL,
        run_id       uuid,
        thread_id    text,
        payload      jsonb NOT NULL,
        status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered')),
        attempts     integer NOT NULL DEFAULT 0,
        created_at   timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz
      );
      CREATE INDEX opsgraph_outbox_pending ON opsgraph_outbox (id) WHERE status = 'pending';
      CREATE TABLE opsgraph_notifications (
        id          bigserial PRIMARY KEY,
        key         text NOT NULL UNIQUE,
        kind        text NOT NULL,
        run_id      uuid,
        payload     jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 5,
    name: "schedules",
    sql: `
      CREATE TABLE opsgraph_schedules (
        id           text PRIMARY KEY,
        flow         text NOT NULL,
        cron         text NOT NULL,
        tz           text NOT NULL DEFAULT 'UTC',
        input        jsonb NOT NULL,
        next_run_at  timestamptz NOT NULL,
        last_run_at  timestamptz,
        last_run_id  uuid,
        last_error   text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        enabled      boolean NOT NULL DEFAULT true
      );
      CREATE INDEX opsgraph_schedules_due ON opsgraph_schedules (next_run_at) WHERE enabled;`,
  },
  {
    version: 6,
    name: "breaker states and agent call counts (alerts)",
    sql: `
      CREATE TABLE opsgraph_breakers (
        process_id  text NOT NULL,
        model       text NOT NULL,
        state       text NOT NULL CHECK (state IN ('closed','open','half_open')),
        opened_at   timestamptz,
        seen_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (process_id, model)
      );
      CREATE TABLE opsgraph_agent_calls (
        minute   timestamptz NOT NULL,
        flow     text NOT NULL,
        agent    text NOT NULL,
        tier     text NOT NULL,
        calls    integer NOT NULL,
        errors   integer NOT NULL,
        PRIMARY KEY (minute, flow, agent, tier)
      );`,
  },
  {
    version: 7,
    name: "spans",
    sql: `
      CREATE TABLE opsgraph_spans (
        span_id     text PRIMARY KEY,
        parent_id   text,
        run_id      uuid NOT NULL,
        thread_id   text NOT NULL,
        kind        text NOT NULL CHECK (kind IN ('run','node','attempt')),
        name        text NOT NULL,
        start_at    timestamptz NOT NULL,
        end_at      timestamptz NOT NULL,
        attributes  jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX opsgraph_spans_run ON opsgraph_spans (run_id, start_at);`,
  },
  {
    version: 8,
    name: "sourcing events, consumptions and outreach drafts",
    sql: `
      CREATE TABLE opsgraph_events (
        id              uuid PRIMARY KEY,
        name            text NOT NULL,
        version         integer NOT NULL,
        correlation_id  text NOT NULL,
        causation_id    uuid,
        payload         jsonb NOT NULL,
        published_at    timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX opsgraph_events_correlation ON opsgraph_events (correlation_id, published_at);
      CREATE INDEX opsgraph_events_type ON opsgraph_events (name, version, published_at);
      CREATE TABLE opsgraph_event_consumptions (
        event_id     uuid NOT NULL,
        consumer     text NOT NULL,
        outcome      text NOT NULL CHECK (outcome IN ('handled','ignored','dead_lettered','failed')),
        run_id       uuid,
        worker_id    text,
        published    integer NOT NULL DEFAULT 0,
        handled_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (event_id, consumer)
      );
      CREATE TABLE opsgraph_outreach_drafts (
        id           uuid PRIMARY KEY,
        event_id     uuid NOT NULL UNIQUE,
        company      text NOT NULL,
        subject      text NOT NULL,
        body         text NOT NULL,
        recipient    text NOT NULL,
        status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved')),
        approved_by  text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        approved_at  timestamptz
      );`,
  },
  {
    version: 9,
    name: "circuit breakers shared by every process",
    // One row per breaker (the tier id, provider:model), the fleet's state of it: the per-process
    // rows of opsgraph_breakers (version 6) say which live processes see it open, for alerts.
    sql: `
      CREATE TABLE opsgraph_circuit_breakers (
        breaker_key     text PRIMARY KEY,
        state           text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed','open','half_open')),
        generation      bigint NOT NULL DEFAULT 0,
        failures        integer NOT NULL DEFAULT 0,
        failure_rate    real NOT NULL DEFAULT 0,
        cooldown_ms     integer NOT NULL DEFAULT 30000,
        opened_at       timestamptz,
        since           timestamptz NOT NULL DEFAULT now(),
        probe_owner     text,
        probe_deadline  timestamptz,
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
      COMMENT ON COLUMN opsgraph_circuit_breakers.generation IS 'one more per change of state or probe: a process applies only newer ones';
      COMMENT ON COLUMN opsgraph_circuit_breakers.failures IS 'failures in a row, every process''s calls counted; a success sets it back to 0';
      COMMENT ON COLUMN opsgraph_circuit_breakers.opened_at IS 'when it last (re)opened: the cooldown counts from it';
      COMMENT ON COLUMN opsgraph_circuit_breakers.since IS 'in its state since (open: since the outage began, failed probes included)';`,
  },
  {
    version: 10,
    name: "fencing tokens of runs",
    sql: `
      -- fence: raised by every claim or start of an execution; each write of an execution carries it
      -- and is refused once it is lower. lock_pid: the backend holding the thread's lock for a worker's
      -- execution; lease_ms: that worker's lease (a taker ends a holder only once its own lease ran out)
      ALTER TABLE opsgraph_runs ADD COLUMN fence bigint NOT NULL DEFAULT 0, ADD COLUMN lock_pid integer, ADD COLUMN lease_ms integer;`,
  },
  {
    version: 11,
    name: "attempt ledger and adaptive tier order",
    sql: `
      CREATE TABLE opsgraph_tier_attempts (
        id           bigserial PRIMARY KEY,
        agent        text NOT NULL,
        tier         text NOT NULL,
        flow         text NOT NULL,
        run_id       uuid,
        outcome      text NOT NULL CHECK (outcome IN ('ok','invalid','error')),
        error_class  text,
        ms           integer NOT NULL,
        at           timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX opsgraph_tier_attempts_recent ON opsgraph_tier_attempts (agent, tier, id DESC);
      CREATE INDEX opsgraph_tier_attempts_at ON opsgraph_tier_attempts (at);
      ALTER TABLE opsgraph_runs ADD COLUMN tier_order jsonb;`,
  },
  {
    version: 12,
    name: "tiers used by each agent",
    sql: `
      -- per agent, the tiers that produced its outputs (an agent may have its own chain)
      ALTER TABLE opsgraph_runs ADD COLUMN tiers_used_by_agent jsonb;`,
  },
];

const LOCK_KEY = "opsgraph:migrations";

/** Brings the database to the current schema, once, whatever the number of processes racing. */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS opsgraph_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      // every version not applied yet, in order (not only those above the highest: a database may have one without another)
      const { rows } = await client.query<{ version: number }>("SELECT version FROM opsgraph_migrations");
      const applied = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS.filter((m) => !applied.has(m.version))) {
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query("INSERT INTO opsgraph_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK");
          throw e;
        }
      }
      await createCheckpointer(pool).setup();
      await createStore(pool).setup();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
