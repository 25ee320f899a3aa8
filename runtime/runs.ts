import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Command } from "@langchain/langgraph";
import type pg from "pg";
import { DEFAULT_PLAYBOOK, type Playbook } from "../agents/contract-review/playbook.js";
import { buildContractReviewGraph, DOCUMENTS_NAMESPACE, type ContractReviewContext, type ContractReviewState, type ReportSink } from "../graphs/contract-review/index.js";
import type { Attempt, ModelTier } from "../nodes/agent.js";
import { countModelCalls, freshCursor, stepNodes, tiersUsed, type AgentStepContext, type ExhaustedPolicy } from "../nodes/agent-step.js";
import type { Clock } from "../nodes/clock.js";
import { createCheckpointer, createStore } from "./checkpointer.js";
import type { ContractDocument } from "./documents.js";
import { DeadLetterQueue, type DeadLetter } from "./dead-letters.js";
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
  /** The attempt ledger: every model, rules and person call of the run. */
  attempts?: Attempt[];
}

export interface RunnerDeps {
  pool: pg.Pool;
  tiers: ModelTier[];
  reportsDir: string;
  reviewThreshold: number;
  log?: Logger;
  clock?: Clock;
  /** Overrides every agent's exhausted policy for the runs of this runner. */
  onExhausted?: ExhaustedPolicy;
  /** Replaces agents' implementations, by name. */
  agents?: AgentStepContext["agents"];
}

