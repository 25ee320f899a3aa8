import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Command } from "@langchain/langgraph";
import type pg from "pg";
import { DEFAULT_PLAYBOOK, type Playbook } from "../agents/contract-review/playbook.js";
import { buildContractReviewGraph, DOCUMENTS_NAMESPACE, type ContractReviewContext, type ContractReviewState, type ReportSink } from "../graphs/contract-review/index.js";
import type { Attempt, ModelTier } from "../nodes/agent.js";
import { RULES_TIER } from "../nodes/agent-step.js";
import { createCheckpointer, createStore } from "./checkpointer.js";
import type { ContractDocument } from "./documents.js";
import { InputError } from "./errors.js";
import type { Logger } from "./log.js";

export type RunStatus = "running" | "completed" | "awaiting_review" | "failed" | "dead_lettered";

/** A run as the CLI prints it (`--json`): one object per run. */
export interface RunRecord {
  run_id: string;
  thread_id: string;
  request_id: string;
  flow: string;
  status: RunStatus;
  /** HTTP requests made to model providers by this invocation, retries included. */
  model_calls: number;
  tiers_used: string[];
  duration_ms: number;
  result?: unknown;
  error?: string;
  /** True when the answer came from a finished run of the same request, with no work done. */
  cached?: boolean;
}

export interface RunnerDeps {
  pool: pg.Pool;
  tiers: ModelTier[];
  reportsDir: string;
  reviewThreshold: number;
  log?: Logger;
}

export interface ContractReviewRequest {
  document: ContractDocument;
  playbook?: Playbook;
  requestId?: string;
  autoApprove?: boolean;
}

export const CONTRACT_REVIEW = "contract-review";

type RunConfig = { configurable: { thread_id: string }; context: ContractReviewContext; durability: "sync" };

/** The default request id: the same flow, input bytes and playbook are the same request. */
export function defaultRequestId(flow: string, inputSha256: string, playbook: Playbook): string {
  return createHash("sha256").update(flow).update("\0").update(inputSha256).update("\0").update(JSON.stringify(playbook)).digest("hex").slice(0, 32);
}

const threadIdFor = (flow: string, requestId: string) => `${flow}:${requestId}`;

/** Writes reports under a directory, atomically (temp file then rename): never half-written. */
export function fileReportSink(dir: string): ReportSink {
  return {
    async write(name, markdown) {
      await fs.mkdir(dir, { recursive: true });
      const target = path.resolve(dir, name);
      const tmp = `${target}.${process.pid}.tmp`;
      await fs.writeFile(tmp, markdown);
      await fs.rename(tmp, target);
      return target;
    },
  };
}

function modelCalls(attempts: Attempt[]): number {
  return attempts.filter((a) => a.tier !== RULES_TIER).length;
}

function tiersUsed(attempts: Attempt[]): string[] {
  return [...new Set(attempts.filter((a) => a.outcome === "ok").map((a) => a.tier))];
}

function contractResult(s: ContractReviewState) {
  return {
    categories: s.clauses?.categories ?? [],
    risks: s.risks?.risks ?? [],
    risk_score: s.risks?.risk_score ?? null,
    terms: s.terms,
    decision: s.decision,
    summary: s.summary?.summary ?? null,
    report_path: s.report_path,
  };
}

/** A row of opsgraph_runs. */
interface RunRow extends Omit<RunRecord, "result" | "error" | "cached"> {
  result: unknown;
  error: string | null;
  input: { playbook?: Playbook; auto_approve?: boolean; source?: string };
}

function toRecord(row: RunRow, withResult = true): RunRecord {
  const rec: RunRecord = {
    run_id: row.run_id,
    thread_id: row.thread_id,
    request_id: row.request_id,
    flow: row.flow,
    status: row.status,
    model_calls: row.model_calls,
    tiers_used: row.tiers_used,
    duration_ms: row.duration_ms,
  };
  if (withResult) rec.result = row.result;
  if (row.error) rec.error = row.error;
  return rec;
}

/** Runs of the contract-review flow on PostgreSQL: start, resume, list, show. */
export class ContractReviewRunner {
  private readonly checkpointer;
  private readonly store;
  private readonly graph;

  constructor(private readonly deps: RunnerDeps) {
    this.checkpointer = createCheckpointer(deps.pool);
    this.store = createStore(deps.pool);
    this.graph = buildContractReviewGraph().compile({ checkpointer: this.checkpointer, store: this.store });
  }

  private context(playbook: Playbook, autoApprove: boolean): ContractReviewContext {
    return {
      tiers: this.deps.tiers,
      playbook,
      autoApprove,
      reviewThreshold: this.deps.reviewThreshold,
      reports: fileReportSink(this.deps.reportsDir),
    };
  }

  /**
   * Reviews one contract. The same request again answers from the stored run with no model
   * call; a run that stopped part-way (crash, failure) carries on from its last checkpoint.
   */
  async review({ document, playbook = DEFAULT_PLAYBOOK, requestId, autoApprove = false }: ContractReviewRequest): Promise<RunRecord> {
    const request_id = requestId ?? defaultRequestId(CONTRACT_REVIEW, document.sha256, playbook);
    const thread_id = threadIdFor(CONTRACT_REVIEW, request_id);
    const existing = await this.get({ requestId: request_id });
    if (existing && (existing.status === "completed" || existing.status === "awaiting_review")) {
      return { ...toRecord(existing), model_calls: 0, duration_ms: 0, cached: true };
    }
    const run_id = existing?.run_id ?? randomUUID();
    const input = { playbook, auto_approve: autoApprove, source: document.source };
    await this.deps.pool.query(
      `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input) VALUES ($1, $2, $3, $4, 'running', $5)
       ON CONFLICT (request_id) DO UPDATE SET status = 'running', error = NULL, updated_at = now()`,
      [run_id, request_id, thread_id, CONTRACT_REVIEW, JSON.stringify(input)],
    );
    const config = { configurable: { thread_id }, context: this.context(playbook, autoApprove), durability: "sync" as const };
    const started = await this.graph.getState(config);
    const resuming = started.next.length > 0;
    let graphInput: { document_ref: string; source: string } | null = null;
    if (!resuming) {
      const key = document.sha256;
      await this.store.put(DOCUMENTS_NAMESPACE, key, { text: document.text, source: document.source });
      graphInput = { document_ref: key, source: document.source };
    }
    return this.execute(run_id, thread_id, graphInput, config);
  }

