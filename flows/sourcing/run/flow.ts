import type { Thesis } from "../agents/thesis.js";
import { SOURCING_STAGES, type SourcingEvent } from "../graph/index.js";
import { DeadLetterQueue } from "../../../runtime/queue/dead-letters.js";
import { InputError } from "../../../runtime/errors.js";
import { EventBus } from "../../../runtime/queue/event-bus.js";
import type { RunnerDeps } from "../../../runtime/runs/flow-runner.js";
import { SOURCING_EVENT_TYPES } from "./bus.js";
import { Outbox } from "../../../runtime/queue/outbox.js";
import { discovery, readStartupsCsv } from "./ingest.js";
import { SourcingStageRunner } from "./runner.js";
import { readSourcingStatus, traceCompany } from "./status.js";

export interface IngestReport {
  /** Discovery events published now. */
  published: number;
  /** Records already ingested (their event is on the bus). */
  skipped: number;
  /** Records that do not read, with their line: nothing of them was published. */
  invalid: { line: number; reason: string }[];
}

export interface OutreachDraftRow {
  id: string;
  company: string;
  recipient: string;
  subject: string;
  body: string;
  status: "pending" | "approved";
  approved_by: string | null;
}

/**
 * The sourcing flow: its stages (each a subscriber of one event type, on the bus when the
 * queue is open), ingest, status, trace and the approval of outreach drafts.
 */
export class Sourcing {
  readonly stages: SourcingStageRunner[];
  readonly bus?: EventBus<SourcingEvent>;
  private readonly outbox: Outbox;

  constructor(private readonly deps: RunnerDeps) {
    this.bus = deps.queue
      ? new EventBus({ pool: deps.pool, boss: deps.queue, deadLetters: new DeadLetterQueue(deps.pool), events: SOURCING_EVENT_TYPES, log: deps.log })
      : undefined;
    // each stage is a SourcingStage of its own event type; the runner takes any one of them (TypeScript does not distribute a generic call over the tuple's union)
    this.stages = SOURCING_STAGES.map((s) => new SourcingStageRunner(deps, s as never, this.bus));
    this.outbox = new Outbox(deps.pool);
  }

  private requireBus(): EventBus<SourcingEvent> {
    if (!this.bus) throw new Error("sourcing needs the event bus (openApp({ queue: true }))");
    return this.bus;
  }

  /** Subscribes every stage to its event type (idempotent): done before anything is published. */
  async subscribeStages(): Promise<void> {
    for (const s of this.stages) await this.requireBus().subscribe(s.subscribes, s.name);
  }

  /**
   * Publishes a `company.discovered.v1` per record of the CSV (the first `limit`). The event id
   * is the company's identity, so a record ingested before is skipped; an invalid record is
   * reported with its line and nothing of it is published.
   */
  async ingest(opts: { csv: string; thesis: Thesis; limit?: number; onProgress?: (done: number, total: number) => void }): Promise<IngestReport> {
    const rows = (await readStartupsCsv(opts.csv)).slice(0, opts.limit ?? Infinity);
    await this.subscribeStages();
    const report: IngestReport = { published: 0, skipped: 0, invalid: [] };
    const batch: Parameters<EventBus["publish"]>[0] = [];
    const flush = async () => {
      const r = await this.requireBus().publish(batch.splice(0));
      report.published += r.published;
      report.skipped += r.duplicates;
    };
    for (const [i, row] of rows.entries()) {
      const d = discovery(row, opts.thesis, opts.csv);
      if ("invalid" in d) report.invalid.push({ line: row.line, reason: d.invalid });
      else batch.push(d.event);
      if (batch.length >= 50) await flush();
      if ((i + 1) % 50 === 0 || i + 1 === rows.length) opts.onProgress?.(i + 1, rows.length);
    }
    if (batch.length) await flush();
    return report;
  }

  status() {
    return readSourcingStatus(this.deps.pool);
  }

  trace(company: string) {
    return traceCompany(this.deps.pool, company);
  }

  async drafts(status?: "pending" | "approved"): Promise<OutreachDraftRow[]> {
    const { rows } = await this.deps.pool.query<OutreachDraftRow>(
      `SELECT id::text, company, recipient, subject, body, status, approved_by FROM opsgraph_outreach_drafts WHERE $1::text IS NULL OR status = $1 ORDER BY created_at`,
      [status ?? null],
    );
    return rows;
  }

  /**
   * A person approves a draft: only then is it sent (an `outreach.sent` notification through
   * the outbox, keyed by the draft, so approving twice sends once). `id`: the draft's id or
   * its first 8+ characters.
   */
  async approve(id: string, by: string): Promise<{ draft: OutreachDraftRow; sent: boolean }> {
    if (!/^[0-9a-f-]{8,36}$/i.test(id)) throw new InputError(`draft ${id}: not a draft id (see opsgraph sourcing status, or trace <company>)`);
    const { rows } = await this.deps.pool.query<OutreachDraftRow>(
      `SELECT id::text, company, recipient, subject, body, status, approved_by FROM opsgraph_outreach_drafts WHERE id::text LIKE $1 || '%'`,
      [id.toLowerCase()],
    );
    if (rows.length === 0) throw new InputError(`draft ${id}: no such outreach draft`);
    if (rows.length > 1) throw new InputError(`draft ${id}: ${rows.length} drafts start with it; give more of the id`);
    const draft = rows[0]!;
    await this.deps.pool.query(
      `UPDATE opsgraph_outreach_drafts SET status = 'approved', approved_by = $2, approved_at = now() WHERE id = $1 AND status = 'pending'`,
      [draft.id, by],
    );
    const { created } = await this.outbox.enqueueAndDeliver({
      key: `outreach:${draft.id}`,
      kind: "notification",
      payload: {
        kind: "outreach.sent",
        payload: { draft_id: draft.id, company: draft.company, to: draft.recipient, subject: draft.subject, body: draft.body, approved_by: by },
      },
    });
    return { draft: { ...draft, status: "approved", approved_by: draft.approved_by ?? by }, sent: created };
  }
}
