import { randomBytes } from "node:crypto";
import cronParser from "cron-parser";
import type pg from "pg";
import type { Clock } from "../../nodes/clock.js";
import { InputError } from "../errors.js";
import type { Logger } from "../observability/log.js";

/** A flow's input as a schedule keeps it (JSON: a portfolio, its paths absolute). */
export type ScheduleInput = unknown;

/** A flow a schedule can start: one whose input a schedule can keep, and how a tick's run of it is submitted. */
export interface SchedulableFlow<I = ScheduleInput> {
  flow: string;
  /** Puts a tick's run on the queue; the same request id is the same run. */
  submit(input: I, requestId: string): Promise<{ run_id: string; created: boolean }>;
}

/** A schedule as `opsgraph schedule list --json` prints it; times are ISO 8601 (UTC). */
export interface Schedule {
  id: string;
  flow: string;
  cron: string;
  /** The IANA time zone the cron is read in. */
  tz: string;
  /** The flow's input, kept as it was when the schedule was added (a portfolio: paths absolute). */
  input: ScheduleInput;
  next_run_at: string;
  last_run_at: string | null;
  last_run_id: string | null;
  /** Why the last tick started no run (bad input); null after a tick that did. */
  last_error: string | null;
  created_at: string;
  enabled: boolean;
}

export interface NewSchedule {
  flow: string;
  /** Five fields (minute hour day-of-month month day-of-week, e.g. "0 6 * * MON") or @hourly/@daily/@weekly/@monthly/@yearly. */
  cron: string;
  /** Default UTC. */
  tz?: string;
  input: ScheduleInput;
}

/** One tick that fireDue started: `created` is false when another worker had already submitted it. */
export interface FiredTick {
  schedule_id: string;
  tick: string;
  request_id: string;
  run_id: string | null;
  created: boolean;
  error?: string;
}

/** A flow no schedule can start (not among `schedulable`) is an InputError. */
export function assertSchedulable(flow: string, schedulable: readonly string[]): void {
  if (!schedulable.includes(flow)) {
    throw new InputError(`flow ${flow}: cannot be scheduled (schedulable flows: ${schedulable.join(", ")})`);
  }
}

/** Submits one tick's run; the request id is the tick's, so a tick submitted twice is one run. */
export type SubmitTick = (tick: { flow: string; input: ScheduleInput; requestId: string }) => Promise<{ run_id: string; created: boolean }>;

/** A SubmitTick through the schedulable flows' runners (the runners need the job queue). */
export function submitThrough(flows: readonly SchedulableFlow<never>[]): SubmitTick {
  return async ({ flow, input, requestId }) => {
    assertSchedulable(
      flow,
      flows.map((f) => f.flow),
    );
    // the kept input was read by this flow's own reader when the schedule was added (flows/index.ts scheduleInputOf)
    return flows.find((f) => f.flow === flow)!.submit(input as never, requestId);
  };
}

export interface SchedulesOptions {
  pool: pg.Pool;
  /** The flows a schedule may start (the registry's schedulable flows). */
  flows: readonly string[];
  /** How runs are submitted when fireDue is given no submit of its own. */
  submit?: SubmitTick;
  /** "Now" for due ticks and next runs. Default: this machine's clock. */
  clock?: Pick<Clock, "now">;
  /** At most this many due schedules a fireDue call. Default 100. */
  batch?: number;
  log?: Logger;
}

interface ScheduleRow {
  id: string;
  flow: string;
  cron: string;
  tz: string;
  input: ScheduleInput;
  next_run_at: Date;
  last_run_at: Date | null;
  last_run_id: string | null;
  last_error: string | null;
  created_at: Date;
  enabled: boolean;
}

const ALIASES = ["@hourly", "@daily", "@weekly", "@monthly", "@yearly"];
const CRON_FORMAT = 'give five fields, minute hour day-of-month month day-of-week (e.g. "0 6 * * MON"), or @hourly, @daily, @weekly, @monthly, @yearly';

