import fs from "node:fs/promises";
import os from "node:os";
import type { Command } from "commander";
import { parseThesis, ThesisError, type Thesis } from "../flows/sourcing/agents/thesis.js";
import { openApp, type App } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";
import { InputError } from "../runtime/errors.js";
import type { SourcingStatus } from "../flows/sourcing/run/status.js";
import { positiveInt, table } from "./format.js";
import { age } from "./status.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

async function readThesis(file: string): Promise<Thesis> {
  const text = await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`--thesis ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  try {
    return parseThesis(text);
  } catch (e) {
    if (e instanceof ThesisError) throw new InputError(`--thesis ${file}: ${e.message}`);
    throw e;
  }
}

function formatStatus(s: SourcingStatus): string {
  const rows = [["stage", "subscribes", "consumed", "pending", "lag"]];
  for (const [name, st] of Object.entries(s.stages)) {
    rows.push([
      name,
      st.subscribes,
      Object.entries(st.consumed)
        .map(([o, n]) => `${n} ${o}`)
        .join(", ") || "0",
      String(st.pending),
      st.lag_ms === null ? "-" : age(st.lag_ms),
    ]);
  }
  return [
    `companies     ${s.companies} discovered, ${s.finished} finished (outreach ready or rejected)`,
    `events        ${
      Object.entries(s.events)
        .map(([t, n]) => `${t} ${n}`)
        .join("  ") || "none"
    }`,
    table(rows, "  "),
    `drafts        ${s.drafts.pending} awaiting approval, ${s.drafts.approved} approved`,
    `dead letters  ${s.dead_letters} waiting${s.dead_letters ? " (opsgraph dlq list)" : ""}`,
  ].join("\n");
}

/** `opsgraph sourcing ...`: ingest startups onto the event bus, watch the stages, trace a company, approve outreach. */
export function addSourcingCommands(program: Command, withApp: WithApp) {
  const sourcing = program.command("sourcing").description("Deal sourcing: an event-driven flow (opsgraph worker consumes the events)");

  sourcing
    .command("ingest")
    .description("Publish a company.discovered.v1 event per startup of a CSV; prints { published, skipped, invalid }")
    .requiredOption("--csv <file>", "startups in the format of Startups.csv (YC startups 2005-2014)")
    .requiredOption("--thesis <file>", "the investment thesis (Markdown, see samples/thesis.md) the companies are scored against")
    .option("--limit <n>", "only the first n records", positiveInt)
    .option("--json", "print one JSON object: { published, skipped, invalid, invalid_rows }", false)
    .action(async (opts: { csv: string; thesis: string; limit?: number; json: boolean }) => {
      const thesis = await readThesis(opts.thesis);
      const app = await openApp(loadConfig(process.env), { queue: true });
      try {
        const r = await app.sourcing.ingest({
          csv: opts.csv,
          thesis,
          limit: opts.limit,
          onProgress: (done, total) => process.stderr.write(`ingest: ${done}/${total} records read\n`),
        });
        for (const bad of r.invalid) process.stderr.write(`line ${bad.line}: invalid: ${bad.reason}\n`);
        const out = { published: r.published, skipped: r.skipped, invalid: r.invalid.length, invalid_rows: r.invalid };
        process.stdout.write(
          opts.json ? JSON.stringify(out) + "\n" : `published ${out.published}, skipped ${out.skipped} (already ingested), invalid ${out.invalid}\n`,
        );
      } finally {
        await app.close();
      }
    });

  sourcing
    .command("status")
    .description("Counts per stage, lag, drafts and dead letters of the sourcing flow")
    .option("--json", "print one JSON object (finished, stages, events, drafts, dead_letters)", false)
    .action(async (opts: { json: boolean }) => {
      const s = await withApp((app) => app.sourcing.status());
      process.stdout.write((opts.json ? JSON.stringify(s) : formatStatus(s)) + "\n");
    });

  sourcing
    .command("trace")
    .description("A company's chain of events with their times, and who consumed each")
    .argument("<company>", "the company's name or slug")
    .option("--json", 'print { "company", "events": [...] }', false)
    .action(async (company: string, opts: { json: boolean }) => {
      const events = await withApp((app) => app.sourcing.trace(company));
      if (!events.length) throw new InputError(`trace ${company}: no events for this company (ingest it first)`);
      if (opts.json) return void process.stdout.write(JSON.stringify({ company, events }) + "\n");
      const t0 = Date.parse(events[0]!.published_at);
      const lines = events.map((e) => {
        const by = e.consumed_by.map((c) => `${c.consumer} ${c.outcome} +${Date.parse(c.at) - t0}ms`).join(", ");
        return `${e.published_at}  +${Date.parse(e.published_at) - t0}ms  ${e.type}  ${e.id}${e.causation_id ? ` (answers ${e.causation_id.slice(0, 8)})` : ""}\n    ${e.summary}${by ? `\n    consumed: ${by}` : ""}`;
      });
      process.stdout.write(lines.join("\n") + "\n");
    });

  sourcing
    .command("drafts")
    .description("Outreach drafts: awaiting a person's approval, or approved")
    .option("--all", "approved drafts too", false)
    .option("--json", 'print { "drafts": [...] }', false)
    .action(async (opts: { all: boolean; json: boolean }) => {
      const drafts = await withApp((app) => app.sourcing.drafts(opts.all ? undefined : "pending"));
      if (opts.json) return void process.stdout.write(JSON.stringify({ drafts }) + "\n");
      process.stdout.write(
        drafts.length ? table([["id", "company", "status", "subject"], ...drafts.map((d) => [d.id, d.company, d.status, d.subject])]) + "\n" : "no drafts\n",
      );
    });

  sourcing
    .command("approve")
    .description("Approve an outreach draft: only then is it sent (once, however often it is approved)")
    .argument("<id>", "the draft's id (or its first 8 characters; see opsgraph sourcing drafts)")
    .option("--by <name>", "who approves it (default: the OS user)")
    .option("--json", "print { draft, sent }", false)
    .action(async (id: string, opts: { by?: string; json: boolean }) => {
      const r = await withApp((app) => app.sourcing.approve(id, opts.by ?? os.userInfo().username));
      process.stdout.write(
        opts.json
          ? JSON.stringify(r) + "\n"
          : `draft ${r.draft.id} (${r.draft.company}) approved by ${r.draft.approved_by}: ${r.sent ? "sent" : "already sent"}\n`,
      );
    });
}
