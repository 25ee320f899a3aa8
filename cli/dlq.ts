import fs from "node:fs/promises";
import { Command, Option } from "commander";
import type { App } from "../app/app.js";
import { parseSince, replayDeadLetters, selectDeadLetters, type ReplayFilter, type ReplaySummary } from "../runtime/queue/dead-letter-replay.js";
import type { DeadLetter } from "../runtime/queue/dead-letters.js";
import { InputError } from "../runtime/errors.js";
import { positiveInt, table } from "./format.js";
import { printRun } from "./run.js";

type WithApp = <T>(fn: (app: App) => Promise<T>, opts?: { queue?: boolean; concurrency?: number }) => Promise<T>;

export async function readJsonFile(file: string): Promise<unknown> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (e) {
    throw new InputError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read it"}`);
  }
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
}

const lastError = (d: DeadLetter) => d.errors.at(-1)?.error ?? "";

function printLetters(letters: DeadLetter[], json: boolean) {
  if (json) {
    process.stdout.write(JSON.stringify({ dead_letters: letters.map(({ errors, ...d }) => ({ ...d, attempts: errors.length })) }) + "\n");
    return;
  }
  if (letters.length === 0) {
    process.stdout.write("no dead letters\n");
    return;
  }
  const rows = [["id", "status", "flow", "agent", "attempts", "created", "run_id", "last error"]];
  for (const d of letters)
    rows.push([d.id, d.status, d.flow, d.agent, String(d.errors.length), new Date(d.created_at).toISOString(), d.run_id ?? "", lastError(d).slice(0, 60)]);
  process.stdout.write(table(rows) + "\n");
}

function printLetter(d: DeadLetter, json: boolean) {
  if (json) {
    process.stdout.write(JSON.stringify(d) + "\n");
    return;
  }
  const lines = [
    `dead letter ${d.id} (${d.status}): ${d.flow} / ${d.agent} at node ${d.node}`,
    `  run ${d.run_id ?? "-"}  thread ${d.thread_id}`,
    `  input ${JSON.stringify(d.input_ref)}`,
    `  created ${new Date(d.created_at).toISOString()}, updated ${new Date(d.updated_at).toISOString()}`,
    "  attempts:",
    ...d.errors.map(
      (a) =>
        `    ${a.tier} #${a.attempt} ${a.outcome}${a.error_class ? ` (${a.error_class})` : ""}${a.wait_ms ? `, then waited ${a.wait_ms} ms` : ""}: ${a.error ?? ""}`,
    ),
  ];
  if (d.status === "waiting") lines.push(`  retry it: npx opsgraph dlq retry ${d.id}   discard it: npx opsgraph dlq discard ${d.id}`);
  process.stdout.write(lines.join("\n") + "\n");
}

interface RetryOptions {
  all: boolean;
  flow?: string;
  agent?: string;
  since?: string;
  dryRun: boolean;
  concurrency?: number;
  json: boolean;
}

/** One line: `retried 37: 35 completed, 1 dead_lettered again, 1 failed, 0 errors (not retryable in place, ...: 0)`. */
export function formatReplaySummary(s: ReplaySummary): string {
  const parts = [`${s.completed} completed`, `${s.dead_lettered} dead_lettered again`, `${s.failed} failed`];
  if (s.awaiting_review) parts.push(`${s.awaiting_review} awaiting_review`);
  parts.push(`${s.errors} error${s.errors === 1 ? "" : "s"}`);
  return `retried ${s.retried}: ${parts.join(", ")} (worker-task and refused-event letters cannot be retried in place: ${s.not_retryable})`;
}