/** The first tick of `cron` in `tz` strictly after `after`; a bad cron or zone is an InputError naming its flag. */
export function nextTick(cron: string, tz: string, after: Date): Date {
  // cron-parser reads 6 fields as seconds-first and pads 4: neither is what a crontab user means
  const fields = cron.trim().split(/\s+/);
  if (!(fields.length === 5 || (fields.length === 1 && ALIASES.includes(fields[0]!.toLowerCase())))) {
    throw new InputError(`--cron "${cron}": not a cron expression: ${CRON_FORMAT}`);
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    throw new InputError(`--tz "${tz}": not a time zone: give an IANA name such as UTC or Europe/Paris`);
  }
  try {
    return cronParser.parseExpression(fields.join(" "), { currentDate: after, tz }).next().toDate();
  } catch (e) {
    throw new InputError(`--cron "${cron}": ${(e as Error).message}: ${CRON_FORMAT}`);
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toSchedule = (r: ScheduleRow): Schedule => ({
  ...r,
  next_run_at: r.next_run_at.toISOString(),
  last_run_at: iso(r.last_run_at),
  created_at: r.created_at.toISOString(),
});

/**
 * Cron schedules of runs, kept in opsgraph_schedules. Any number of workers call fireDue:
 * each tick starts exactly one run, because its run's request id names the tick (the same
 * request is the same run) and only the caller that moves next_run_at on from the tick's
 * value records it.
 */
export class Schedules {
  private readonly clock: Pick<Clock, "now">;

  constructor(private readonly o: SchedulesOptions) {
    this.clock = o.clock ?? { now: () => Date.now() };
  }

  /** Adds a schedule; its first run is at the cron's next tick from now. */
  async add({ flow, cron, tz = "UTC", input }: NewSchedule): Promise<Schedule> {
    assertSchedulable(flow, this.o.flows);
    const now = new Date(this.clock.now());
    const next = nextTick(cron, tz, now);
    const { rows } = await this.o.pool.query<ScheduleRow>(
      `INSERT INTO opsgraph_schedules (id, flow, cron, tz, input, next_run_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [`sch_${randomBytes(4).toString("hex")}`, flow, cron.trim(), tz, JSON.stringify(input), next, now],
    );
    return toSchedule(rows[0]!);
  }

  /** Every schedule, the next to run first. */
  async list(): Promise<Schedule[]> {
    const { rows } = await this.o.pool.query<ScheduleRow>(`SELECT * FROM opsgraph_schedules ORDER BY next_run_at, id`);
    return rows.map(toSchedule);
  }

  /** Removes a schedule (its runs stay); an unknown id is an InputError. */
  async remove(id: string): Promise<Schedule> {
    const { rows } = await this.o.pool.query<ScheduleRow>(`DELETE FROM opsgraph_schedules WHERE id = $1 RETURNING *`, [id]);
    if (!rows[0]) throw new InputError(`schedule ${id}: no such schedule (opsgraph schedule list shows them)`);
    return toSchedule(rows[0]);
  }

  /**
   * Starts the run of every due tick, once. A tick missed while no worker ran fires once, and
   * the next one is counted from now. The run is submitted before the tick is claimed: a crash
   * in between submits it again under the same request id (no second run) instead of losing it.
   * A tick whose input is bad is claimed with its error; one that failed otherwise is tried again.
   */
  async fireDue(submit = this.o.submit): Promise<FiredTick[]> {
    if (!submit) throw new Error("Schedules.fireDue: no submit given (new Schedules({ submit }))");
    const now = new Date(this.clock.now());
    const { rows } = await this.o.pool.query<ScheduleRow>(
      `SELECT * FROM opsgraph_schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2`,
      [now, this.o.batch ?? 100],
    );
    const fired: FiredTick[] = [];
    for (const s of rows) {
      const tick = s.next_run_at.toISOString();
      const requestId = `schedule:${s.id}:${tick}`;
      let run: { run_id: string; created: boolean } | undefined;
      let error: string | undefined;
      try {
        run = await submit({ flow: s.flow, input: s.input, requestId });
      } catch (e) {
        if (!(e instanceof InputError)) {
          this.o.log?.warn({ schedule: s.id, tick, err: String((e as Error).message ?? e) }, "scheduled run not submitted; trying again");
          continue;
        }
        error = e.message;
      }
      let next: Date;
      try {
        next = nextTick(s.cron, s.tz, now);
      } catch (e) {
        this.o.log?.warn({ schedule: s.id, err: (e as Error).message }, "schedule has a bad cron; skipped");
        continue;
      }
      const { rowCount } = await this.o.pool.query(
        `UPDATE opsgraph_schedules SET next_run_at = $3, last_run_at = $4, last_run_id = COALESCE($5, last_run_id), last_error = $6
         WHERE id = $1 AND next_run_at = $2`,
        [s.id, s.next_run_at, next, now, run?.run_id ?? null, error ?? null],
      );
      if (rowCount === 0) continue; // another worker claimed this tick
      if (error) this.o.log?.warn({ schedule: s.id, tick, err: error }, "scheduled run not started: bad input");
      fired.push({
        schedule_id: s.id,
        tick,
        request_id: requestId,
        run_id: run?.run_id ?? null,
        created: run?.created ?? false,
        ...(error !== undefined && { error }),
      });
    }
    return fired;
  }
}