/** What `resume` answers: a human review's decision, or an escalated agent's output. */
export interface ResumeAnswer {
  decision?: "approve" | "reject";
  note?: string;
  /** The output of an escalated agent, supplied by a person. */
  output?: unknown;
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


function contractResult(s: ContractReviewState) {
  return {
    categories: s.clauses?.categories ?? [],
    risks: s.risks?.risks ?? [],
    risk_score: s.risks?.risk_score ?? null,
    terms: s.terms,
    decision: s.decision,
    summary: s.summary?.summary ?? null,
    report_path: s.report_path,
    produced_by: s.produced_by ?? {},
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
  readonly deadLetters: DeadLetterQueue;

  constructor(private readonly deps: RunnerDeps) {
    this.checkpointer = createCheckpointer(deps.pool);
    this.store = createStore(deps.pool);
    this.deadLetters = new DeadLetterQueue(deps.pool);
    this.graph = buildContractReviewGraph().compile({ checkpointer: this.checkpointer, store: this.store });
  }

  private config(run: { run_id: string; thread_id: string; input: RunRow["input"] }): RunConfig {
    const agents = ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer"];
    return {
      configurable: { thread_id: run.thread_id },
      context: {
        tiers: this.deps.tiers,
        playbook: run.input.playbook ?? DEFAULT_PLAYBOOK,
        autoApprove: run.input.auto_approve ?? false,
        reviewThreshold: this.deps.reviewThreshold,
        reports: fileReportSink(this.deps.reportsDir),
        deadLetters: this.deadLetters,
        runId: run.run_id,
        flow: CONTRACT_REVIEW,
        ...(this.deps.clock ? { clock: this.deps.clock } : {}),
        ...(this.deps.agents ? { agents: this.deps.agents } : {}),
        ...(this.deps.onExhausted ? { policies: Object.fromEntries(agents.map((a) => [a, this.deps.onExhausted!])) } : {}),
      },
      durability: "sync",
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
    const run_id = existing?.run_id ?? randomUUID();
    const input = { playbook, auto_approve: autoApprove, source: document.source };
    if (existing) {
      // Finished, paused, dead-lettered or rejected: that is the answer to this request (a
      // dead letter goes on with `opsgraph dlq retry`). A run that stopped part-way goes on.
      const stoppedPartWay = (existing.status === "failed" || existing.status === "running") && (await this.graph.getState(this.config(existing))).next.length > 0;
      if (!stoppedPartWay) return { ...toRecord(existing), model_calls: 0, duration_ms: 0, cached: true };
    }
    await this.deps.pool.query(
      `INSERT INTO opsgraph_runs (run_id, request_id, thread_id, flow, status, input) VALUES ($1, $2, $3, $4, 'running', $5)
       ON CONFLICT (request_id) DO UPDATE SET status = 'running', error = NULL, updated_at = now()`,
      [run_id, request_id, thread_id, CONTRACT_REVIEW, JSON.stringify(input)],
    );
    const config = this.config({ run_id, thread_id, input });
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

  /**
   * Answers what a paused run waits for, and carries it on to its end: a human review
   * (`decision`), or an agent escalated after every tier failed (its `output`, or `decision:
   * "reject"`).
   */
  async resume(runId: string, answer: ResumeAnswer): Promise<RunRecord> {
    const row = await this.get({ runId });
    if (!row) throw new InputError(`run ${runId}: no such run`);
    if (row.status !== "awaiting_review") throw new InputError(`run ${runId}: is ${row.status}, not awaiting_review`);
    const config = this.config(row);
    const pending = (await this.graph.getState(config)).tasks.flatMap((t) => t.interrupts.map((i) => i.value as { kind?: string; agent?: string }))[0];
    let resume: unknown;
    if (pending?.kind === "escalation") {
      if (answer.output !== undefined) resume = { output: answer.output };
      else if (answer.decision === "reject") resume = { reject: true, note: answer.note };
      else throw new InputError(`run ${runId}: waits for a person to supply ${pending.agent}'s output: give --output FILE, or --decision reject`);
    } else {
      if (!answer.decision) throw new InputError(`run ${runId}: waits for a review: give --decision approve or reject`);
      resume = { decision: answer.decision, note: answer.note };
    }
    await this.deps.pool.query(`UPDATE opsgraph_runs SET status = 'running', updated_at = now() WHERE run_id = $1`, [runId]);
    return this.execute(row.run_id, row.thread_id, new Command({ resume }), config);
  }

  /**
   * Retries a dead-lettered step: the thread goes on from its last checkpoint with the
   * step's cursor reset to the first tier, so no step that finished runs again.
   */
  async retryDeadLetter(id: string): Promise<{ dead_letter: DeadLetter; run: RunRecord }> {
    const letter = await this.deadLetters.get(id);
    if (letter.status !== "waiting") throw new InputError(`dead letter ${id}: already ${letter.status}`);
    const row = letter.run_id ? await this.get({ runId: letter.run_id }) : undefined;
    if (!row) throw new InputError(`dead letter ${id}: its run ${letter.run_id ?? "(none)"} is gone`);
    const config = this.config(row);
    await this.graph.updateState(config, { halted: null, steps: { [letter.agent]: freshCursor() } }, stepNodes(letter.agent).retry);
    const settled = await this.deadLetters.settle(id, "retried");
    await this.deps.pool.query(`UPDATE opsgraph_runs SET status = 'running', error = NULL, updated_at = now() WHERE run_id = $1`, [row.run_id]);
    return { dead_letter: settled, run: await this.execute(row.run_id, row.thread_id, null, config) };
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
      const halted = (snapshot.values as ContractReviewState).halted;
      if (snapshot.next.length > 0) status = "awaiting_review";
      else if (halted?.reason === "dead_lettered") {
        status = "dead_lettered";
        error = `${halted.agent}: every tier failed; see opsgraph dlq list`;
      } else if (halted?.reason === "rejected") {
        status = "failed";
        error = `${halted.agent}: rejected by a person at the escalation${halted.note ? `: ${halted.note}` : ""}`;
      } else status = "completed";
    } catch (e) {
      status = "failed";
      error = String((e as Error).message ?? e).split("\n")[0]!.slice(0, 500);
    }
    const state = (await this.graph.getState(config)).values as ContractReviewState;
    const attempts = state.attempts ?? [];
    const fresh = attempts.slice(seen);
    const calls = countModelCalls(fresh);
    const log = this.deps.log?.child({ run_id, thread_id, flow: CONTRACT_REVIEW });
    for (const a of fresh.filter((a) => a.outcome !== "ok")) {
      log?.warn({ agent: a.agent, tier: a.tier, attempt: a.attempt, outcome: a.outcome, error_class: a.error_class, wait_ms: a.wait_ms, error: a.error }, "agent attempt failed");
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
        status === "completed" || status === "awaiting_review" ? JSON.stringify(contractResult(state)) : null,
        error,
        JSON.stringify(tokenTotals(attempts)),
      ],
    );
    log?.[status === "failed" ? "error" : "debug"]({ status, model_calls: calls, duration_ms, error }, "run ended");
    return { ...toRecord(rows[0]!), model_calls: calls, duration_ms, run_id, thread_id, attempts };
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
    const state = (await this.graph.getState(this.config(row))).values as Partial<ContractReviewState>;
    return { ...toRecord(row), attempts: state.attempts ?? [] };
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
