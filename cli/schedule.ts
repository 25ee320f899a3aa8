import type { Command } from "commander";
import type { App } from "../app/app.js";
import { SCHEDULABLE_FLOWS, scheduleInputOf } from "../flows/index.js";
import { assertSchedulable, Schedules, type Schedule } from "../runtime/queue/schedules.js";
import { table } from "./format.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

/** An instant as the schedule's zone reads it: "2026-03-02 06:00" (Swedish dates are ISO-ordered). */
function inZone(at: string | null, tz: string): string {
  if (!at) return "-";
  return new Intl.DateTimeFormat("sv-SE", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(
    new Date(at),
  );
}

export function formatSchedules(list: Schedule[]): string {
  if (!list.length) return 'no schedules (opsgraph schedule add portfolio-monitoring --cron "0 6 * * MON" --input portfolio.yaml)';
  const rows = [["id", "flow", "cron", "tz", "next run", "last run", "last run id"]];
  for (const s of list) {
    rows.push([
      s.id,
      s.flow,
      s.cron,
      s.tz,
      inZone(s.next_run_at, s.tz),
      inZone(s.last_run_at, s.tz),
      s.last_error ? `not started: ${s.last_error.slice(0, 60)}` : (s.last_run_id ?? "-"),
    ]);
  }
  return table(rows);
}

/** `opsgraph schedule add|list|remove`: cron schedules of runs, started by workers. */
export function addScheduleCommand(program: Command, withApp: WithApp) {
  const schedule = program
    .command("schedule")
    .description("Run a flow on a cron schedule: running workers (opsgraph worker) start one run per tick, however many workers there are");

  schedule
    .command("add")
    .description("Add a schedule; prints it with its next run time")
    .argument("<flow>", `the flow to run (${SCHEDULABLE_FLOWS.join(", ")})`)
    .requiredOption(
      "--cron <expr>",
      'when to run: five fields, minute hour day-of-month month day-of-week (e.g. "0 6 * * MON": Mondays at 06:00), or @hourly, @daily, @weekly, @monthly, @yearly',
    )
    .requiredOption("--input <file>", "the portfolio file (YAML or JSON); it is read now and kept with the schedule: add the schedule again after editing it")
    .option("--tz <zone>", "the IANA time zone the cron is read in, e.g. Europe/Paris", "UTC")
    .option("--json", "print the schedule as one JSON object", false)
    .action(async (flow: string, opts: { cron: string; input: string; tz: string; json: boolean }) => {
      assertSchedulable(flow, SCHEDULABLE_FLOWS); // before reading the input as the flow's
      const reader = scheduleInputOf(flow);
      const input = await reader.read(opts.input);
      const s = await withApp((app) => new Schedules({ pool: app.db.pool, flows: SCHEDULABLE_FLOWS }).add({ flow, cron: opts.cron, tz: opts.tz, input }));
      process.stdout.write(
        opts.json
          ? JSON.stringify(s) + "\n"
          : `schedule ${s.id}: ${s.flow} "${s.cron}" (${s.tz}), ${reader.summary(s.input)}; next run ${inZone(s.next_run_at, s.tz)} ${s.tz} (${s.next_run_at})\n` +
              "runs start on a running worker: opsgraph worker\n",
      );
    });

  schedule
    .command("list")
    .description("List schedules, the next to run first, with their last run")
    .option("--json", 'print { "schedules": [...] } as one JSON object', false)
    .action(async (opts: { json: boolean }) => {
      const list = await withApp((app) => new Schedules({ pool: app.db.pool, flows: SCHEDULABLE_FLOWS }).list());
      process.stdout.write((opts.json ? JSON.stringify({ schedules: list }) : formatSchedules(list)) + "\n");
    });

  schedule
    .command("remove")
    .description("Remove a schedule; its runs stay")
    .argument("<id>", "the schedule (opsgraph schedule list)")
    .option("--json", "print the removed schedule as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      const s = await withApp((app) => new Schedules({ pool: app.db.pool, flows: SCHEDULABLE_FLOWS }).remove(id));
      process.stdout.write(opts.json ? JSON.stringify(s) + "\n" : `removed schedule ${s.id} (${s.flow} "${s.cron}" ${s.tz})\n`);
    });
}
