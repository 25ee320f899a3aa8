import type { END, LangGraphRunnableConfig } from "@langchain/langgraph";
import { companyProfiler } from "../agents/profiler.js";
import { fitAnalyst } from "../agents/fit-analyst.js";
import { outreachWriter } from "../agents/outreach-writer.js";
import { addAgentStep, type GraphBuilder, type StepNodeName, type StepUpdate } from "../../../nodes/agent-step.js";
import { derivedEventId, type PayloadOf, type SourcingEvent, type SourcingEventType } from "./events.js";
import type { SourcingState } from "./state.js";

/** An event a stage publishes once it is done with the one it handled. */
export interface Emitted<T extends SourcingEventType = SourcingEventType> {
  id: string;
  type: T;
  correlation_id: string;
  /** The event it answers; null for a discovery. */
  causation_id: string | null;
  payload: PayloadOf<T>;
}

/**
 * One stage of the sourcing flow: the event it subscribes to, its agent step, and what it
 * publishes. No stage knows another: each reacts to an event type, so the order is the
 * events', and a new subscriber joins without any change here.
 */
export type SourcingStageName = "company_profiler" | "fit_analyst" | "outreach_writer";

export interface SourcingStage<T extends SourcingEventType = SourcingEventType, Name extends SourcingStageName = SourcingStageName> {
  name: Name;
  subscribes: T;
  /** Whether it acts on this event at all (the outreach writer: only on a fit). */
  accepts(event: SourcingEvent<T>): boolean;
  /** The stage graph's input, from the event. */
  input(event: SourcingEvent<T>): Partial<SourcingState>;
  /** Adds the stage's agent step, going to `next` when done. */
  addStep<Next extends string>(g: GraphBuilder<SourcingState, StepNodeName<Name> | Exclude<Next, typeof END>, StepUpdate<SourcingState>>, next: Next): void;
  /** The events it publishes from its finished state (ids derived from the handled event's). */
  emits(state: SourcingState, event: SourcingEvent<T>): Emitted[];
}

function emitted<T extends SourcingEventType>(stage: string, event: SourcingEvent, type: T, payload: PayloadOf<T>, causation = event.id): Emitted<T> {
  return { id: derivedEventId(causation, stage, type), type, correlation_id: event.correlation_id, causation_id: causation, payload };
}

const need = <T>(v: T | null | undefined, what: string): T => {
  if (v === null || v === undefined) throw new Error(`sourcing: ${what} missing from the state`);
  return v;
};

export const profilerStage: SourcingStage<"company.discovered.v1", "company_profiler"> = {
  name: "company_profiler",
  subscribes: "company.discovered.v1",
  accepts: () => true,
  input: (e) => ({ company: e.payload.company, thesis: e.payload.thesis }),
  addStep(g, next) {
    addAgentStep(g, {
      name: "company_profiler",
      agent: companyProfiler,
      input: (s: SourcingState) => need(s.company, "company"),
      output: (profile) => ({ profile }),
      next,
      inputRef: (s: SourcingState) => ({ company: s.company?.name ?? null }),
    });
  },
  emits: (s, e) => [emitted("company_profiler", e, "company.profiled.v1", { profile: need(s.profile, "profile"), thesis: e.payload.thesis })],
};

export const fitStage: SourcingStage<"company.profiled.v1", "fit_analyst"> = {
  name: "fit_analyst",
  subscribes: "company.profiled.v1",
  accepts: () => true,
  input: (e) => ({ profile: e.payload.profile, thesis: e.payload.thesis }),
  addStep(g, next) {
    addAgentStep(g, {
      name: "fit_analyst",
      agent: fitAnalyst,
      input: (s: SourcingState) => ({ profile: need(s.profile, "profile"), thesis: need(s.thesis, "thesis") }),
      output: (fit) => ({ fit }),
      next,
      inputRef: (s: SourcingState) => ({ company: s.profile?.slug ?? null, thesis: s.thesis?.name ?? null }),
    });
  },
  emits(s, e) {
    const fit = need(s.fit, "fit");
    const assessed = emitted("fit_analyst", e, "company.fit_assessed.v1", { profile: e.payload.profile, fit, fund: e.payload.thesis.fund });
    if (fit.fits) return [assessed];
    // below the threshold: the chain ends here, answering the assessment
    const reason = `fit score ${fit.score} is below the threshold ${fit.threshold} of "${fit.thesis}"`;
    return [
      assessed,
      emitted("fit_analyst", e, "company.rejected.v1", { company: e.payload.profile.name, stage: "fit_analyst", reason, score: fit.score }, assessed.id),
    ];
  },
};

export const outreachStage: SourcingStage<"company.fit_assessed.v1", "outreach_writer"> = {
  name: "outreach_writer",
  subscribes: "company.fit_assessed.v1",
  accepts: (e) => e.payload.fit.fits,
  input: (e) => ({ profile: e.payload.profile, fit: e.payload.fit, fund: e.payload.fund }),
  addStep(g, next) {
    addAgentStep(g, {
      name: "outreach_writer",
      agent: outreachWriter,
      input: (s: SourcingState) => ({ profile: need(s.profile, "profile"), fit: need(s.fit, "fit"), fund: s.fund ?? s.thesis?.fund ?? "our fund" }),
      output: (draft) => ({ draft }),
      next,
      inputRef: (s: SourcingState) => ({ company: s.profile?.slug ?? null }),
    });
  },
  emits(s, e) {
    const id = derivedEventId(e.id, "outreach_writer", "outreach.ready.v1");
    return [
      emitted("outreach_writer", e, "outreach.ready.v1", {
        company: e.payload.profile.name,
        draft_id: id,
        draft: need(s.draft, "draft"),
        score: e.payload.fit.score,
      }),
    ];
  },
};

export const SOURCING_STAGES = [profilerStage, fitStage, outreachStage] as const;

/** Studio's routing after the fit analyst: outreach only for a fit. */
export const afterFit = (s: SourcingState, _config?: LangGraphRunnableConfig): "outreach_writer" | typeof END => (s.fit?.fits ? "outreach_writer" : "__end__");
