import fs from "node:fs/promises";
import { Command, Option } from "commander";
import type { App } from "../runtime/app.js";
import type { DeadLetter } from "../runtime/dead-letters.js";
import { InputError } from "../runtime/errors.js";
import { table } from "./format.js";
import { printRun } from "./run.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

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
  for (const d of letters) rows.push([d.id, d.status, d.flow, d.agent, String(d.errors.length), new Date(d.created_at).toISOString(), d.run_id ?? "", lastError(d).slice(0, 60)]);
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
    ...d.errors.map((a) => `    ${a.tier} #${a.attempt} ${a.outcome}${a.error_class ? ` (${a.error_class})` : ""}${a.wait_ms ? `, then waited ${a.wait_ms} ms` : ""}: ${a.error ?? ""}`),
  ];
  if (d.status === "waiting") lines.push(`  retry it: npx opsgraph dlq retry ${d.id}   discard it: npx opsgraph dlq discard ${d.id}`);
  process.stdout.write(lines.join("\n") + "\n");
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
      printLetters(await withApp((app) => app.contractReview.deadLetters.list(opts.status)), opts.json);
    });
  dlq
    .command("show")
    .description("Show a dead letter with the error of every attempt")
    .argument("<id>", "the dead letter")
    .option("--json", "print it as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      printLetter(await withApp((app) => app.contractReview.deadLetters.get(id)), opts.json);
    });
  dlq
    .command("retry")
    .description("Retry the failed step from the run's last checkpoint (finished steps do not run again)")
    .argument("<id>", "the dead letter")
    .option("--json", "print the run as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      // the run's own flow goes on from its checkpoint
      const { run } = await withApp(async (app) => {
        const letter = await app.contractReview.deadLetters.get(id);
        const row = letter.run_id ? await app.contractReview.get({ runId: letter.run_id }) : undefined;
        return (app.runners.find((r) => r.flow === row?.flow) ?? app.contractReview).retryDeadLetter(id);
      });
      printRun(run, opts.json);
      process.exitCode = run.status === "failed" || run.status === "dead_lettered" ? 1 : 0;
    });
  dlq
    .command("discard")
    .description("Give up on a dead letter (its run stays dead_lettered)")
    .argument("<id>", "the dead letter")
    .option("--json", "print it as one JSON object", false)
    .action(async (id: string, opts: { json: boolean }) => {
      printLetter(await withApp((app) => app.contractReview.deadLetters.settle(id, "discarded")), opts.json);
    });
}
