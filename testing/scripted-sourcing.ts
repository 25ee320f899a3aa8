import type { FitAnswer } from "../flows/sourcing/agents/fit-analyst.js";
import type { OutreachAnswer } from "../flows/sourcing/agents/outreach-writer.js";
import type { ProfilerAnswer } from "../flows/sourcing/agents/profiler.js";
import type { RecordedRequest, Responder, ScriptedServer } from "./scripted-openai.js";

// A careful model for the sourcing stages, answering each agent from its prompt alone. The
// agent names are the agent steps' names: the structured-output schema name the server sees.

export const MODEL = "openai:gpt-4.1-mini";
export const SOURCING_AGENTS = ["company_profiler", "fit_analyst", "outreach_writer"] as const;

export function userPrompt(req: RecordedRequest): string {
  const messages = (req.body as { messages?: { role: string; content: unknown }[] }).messages ?? [];
  const content = messages.find((m) => m.role === "user")?.content;
  return typeof content === "string" ? content : JSON.stringify(content ?? "");
}

const line = (prompt: string, label: string) => new RegExp(`^${label}: (.*)$`, "m").exec(prompt)?.[1]?.trim() ?? "";

/** The company a request is about (every sourcing prompt names it). */
export const companyOf = (req: RecordedRequest) => line(userPrompt(req), "Company");

export function profilerAnswer(prompt: string): ProfilerAnswer {
  const categories = line(prompt, "Categories");
  const description = line(prompt, "Description");
  return {
    summary: description && description !== "(none)" ? description : `${line(prompt, "Company")} builds software.`,
    sector: categories === "(none)" ? "Unknown" : categories.split(",")[0]!.trim(),
    stage: "seed",
  };
}

/** Meets the investor minimum when the prompt's count reaches it; the rest by their kind's obvious reading. */
export function fitAnswer(prompt: string): FitAnswer {
  const investors = Number(line(prompt, "Investors") || 0);
  const rounds = Number(/Funding: (\d+) rounds/.exec(prompt)?.[1] ?? 0);
  const ids = [...prompt.matchAll(/^- ([a-z-]+): (.*)$/gm)].map((m) => ({ id: m[1]!, spec: m[2]! }));
  return {
    criteria: ids.map(({ id, spec }) => {
      const min = Number(/(\d[\d,]*)$/.exec(spec)?.[1]?.replace(/,/g, "") ?? NaN);
      const met = id === "min-investors" ? investors >= min : id === "min-rounds" ? rounds >= min : false;
      return { id, met, reason: `${id}: ${met ? "met" : "not met"} by the profile` };
    }),
  };
}

export function outreachAnswer(prompt: string): OutreachAnswer {
  const company = line(prompt, "Company");
  return {
    subject: `${company}: a short call?`,
    body: `Hi ${line(prompt, "To")},\n\n${company} caught our eye: ${line(prompt, "What it does")}\nWould you have 20 minutes next week?\n\nBest`,
  };
}

export const sourcingResponders: Record<(typeof SOURCING_AGENTS)[number], Responder> = {
  company_profiler: (req) => ({ json: profilerAnswer(userPrompt(req)) }),
  fit_analyst: (req) => ({ json: fitAnswer(userPrompt(req)) }),
  outreach_writer: (req) => ({ json: outreachAnswer(userPrompt(req)) }),
};

/** Answers every sourcing agent on the server, each after `latencyMs` (so a worker can be caught mid-way). */
export function scriptSourcingModel(server: ScriptedServer, latencyMs = 0): void {
  for (const [agent, responder] of Object.entries(sourcingResponders)) {
    server.setResponder(agent, async (req) => {
      if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
      return responder(req);
    });
  }
}
