import type pg from "pg";
import { SOURCING_STAGES } from "../graph/index.js";
import { stageQueue } from "./bus.js";

export interface StageStatus {
  subscribes: string;
  /** Events of its type it has consumed, by outcome. */
  consumed: Record<string, number>;
  /** Events of its type published to it and not consumed yet, and the oldest one's age. */
  pending: number;
  lag_ms: number | null;
}

export interface SourcingStatus {
  /** Events on the bus by type. */
  events: Record<string, number>;
  /** Companies discovered, and those at a final stage (outreach ready or rejected). */
  companies: number;
  finished: number;
  stages: Record<string, StageStatus>;
  /** Drafts awaiting a person's approval, and approved. */
  drafts: { pending: number; approved: number };
  /** Sourcing dead letters waiting. */
  dead_letters: number;
}

/** Counts per stage, lag, dead letters: what `opsgraph sourcing status` prints. Every subscriber counts, built-in or not. */
export async function readSourcingStatus(pool: pg.Pool): Promise<SourcingStatus> {
  const { rows: events } = await pool.query<{ type: string; n: number }>(
    `SELECT name || '.v' || version AS type, count(*)::int AS n FROM opsgraph_events GROUP BY 1 ORDER BY 1`,
  );
  const { rows: companies } = await pool.query<{ all: number; finished: number }>(
    `SELECT count(DISTINCT correlation_id)::int AS all,
            count(DISTINCT correlation_id) FILTER (WHERE (name, version) IN (('outreach.ready', 1), ('company.rejected', 1)))::int AS finished
     FROM opsgraph_events`,
  );
  const { rows: subs } = await pool.query<{ consumer: string; subscribes: string }>(
    `SELECT substr(name, length('sourcing-') + 1) AS consumer, event AS subscribes FROM pgboss.subscription WHERE name LIKE 'sourcing-%' ORDER BY created_on`,
  );
  const stages: Record<string, StageStatus> = {};
  const known = [
    ...SOURCING_STAGES.map((s) => ({ consumer: s.name, subscribes: s.subscribes as string })),
    ...subs.filter((s) => !SOURCING_STAGES.some((x) => x.name === s.consumer)),
  ];
  for (const { consumer, subscribes } of known) {
    const { rows: consumed } = await pool.query<{ outcome: string; n: number }>(
      `SELECT outcome, count(*)::int AS n FROM opsgraph_event_consumptions WHERE consumer = $1 GROUP BY 1`,
      [consumer],
    );
    const { rows: pending } = await pool.query<{ n: number; oldest: Date | null }>(
      `SELECT count(*)::int AS n, min(e.published_at) AS oldest
       FROM opsgraph_events e JOIN pgboss.subscription s ON s.event = e.name || '.v' || e.version AND s.name = $1
       WHERE e.published_at >= s.created_on AND NOT EXISTS (SELECT 1 FROM opsgraph_event_consumptions c WHERE c.event_id = e.id AND c.consumer = $2)`,
      [stageQueue(consumer), consumer],
    );
    const p = pending[0];
    stages[consumer] = {
      subscribes,
      consumed: Object.fromEntries(consumed.map((r) => [r.outcome, r.n])),
      pending: p?.n ?? 0,
      lag_ms: p?.oldest ? Date.now() - p.oldest.getTime() : null,
    };
  }
  const { rows: drafts } = await pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM opsgraph_outreach_drafts GROUP BY 1`);
  const { rows: dl } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM opsgraph_dead_letters WHERE status = 'waiting' AND (flow = 'sourcing' OR flow LIKE 'sourcing.%')`,
  );
  return {
    events: Object.fromEntries(events.map((r) => [r.type, r.n])),
    companies: companies[0]?.all ?? 0,
    finished: companies[0]?.finished ?? 0,
    stages,
    drafts: { pending: drafts.find((d) => d.status === "pending")?.n ?? 0, approved: drafts.find((d) => d.status === "approved")?.n ?? 0 },
    dead_letters: dl[0]?.n ?? 0,
  };
}

export interface TracedEvent {
  id: string;
  type: string;
  causation_id: string | null;
  published_at: string;
  /** Who consumed it, how, and when. */
  consumed_by: { consumer: string; outcome: string; at: string }[];
  /** One line on what it says. */
  summary: string;
}

/** A company's chain of events, oldest first: by its slug or its name. */
export async function traceCompany(pool: pg.Pool, company: string): Promise<TracedEvent[]> {
  const slug = company
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  const { rows } = await pool.query<{ id: string; type: string; causation_id: string | null; published_at: Date; payload: Record<string, unknown> }>(
    `SELECT id::text, name || '.v' || version AS type, causation_id::text, published_at, payload FROM opsgraph_events WHERE correlation_id = $1 ORDER BY published_at, id`,
    [slug],
  );
  const { rows: consumed } = await pool.query<{ event_id: string; consumer: string; outcome: string; handled_at: Date }>(
    `SELECT event_id::text, consumer, outcome, handled_at FROM opsgraph_event_consumptions WHERE event_id::text = ANY($1) ORDER BY handled_at`,
    [rows.map((r) => r.id)],
  );
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    causation_id: r.causation_id,
    published_at: r.published_at.toISOString(),
    consumed_by: consumed.filter((c) => c.event_id === r.id).map((c) => ({ consumer: c.consumer, outcome: c.outcome, at: c.handled_at.toISOString() })),
    summary: summarize(r.type, r.payload),
  }));
}

function summarize(type: string, p: Record<string, unknown>): string {
  const x = p as {
    company?: { name?: string } & string;
    profile?: { sector?: string; stage?: string; funding?: { total_usd?: number } };
    fit?: { score?: number; fits?: boolean };
    draft?: { subject?: string };
    reason?: string;
    draft_id?: string;
    source?: { line?: number };
  };
  if (type.startsWith("company.discovered")) return `line ${x.source?.line ?? "?"} of the CSV`;
  if (type.startsWith("company.profiled")) return `${x.profile?.sector}, ${x.profile?.stage}, $${x.profile?.funding?.total_usd ?? 0} raised`;
  if (type.startsWith("company.fit_assessed")) return `fit ${x.fit?.score}${x.fit?.fits ? " (a fit)" : ""}`;
  if (type.startsWith("outreach.ready")) return `draft ${x.draft_id}: "${x.draft?.subject}" awaiting approval`;
  if (type.startsWith("company.rejected")) return String(x.reason ?? "");
  return "";
}
