import { describe, expect, it } from "vitest";
import { InputError } from "../runtime/errors.js";
import { parseDuration, prune } from "../runtime/db/retention.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { databaseUrl, runOpsgraph } from "./support/cli.js";
import { useFreshDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";

// Retention: finished threads' checkpoints go after the retention period; paused, running,
// queued and recent runs keep theirs; run rows always stay.

const CONTRACT = [
  "MASTER SERVICES AGREEMENT",
  "1. Governing Law. This Agreement is governed by the laws of the State of Delaware.",
  "2. Liability. Nothing in this Agreement limits either party's liability for its indemnification obligations.",
  "3. Fees. Customer shall pay each invoice within thirty (30) days of receipt.",
].join("\n\n");
const DAY = 86_400_000;

const doc = (text: string, source = "msa.txt") => documentOf(text, source);

const db = useFreshDatabase("opsgraph-retention-");

const TABLES = ["checkpoints", "checkpoint_blobs", "checkpoint_writes", "opsgraph_spans"] as const;

/** Rows per checkpoint table (and trace spans) of a thread. */
async function rowsOf(thread: string) {
  const out: Record<(typeof TABLES)[number], number> = { checkpoints: 0, checkpoint_blobs: 0, checkpoint_writes: 0, opsgraph_spans: 0 };
  for (const t of TABLES) out[t] = (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE thread_id = $1`, [thread])).rows[0]!.n;
  return out;
}

/**
 * Seven runs of the rules tier: two finished long ago (completed, failed), one paused long
 * ago, a recent completed one, an old `running` and an old `queued` one, and an old
 * dead-lettered one whose dead letter still waits.
 */
async function seed() {
  const runner = (threshold: number) => new ContractReviewRunner({ pool: db.pool, tiers: [], reportsDir: db.dir, reviewThreshold: threshold });
  const review = (id: string, autoApprove = true, threshold = 60) => runner(threshold).review({ document: doc(CONTRACT), requestId: id, autoApprove });
  const runs = {
    oldCompleted: await review("old-completed"),
    oldFailed: await review("old-failed"),
    oldPaused: await review("old-paused", false, 0),
    recentCompleted: await review("recent-completed"),
    oldRunning: await review("old-running"),
    oldQueued: await review("old-queued"),
    oldDeadLettered: await review("old-dead-lettered"),
  };
  expect(runs.oldPaused.status).toBe("awaiting_review");
  const set = (run: { run_id: string }, status: string | null, ageMs: number) =>
    db.pool.query(`UPDATE opsgraph_runs SET status = coalesce($2, status), updated_at = now() - $3::bigint * interval '1 millisecond' WHERE run_id = $1`, [
      run.run_id,
      status,
      ageMs,
    ]);
  await set(runs.oldCompleted, null, 40 * DAY);
  await set(runs.oldFailed, "failed", 31 * DAY);
  await set(runs.oldPaused, null, 90 * DAY);
  await set(runs.recentCompleted, null, 29 * DAY);
  await set(runs.oldRunning, "running", 60 * DAY);
  await set(runs.oldDeadLettered, "dead_lettered", 60 * DAY);
  await db.pool.query(
    `INSERT INTO opsgraph_dead_letters (run_id, thread_id, flow, node, agent, errors, attempts) VALUES ($1, $2, 'contract-review', 'risk_analyst', 'risk_analyst', '[]', 1)`,
    [runs.oldDeadLettered.run_id, runs.oldDeadLettered.thread_id],
  );
  await set(runs.oldQueued, "queued", 60 * DAY);
  // a trace span per run (these runners have no tracing observer)
  for (const r of Object.values(runs)) {
    await db.pool.query(
      `INSERT INTO opsgraph_spans (span_id, run_id, thread_id, kind, name, start_at, end_at) VALUES ($1, $2, $3, 'run', 'contract-review', now(), now())`,
      [`span-${r.run_id}`, r.run_id, r.thread_id],
    );
  }
  return runs;
}

describe("prune", () => {
  it("deletes finished old threads' checkpoints, blobs, writes and trace spans, keeps every other thread's, and keeps every run row; --dry-run counts the same and deletes nothing", async () => {
    const runs = await seed();
    const before = Object.fromEntries(await Promise.all(Object.entries(runs).map(async ([k, r]) => [k, await rowsOf(r.thread_id)] as const)));
    for (const counts of Object.values(before)) expect(counts.checkpoints).toBeGreaterThan(0);
    const pruned = ["oldCompleted", "oldFailed"] as const;
    const expected = {
      threads: 2,
      checkpoints: pruned.reduce((n, k) => n + before[k]!.checkpoints, 0),
      blobs: pruned.reduce((n, k) => n + before[k]!.checkpoint_blobs, 0),
      writes: pruned.reduce((n, k) => n + before[k]!.checkpoint_writes, 0),
      spans: 2,
    };
    expect(expected.blobs).toBeGreaterThan(0);
    expect(expected.writes).toBeGreaterThan(0);

    const dry = await prune(db.pool, { olderThanMs: 30 * DAY, dryRun: true });
    expect(dry).toMatchObject(expected);
    for (const [k, r] of Object.entries(runs)) expect(await rowsOf(r.thread_id), k).toEqual(before[k]);

    const done = await prune(db.pool, { olderThanMs: 30 * DAY });
    expect(done).toMatchObject(expected);
    expect(Date.parse(done.cutoff)).toBeLessThan(Date.now() - 30 * DAY + 60_000);
    for (const [k, r] of Object.entries(runs)) {
      expect(await rowsOf(r.thread_id), k).toEqual(
        (pruned as readonly string[]).includes(k) ? { checkpoints: 0, checkpoint_blobs: 0, checkpoint_writes: 0, opsgraph_spans: 0 } : before[k],
      );
    }

    // run rows stay, with their result; the same request again still answers from its row
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM opsgraph_runs`);
    expect(rows[0]!.n).toBe(7);
    const runner = new ContractReviewRunner({ pool: db.pool, tiers: [], reportsDir: db.dir, reviewThreshold: 60 });
    const again = await runner.review({ document: doc(CONTRACT), requestId: "old-completed", autoApprove: true });
    expect(again).toMatchObject({ status: "completed", cached: true, model_calls: 0, run_id: runs.oldCompleted.run_id });
    expect((again.result as { report_path: string }).report_path).toBe((runs.oldCompleted.result as { report_path: string }).report_path);
    // the Store is left alone: the document is still there for the runs that share it
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM store WHERE key = $1`, [doc(CONTRACT).sha256])).rows[0].n).toBe(1);

    // nothing left to prune
    expect(await prune(db.pool, { olderThanMs: 30 * DAY })).toMatchObject({ threads: 0, checkpoints: 0, blobs: 0, writes: 0, spans: 0 });
  });

  it("skips a thread another process is executing (holding the thread's advisory lock)", async () => {
    const runs = await seed();
    const holder = await db.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext('opsgraph:thread'), hashtext($1))", [runs.oldCompleted.thread_id]);
      expect(await prune(db.pool, { olderThanMs: 30 * DAY })).toMatchObject({ threads: 1 });
      expect((await rowsOf(runs.oldCompleted.thread_id)).checkpoints).toBeGreaterThan(0);
      expect((await rowsOf(runs.oldFailed.thread_id)).checkpoints).toBe(0);
    } finally {
      await holder.query("SELECT pg_advisory_unlock_all()");
      holder.release();
    }
  });

  it("parses 30d, 12h, 90m and 45s, and refuses anything else with an --older-than error", () => {
    expect(parseDuration("30d")).toBe(30 * DAY);
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("90m")).toBe(90 * 60_000);
    expect(parseDuration("45s")).toBe(45_000);
    for (const bad of ["30", "d", "30x", "1.5d", "-3d", "0d", "30 days", ""]) {
      expect(() => parseDuration(bad), bad).toThrow(InputError);
      expect(() => parseDuration(bad), bad).toThrow(/^--older-than: /);
    }
  });
});

// ---- the CLI, as a user runs it, on this test's database ----

const opsgraph = (args: string[]) => runOpsgraph(args, { DATABASE_URL: databaseUrl(db.pool), OPSGRAPH_DATA_DIR: db.dir, LOG_LEVEL: "silent" });

describe("opsgraph prune", () => {
  it("prints one summary line, or one JSON object with --json; a bad --older-than exits 2 with one line", async () => {
    await seed();
    const dry = await opsgraph(["prune", "--older-than", "30d", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /^would prune 2 finished threads older than 30d: \d+ checkpoints, \d+ blobs, \d+ writes, 2 trace spans \(dry run: nothing deleted\)\n$/,
    );

    const json = await opsgraph(["prune", "--older-than", "30d", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(out).toMatchObject({ dry_run: false, older_than: "30d", threads: 2 });
    expect(dry.stdout).toContain(`${String(out.checkpoints)} checkpoints, ${String(out.blobs)} blobs, ${String(out.writes)} writes`);

    const bad = await opsgraph(["prune", "--older-than", "30x"]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^opsgraph: --older-than: "30x" is not a duration[^\n]*\n$/);
  });
});
