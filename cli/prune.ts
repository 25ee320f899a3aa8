import type { Command } from "commander";
import type { App } from "../app/app.js";
import { parseDuration, prune } from "../runtime/db/retention.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

/** `opsgraph prune --older-than 30d [--dry-run] [--json]`: retention of finished threads' checkpoints. */
export function addPruneCommand(program: Command, withApp: WithApp) {
  program
    .command("prune")
    .description("Delete the checkpoints of finished runs (completed, failed, dead-lettered) last updated before a cutoff; run rows stay")
    .requiredOption("--older-than <duration>", "how old a finished run must be: 30d, 12h, 90m or 45s")
    .option("--dry-run", "count what would be deleted, delete nothing", false)
    .option("--json", "print one JSON object", false)
    .action(async (opts: { olderThan: string; dryRun: boolean; json: boolean }) => {
      const olderThanMs = parseDuration(opts.olderThan, "--older-than");
      const r = await withApp((app) => prune(app.db.pool, { olderThanMs, dryRun: opts.dryRun }));
      if (opts.json) {
        process.stdout.write(JSON.stringify({ dry_run: opts.dryRun, older_than: opts.olderThan, ...r }) + "\n");
        return;
      }
      const what = `${r.threads} finished thread${r.threads === 1 ? "" : "s"} older than ${opts.olderThan}: ${r.checkpoints} checkpoints, ${r.blobs} blobs, ${r.writes} writes, ${r.spans} trace spans`;
      process.stdout.write(`${opts.dryRun ? "would prune" : "pruned"} ${what}${opts.dryRun ? " (dry run: nothing deleted)" : ""}\n`);
    });
}