  /** Answers the human review of a run awaiting it, and carries the run on to its end. */
  async resume(runId: string, answer: { decision: "approve" | "reject"; note?: string }): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    if (row.status !== "awaiting_review") throw new InputError(`run ${runId}: is ${row.status}, not awaiting_review`);
    await this.deps.pool.query(`UPDATE opsgraph_runs SET status = 'running', updated_at = now() WHERE run_id = $1`, [runId]);
    const config = {
      configurable: { thread_id: row.thread_id },
      context: this.context(row.input.playbook ?? DEFAULT_PLAYBOOK, row.input.auto_approve ?? false),
      durability: "sync" as const,
    };
    return this.execute(row.run_id, row.thread_id, new Command({ resume: answer }), config);
  }

  private async execute(run_id: string, thread_id: string, input: unknown, config: RunConfig): Promise<RunRecord> {
    const t0 = Date.now();
    const before = (await this.graph.getState(config)).values as Partial<ContractReviewState>;
    const seen = before.attempts?.length ?? 0;
    let status: RunStatus;
    let error: string | null = null;
    try {
      await this.graph.invoke(input as never, config);
      const snapshot = await this.graph.getState(config);
      status = snapshot.next.length > 0 ? "awaiting_review" : "completed";
    } catch (e) {
      status = "failed";
      error = String((e as Error).message ?? e).split("\n")[0]!.slice(0, 500);
    }
    const state = (await this.graph.getState(config)).values as ContractReviewState;
    const attempts = state.attempts ?? [];
    const fresh = attempts.slice(seen);
    const calls = modelCalls(fresh);
    const log = this.deps.log?.child({ run_id, thread_id, flow: CONTRACT_REVIEW });
    for (const a of fresh.filter((a) => a.outcome !== "ok")) {
      log?.warn({ agent: a.agent, tier: a.tier, attempt: a.attempt, outcome: a.outcome, error: a.error }, "agent attempt failed; next tier");
    }
    const duration_ms = Date.now() - t0;
    const { rows } = await this.deps.pool.query<RunRow>(
      `UPDATE opsgraph_runs SET status = $2, model_calls = model_calls + $3, tiers_used = $4, duration_ms = duration_ms + $5,
         result = $6, error = $7, tokens = $8, updated_at = now() WHERE run_id = $1 RETURNING *`,
      [
        run_id,
        status,
        calls,
        JSON.stringify(tiersUsed(attempts)),
        duration_ms,
        status === "failed" ? null : JSON.stringify(contractResult(state)),
        error,
        JSON.stringify(tokenTotals(attempts)),
      ],
    );
    log?.[status === "failed" ? "error" : "debug"]({ status, model_calls: calls, duration_ms, error }, "run ended");
    return { ...toRecord(rows[0]!), model_calls: calls, duration_ms, run_id, thread_id };
  }

  async get(by: { runId?: string; requestId?: string }): Promise<RunRow | undefined> {
    const { rows } = by.runId
      ? await this.deps.pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE run_id::text = $1`, [by.runId])
      : await this.deps.pool.query<RunRow>(`SELECT * FROM opsgraph_runs WHERE request_id = $1`, [by.requestId]);
    return rows[0];
  }

  async show(runId: string): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    return toRecord(row);
  }

  async list(status?: RunStatus, limit = 100): Promise<RunRecord[]> {
    const { rows } = await this.deps.pool.query<RunRow>(
      `SELECT * FROM opsgraph_runs WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC LIMIT $2`,
      [status ?? null, limit],
    );
    return rows.map((r) => toRecord(r, false));
  }

  /** Size in bytes of the newest checkpoint of a thread, with the blobs it references. */
  async checkpointBytes(threadId: string): Promise<number> {
    const { rows } = await this.deps.pool.query<{ bytes: string }>(
      `WITH cp AS (
         SELECT checkpoint, checkpoint_ns FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1)
       SELECT (SELECT pg_column_size(checkpoint) FROM cp) +
              COALESCE((SELECT sum(pg_column_size(b.blob)) FROM checkpoint_blobs b, cp, jsonb_each_text(cp.checkpoint->'channel_versions') v
                        WHERE b.thread_id = $1 AND b.checkpoint_ns = '' AND b.channel = v.key AND b.version = v.value), 0) AS bytes`,
      [threadId],
    );
    return Number(rows[0]?.bytes ?? 0);
  }
}

function tokenTotals(attempts: Attempt[]) {
  const totals: Record<string, { input_tokens: number; output_tokens: number }> = {};
  for (const a of attempts) {
    if (!a.tokens) continue;
    const t = (totals[a.tier] ??= { input_tokens: 0, output_tokens: 0 });
    t.input_tokens += a.tokens.input_tokens;
    t.output_tokens += a.tokens.output_tokens;
  }
  return totals;
}