/** `dlq retry --all`: exit 1 when a retry raised an error or its run failed or was dead-lettered again. */
async function retryAll(withApp: WithApp, opts: RetryOptions): Promise<number> {
  const filter: ReplayFilter = {
    ...(opts.flow !== undefined ? { flow: opts.flow } : {}),
    ...(opts.agent !== undefined ? { agent: opts.agent } : {}),
    ...(opts.since !== undefined ? { since: parseSince(opts.since) } : {}),
  };
  if (opts.dryRun) {
    const letters = await withApp((app) => selectDeadLetters(app.registry, filter));
    if (opts.json)
      process.stdout.write(
        JSON.stringify({ dry_run: true, count: letters.length, dead_letters: letters.map(({ errors, ...d }) => ({ ...d, attempts: errors.length })) }) + "\n",
      );
    else {
      if (letters.length) printLetters(letters, false);
      process.stdout.write(`would retry ${letters.length} dead letter${letters.length === 1 ? "" : "s"} (dry run: none retried)\n`);
    }
    return 0;
  }
  const concurrency = opts.concurrency ?? 4;
  const tty = process.stderr.isTTY === true;
  const summary = await withApp(
    (app) =>
      replayDeadLetters(app.registry, {
        filter,
        concurrency,
        onLetter: (r, done, total) => {
          if (tty) process.stderr.write(`\r  retried ${done}/${total}`);
          else process.stderr.write(`dead letter ${r.id} (${r.flow} / ${r.agent}, run ${r.run_id ?? "-"}): ${r.outcome}${r.error ? `: ${r.error}` : ""}\n`);
        },
      }),
    { queue: true, concurrency },
  );
  if (tty && summary.selected) process.stderr.write("\n");
  process.stdout.write(opts.json ? JSON.stringify(summary) + "\n" : formatReplaySummary(summary) + "\n");
  return summary.errors || summary.failed || summary.dead_lettered ? 1 : 0;
}

/** `opsgraph dlq list|show|retry|discard`: the dead letter queue. */
export function addDeadLetterCommands(program: Command, withApp: WithApp) {
  const dlq = program.command("dlq").description("The dead letter queue: steps that every tier failed");
  dlq
    .command("list")
    .description("List dead letters, newest first")
    .addOption(new Option("--status <status>", "which ones").choices(["waiting", "retried", "discarded", "all"]).default("waiting"))
    .option("--json", 'print { "dead_letters": [...] } as one JSON object', false)
    .action(async (opts: { status: "waiting" | "retried" | "discarded" | "all"; json: boolean }) => {
      printLetters(await withApp((app) => app.registry.deadLetters.list(opts.status)), opts.json);
    });
  dlq
    .command("show")
    .description("Show a dead letter with the error of every attempt")
    .argument("<id>", "the dead letter")
    .option("--json", "print it as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      printLetter(await withApp((app) => app.registry.deadLetters.get(id)), opts.json);
    });
  dlq
    .command("retry")
    .description("Retry the failed step from the run's last checkpoint (finished steps do not run again); --all: every waiting letter the filters select")
    .argument("[id]", "the dead letter (or --all)")
    .option(
      "--all",
      "retry every waiting dead letter the filters select, each once; exit 1 if a retry errored or its run failed or was dead-lettered again",
      false,
    )
    .option("--flow <flow>", "with --all: only letters of this flow: contract-review, portfolio-monitoring, sourcing (every stage) or sourcing.<stage>")
    .option("--agent <agent>", "with --all: only letters of this agent (e.g. risk_analyst)")
    .option("--since <time>", "with --all: only letters created since an ISO time (2024-05-01T08:00:00Z) or a duration ago (2h, 30m, 7d)")
    .option("--dry-run", "with --all: print how many letters and which, retry none", false)
    .option("--concurrency <n>", "with --all: runs retried at once (default: 4)", positiveInt)
    .option("--json", "print the run as one JSON object; with --all, one summary object", false)
    .action(async (id: string | undefined, opts: RetryOptions) => {
      if (id !== undefined && opts.all) throw new InputError(`dlq retry: give a dead letter id or --all, not both`);
      if (!opts.all) {
        if (id === undefined) throw new InputError("dlq retry: give a dead letter id, or --all");
        const batchOnly = opts.dryRun || [opts.flow, opts.agent, opts.since, opts.concurrency].some((v) => v !== undefined);
        if (batchOnly) throw new InputError(`dlq retry: --flow, --agent, --since, --dry-run and --concurrency go with --all, not with an id`);
        // the run's own flow goes on from its checkpoint (a sourcing stage then publishes its next event: the queue is open)
        const { run } = await withApp((app) => app.registry.retryDeadLetter(id), { queue: true });
        printRun(run, opts.json);
        process.exitCode = run.status === "failed" || run.status === "dead_lettered" ? 1 : 0;
        return;
      }
      process.exitCode = await retryAll(withApp, opts);
    });
  dlq
    .command("discard")
    .description("Give up on a dead letter (its run stays dead_lettered)")
    .argument("<id>", "the dead letter")
    .option("--json", "print it as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      printLetter(await withApp((app) => app.registry.deadLetters.settle(id, "discarded")), opts.json);
    });
}
