import { createHash } from "node:crypto";
import { z } from "zod";
import { CompanyProfile, RawCompany } from "../agents/company.js";
import { FitAssessment } from "../agents/fit-analyst.js";
import { OutreachDraft } from "../agents/outreach-writer.js";
import { Thesis } from "../agents/thesis.js";

/** The payload of each event type the sourcing flow knows, by `<name>.v<version>`. */
export const SOURCING_EVENTS = {
  "company.discovered.v1": z.object({
    company: RawCompany,
    thesis: Thesis.describe("The thesis the company is to be scored against"),
    source: z
      .object({ file: z.string().describe("The CSV's base name"), line: z.number().int().describe("The record's line in it") })
      .describe("Where the record came from"),
  }),
  "company.profiled.v1": z.object({ profile: CompanyProfile, thesis: Thesis }),
  "company.fit_assessed.v1": z.object({ profile: CompanyProfile, fit: FitAssessment, fund: z.string().describe("Who would write to the company") }),
  "outreach.ready.v1": z.object({
    company: z.string().describe("The company's name"),
    draft_id: z.string().describe("The outreach draft awaiting a person's approval (opsgraph sourcing approve <id>)"),
    draft: OutreachDraft,
    score: z.number().describe("The fit score that earned the outreach"),
  }),
  "company.rejected.v1": z.object({
    company: z.string().describe("The company's name"),
    stage: z.string().describe("The stage that rejected it"),
    reason: z.string().describe("Why, one line"),
    score: z.number().nullable().describe("The fit score, when one was given"),
  }),
} as const;

export type SourcingEventType = keyof typeof SOURCING_EVENTS;
export type PayloadOf<T extends SourcingEventType> = z.infer<(typeof SOURCING_EVENTS)[T]>;

/** Every event on the bus: an envelope whose payload its name and version define. */
export const EventEnvelope = z.object({
  id: z.uuid().describe("The event's id: its idempotency key"),
  name: z.string().min(1).describe("e.g. company.discovered"),
  version: z.number().int().min(1).describe("The payload's schema version"),
  correlation_id: z.string().min(1).describe("The company the event is about (its slug): the chain's id"),
  causation_id: z.uuid().nullable().describe("The event this one answers (null for a discovery)"),
  payload: z.unknown().describe("Validated against the schema of name and version"),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** An event whose payload was validated against its type. */
export type SourcingEvent<T extends SourcingEventType = SourcingEventType> = Omit<EventEnvelope, "payload"> & { type: T; payload: PayloadOf<T> };

export const eventType = (name: string, version: number) => `${name}.v${version}`;

/** Splits `company.discovered.v1` into its name and version. */
export function splitType(type: SourcingEventType): { name: string; version: number } {
  const m = /^(.*)\.v(\d+)$/.exec(type)!;
  return { name: m[1]!, version: Number(m[2]) };
}

/**
 * Checks an envelope and its payload against the known types: the reason it is refused
 * (unknown type or version, invalid envelope or payload), or the typed event.
 */
export function checkEvent(raw: unknown): { ok: true; event: SourcingEvent } | { ok: false; reason: string } {
  const env = EventEnvelope.safeParse(raw);
  if (!env.success) return { ok: false, reason: `invalid envelope: ${issues(env.error)}` };
  const type = eventType(env.data.name, env.data.version);
  const schema = (SOURCING_EVENTS as Record<string, z.ZodType>)[type];
  if (!schema) {
    const known = Object.keys(SOURCING_EVENTS).filter((k) => k.startsWith(`${env.data.name}.v`));
    return {
      ok: false,
      reason: known.length ? `unknown version ${env.data.version} of ${env.data.name} (known: ${known.join(", ")})` : `unknown event type ${env.data.name}`,
    };
  }
  const payload = schema.safeParse(env.data.payload);
  if (!payload.success) return { ok: false, reason: `invalid ${type} payload: ${issues(payload.error)}` };
  return { ok: true, event: { ...env.data, type: type as SourcingEventType, payload: payload.data as PayloadOf<SourcingEventType> } };
}

const issues = (e: z.ZodError) =>
  e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");

const NAMESPACE = Buffer.from("6f707367726170682d736f757263696e", "hex"); // "opsgraph-sourcin": a fixed UUID v5 namespace

/** A name-based UUID (v5): the same name always gives the same id, so a re-run or re-ingest dedupes by primary key. */
export function uuidV5(name: string): string {
  const h = createHash("sha1").update(NAMESPACE).update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The id of an event a stage derives from the one it handles: one per (causation, stage, type). */
export const derivedEventId = (causationId: string, stage: string, type: SourcingEventType) => uuidV5(`${causationId}/${stage}/${type}`);

/** The id of a discovered company: its identity in the source, whatever the ingest. */
export const discoveredEventId = (slug: string) => uuidV5(`company.discovered/${slug}`);
