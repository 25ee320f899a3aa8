import { createHash } from "node:crypto";
import { contractReviewRecursionLimit } from "../graph/limits.js";
import type { LimitInputs } from "../../../nodes/budget.js";
import { DEFAULT_PLAYBOOK, type Playbook } from "../agents/playbook.js";
import {
  buildContractReviewGraph,
  CONTRACT_REVIEW_STATE_VERSION,
  DOCUMENTS_NAMESPACE,
  type ContractReviewInput,
  type ContractReviewState,
} from "../graph/index.js";
import { CONTRACT_REVIEW_STATE_VERSIONS } from "../graph/upgrade.js";
import { createCheckpointer, createStore } from "../../../runtime/db/checkpointer.js";
import type { ContractDocument } from "../../../runtime/documents/documents.js";
import { FlowRunner, type FlowGraph, type RunnerDeps, type RunRecord, type RunRow, type RunStatus } from "../../../runtime/runs/flow-runner.js";
import { outboxPublisher } from "../../../runtime/queue/outbox.js";

export { FlowRunner, isDatabaseUnavailable, ThreadBusyError } from "../../../runtime/runs/flow-runner.js";
export type { ResumeAnswer, RunnerDeps, RunRecord, RunStatus } from "../../../runtime/runs/flow-runner.js";

export interface ContractReviewRunnerDeps extends RunnerDeps {
  reviewThreshold: number;
}

export interface ContractReviewRequest {
  document: ContractDocument;
  playbook?: Playbook;
  requestId?: string;
  autoApprove?: boolean;
}

export const CONTRACT_REVIEW = "contract-review";
/** Its agents, in the order a run calls them. */
export const CONTRACT_REVIEW_AGENTS: readonly string[] = ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer"];

/** The default request id: the same flow, input bytes and playbook are the same request. */
export function defaultRequestId(flow: string, inputSha256: string, playbook: Playbook): string {
  return createHash("sha256").update(flow).update("\0").update(inputSha256).update("\0").update(JSON.stringify(playbook)).digest("hex").slice(0, 32);
}

/** What a contract-review run row keeps as its input. */
interface ContractRunInput {
  playbook?: Playbook;
  auto_approve?: boolean;
  source?: string;
  document_ref?: string;
}

/** Runs of the contract-review flow on PostgreSQL: review now or submit to the queue; the rest is FlowRunner's. */
export class ContractReviewRunner extends FlowRunner<ContractReviewState> {
  readonly flow = CONTRACT_REVIEW;
  protected readonly graph: FlowGraph;
  protected readonly versions = CONTRACT_REVIEW_STATE_VERSIONS;
  readonly agentNames = CONTRACT_REVIEW_AGENTS;
  protected recursionLimit(inputs: LimitInputs) {
    return contractReviewRecursionLimit(inputs);
  }

  constructor(protected override readonly deps: ContractReviewRunnerDeps) {
    // a document's key is its sha256: its Store items never change, so they are cached
    super(deps, createCheckpointer(deps.pool), createStore(deps.pool, { immutable: [DOCUMENTS_NAMESPACE] }));
    // the compiled graph's own type, generic in its nodes, narrowed to what the runner calls (FlowGraph): LangGraph's CompiledStateGraph is not assignable to a structural subset of itself
    this.graph = buildContractReviewGraph().compile({ checkpointer: this.checkpointer }) as unknown as FlowGraph;
  }

  protected flowContext(run: { run_id: string; thread_id: string; input: RunRow["input"] }) {
    const input = run.input as ContractRunInput;
    return {
      playbook: input.playbook ?? DEFAULT_PLAYBOOK,
      autoApprove: input.auto_approve ?? false,
      reviewThreshold: this.deps.reviewThreshold,
      // side effects go through the outbox: the report step run again repeats none of them
      publish: outboxPublisher(this.outbox, this.deps.reportsDir, run),
    };
  }

  protected graphInput(input: RunRow["input"]): ContractReviewInput {
    const i = input as ContractRunInput;
    // the document is in the Store already; the run starts at the agents under this state version
    return { document_ref: i.document_ref, source: i.source, state_version: CONTRACT_REVIEW_STATE_VERSION };
  }

  protected result(s: ContractReviewState) {
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

  private request({ document, playbook = DEFAULT_PLAYBOOK, requestId, autoApprove = false }: ContractReviewRequest) {
    const input: ContractRunInput = { playbook, auto_approve: autoApprove, source: document.source, document_ref: document.sha256 };
    const storeDocument = () => this.store.put(DOCUMENTS_NAMESPACE, document.sha256, { text: document.text, source: document.source });
    return { requestId: requestId ?? defaultRequestId(CONTRACT_REVIEW, document.sha256, playbook), input: input as Record<string, unknown>, storeDocument };
  }

  /**
   * Reviews one contract. The same request again answers from the stored run with no model
   * call; a run that stopped part-way (crash, failure) carries on from its last checkpoint.
   */
  async review(req: ContractReviewRequest): Promise<RunRecord> {
    const { requestId, input, storeDocument } = this.request(req);
    return this.start(requestId, input, storeDocument);
  }

  /** Puts a review on the job queue (see FlowRunner.enqueue): the same request twice is one run. */
  async submit(req: ContractReviewRequest): Promise<{ run_id: string; request_id: string; status: RunStatus; created: boolean }> {
    const { requestId, input, storeDocument } = this.request(req);
    return this.enqueue(requestId, input, storeDocument);
  }
}
