import fs from "node:fs/promises";
import path from "node:path";
import cliProgress from "cli-progress";
import pLimit from "p-limit";
import { openApp } from "../app/app.js";
import type { Config } from "../runtime/config.js";
import { listContracts, readContract, type ContractDocument } from "../runtime/documents/documents.js";
import { InputError } from "../runtime/errors.js";
import { readPlaybook } from "../flows/contract-review/run/playbook.js";
import type { Playbook } from "../flows/contract-review/agents/playbook.js";
import { table } from "./format.js";
import type { RunRecord } from "../flows/contract-review/run/runner.js";

interface RunOptions {
  input: string;
  requestId?: string;
  playbook?: string;
  autoApprove: boolean;
  concurrency?: number;
  json: boolean;
}

export function announceTiers(cfg: Config) {
  if (cfg.modelTiers.length === 0 && Object.keys(cfg.agentTiers).length === 0) {
    process.stderr.write("opsgraph: no model configured (set OPSGRAPH_MODELS or OPENAI_API_KEY): running the rules tier only\n");
  }
}

/**
 * The contracts of `--input` (a file, or a directory's supported files) and the playbook,
 * all read and checked before anything runs: bad input is one line and nothing half-done.
 */
export async function readInputs(
  cfg: Config,
  opts: { input: string; requestId?: string; playbook?: string },
): Promise<{ documents: ContractDocument[]; playbook: Playbook | undefined }> {
  const st = await fs.stat(opts.input).catch(() => undefined);
  if (!st) throw new InputError(`${opts.input}: no such file or directory`);
  const files = st.isDirectory() ? await listContracts(opts.input) : [opts.input];
  if (opts.requestId && files.length > 1) throw new InputError(`--request-id: names one run, but ${opts.input} holds ${files.length} contracts`);
  const playbook = opts.playbook ? await readPlaybook(opts.playbook) : undefined;
  const documents: ContractDocument[] = [];
  for (const f of files) documents.push(await readContract(f, { maxBytes: cfg.maxInputBytes }));
  return { documents, playbook };
}

/**
 * `opsgraph run contract-review`: one file, or a directory as a batch with bounded
 * concurrency. Every input is read and checked before any run starts, so bad input leaves
 * nothing half-done. Returns the exit code: 1 when a run failed.
 */
export async function runContractReview(cfg: Config, opts: RunOptions): Promise<number> {
  const { documents, playbook } = await readInputs(cfg, opts);

  const app = await openApp(cfg);
  // only once the input and the database are good: a bad-input error stays the one line on stderr
  announceTiers(cfg);
  try {
    const batch = documents.length > 1;
    const bar =
      batch && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: "  reviewing [{bar}] {value}/{total} {file}", stream: process.stderr, hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    bar?.start(documents.length, 0, { file: "" });
    const limit = pLimit(opts.concurrency ?? cfg.concurrency);
    const runs = await Promise.all(
      documents.map((document) =>
        limit(async () => {
          let run: RunRecord;
          try {
            run = await app.contractReview.review({ document, playbook, requestId: opts.requestId, autoApprove: opts.autoApprove });
          } catch (e) {
            if (e instanceof InputError) throw e;
            run = {
              run_id: "",
              thread_id: "",
              request_id: opts.requestId ?? "",
              flow: "contract-review",
              status: "failed",
              model_calls: 0,
              tiers_used: [],
              duration_ms: 0,
              error: (e as Error).message,
            };
          }
          if (opts.json) process.stdout.write(JSON.stringify(run) + "\n");
          bar?.increment({ file: document.source });
          return { run, document };
        }),
      ),
    );
    bar?.stop();
    const out = opts.json ? process.stderr : process.stdout;
    if (!opts.json && !batch) printRun(runs[0]!.run, false);
    else out.write(summaryTable(runs) + "\n");
    const waiting = runs.filter((r) => r.run.status === "awaiting_review");
    if (waiting.length > 0 && !opts.json) {
      out.write(`\n${waiting.length} awaiting a person's review:\n`);
      for (const w of waiting) out.write(`  npx opsgraph resume ${w.run.run_id} --decision approve|reject [--note TEXT]   # ${w.document.source}\n`);
    }
    return runs.some((r) => r.run.status === "failed" || r.run.status === "dead_lettered") ? 1 : 0;
  } finally {
    await app.close();
  }
}

interface ContractResult {
  produced_by?: Record<string, string>;
  risk_score?: number | null;
  decision?: { decision: string; by: string } | null;
  report_path?: string | null;
  summary?: string | null;
}

export function summaryTable(runs: { run: RunRecord; document: ContractDocument }[]): string {
  const rows = [["contract", "status", "risk", "decision", "calls", "tiers", "ms", "run_id"]];
  for (const { run, document } of runs) {
    const r = (run.result ?? {}) as ContractResult;
    rows.push([
      document.source,
      run.status + (run.cached ? " (stored)" : ""),
      r.risk_score === undefined || r.risk_score === null ? "" : String(r.risk_score),
      r.decision ? `${r.decision.decision} (${r.decision.by})` : run.status === "awaiting_review" ? "needs review" : "",
      String(run.model_calls),
      run.tiers_used.join(","),
      String(run.duration_ms),
      run.run_id,
    ]);
  }
  const failed = runs.filter((r) => r.run.status === "failed");
  const lines = [
    table(rows),
    "",
    `${runs.length} contracts: ${runs.filter((r) => r.run.status === "completed").length} completed, ${runs.filter((r) => r.run.status === "awaiting_review").length} awaiting review, ${failed.length} failed`,
  ];
  for (const f of failed) lines.push(`  ${f.document.source}: ${f.run.error ?? "failed"}`);
  return lines.join("\n");
}

export function printRun(run: RunRecord, json: boolean) {
  if (json) {
    process.stdout.write(JSON.stringify(run) + "\n");
    return;
  }
  const r = (run.result ?? {}) as ContractResult;
  const lines = [
    `run ${run.run_id} (${run.flow}) ${run.status}${run.cached ? " (stored result)" : ""}`,
    `  request ${run.request_id}  thread ${run.thread_id}`,
    `  ${run.model_calls} model calls, tiers ${run.tiers_used.join(", ") || "none"}, ${run.duration_ms} ms`,
  ];
  if (r.risk_score !== undefined && r.risk_score !== null)
    lines.push(`  risk score ${r.risk_score}${r.decision ? `, ${r.decision.decision} (${r.decision.by})` : ""}`);
  if (r.produced_by && Object.keys(r.produced_by).length)
    lines.push(
      `  answered by: ${Object.entries(r.produced_by)
        .map(([agent, tier]) => `${agent} ${tier}`)
        .join(", ")}`,
    );
  else if (run.tiers_used_by_agent && Object.keys(run.tiers_used_by_agent).length)
    lines.push(
      `  answered by: ${Object.entries(run.tiers_used_by_agent)
        .map(([agent, tiers]) => `${agent} ${tiers.join("+")}`)
        .join(", ")}`,
    );
  const failures = (run.attempts ?? []).filter((a) => a.outcome !== "ok");
  if (failures.length) lines.push(`  ${failures.length} failed or skipped attempts (see --json "attempts")`);
  for (const [agent, o] of Object.entries(run.tier_order ?? {}))
    if (o.why.length) lines.push(`  tier order of ${agent}: ${o.order.join(" > ")} (${o.why.join("; ")})`);
  if (r.summary) lines.push(`  ${r.summary}`);
  if (r.report_path) lines.push(`  report: ${path.relative(process.cwd(), r.report_path) || r.report_path}`);
  if (run.error) lines.push(`  error: ${run.error}`);
  if (run.status === "awaiting_review") lines.push(`  review it: npx opsgraph resume ${run.run_id} --decision approve|reject [--note TEXT]`);
  process.stdout.write(lines.join("\n") + "\n");
}

export function printRuns(runs: RunRecord[], json: boolean) {
  if (json) {
    process.stdout.write(JSON.stringify({ runs }) + "\n");
    return;
  }
  if (runs.length === 0) {
    process.stdout.write("no runs\n");
    return;
  }
  const rows = [["run_id", "flow", "status", "calls", "tiers", "ms", "request_id", "worker"]];
  for (const r of runs)
    rows.push([r.run_id, r.flow, r.status, String(r.model_calls), r.tiers_used.join(","), String(r.duration_ms), r.request_id, r.worker_id ?? ""]);
  process.stdout.write(table(rows) + "\n");
}
