import { extractClausesByRules } from "../flows/contract-review/agents/clause-rules.js";
import type { ModelTier } from "../nodes/agent.js";
import { loadConfig } from "../runtime/config.js";
import { createModelTiers } from "../runtime/models/models.js";
import { startScriptedOpenAI, type RecordedRequest, type ScriptedServer } from "../testing/scripted-openai.js";
import { analystAnswer } from "../testing/scripted-portfolio.js";
import { judge, type FitAnswer } from "../flows/sourcing/agents/fit-analyst.js";
import { parseThesis, type Thesis } from "../flows/sourcing/agents/thesis.js";
import type { CompanyProfile } from "../flows/sourcing/agents/company.js";

/** The fit analyst's answer from its prompt alone: the thesis and the profile's lines, judged criterion by criterion. */
function fitAnswer(prompt: string): FitAnswer {
  const line = (label: string) =>
    prompt
      .split("\n")
      .find((l) => l.startsWith(`${label}: `))
      ?.slice(label.length + 2) ?? "";
  const thesisText = prompt.slice(prompt.indexOf("\n") + 1, prompt.indexOf("\n\nCriteria"));
  const thesis: Thesis = parseThesis(thesisText);
  const [place1, place2] = line("Headquarters").split(", ");
  const funding = /(\d+) rounds, \$([\d.]+) disclosed/.exec(line("Funding"));
  const profile = {
    categories: line("Categories") === "(none)" ? [] : line("Categories").split(", "),
    city: place1 && place1 !== "(unknown)" ? place1 : null,
    country: place2 ?? null,
    investors: Array.from({ length: Number(line("Investors")) || 0 }, (_, i) => `investor ${i}`),
    funding: { rounds: Number(funding?.[1] ?? 0), total_usd: Number(funding?.[2] ?? 0) },
  } as unknown as CompanyProfile;
  return { criteria: thesis.criteria.map((c) => ({ id: c.id, ...judge(c, profile) })) };
}

/**
 * The "scripted model" an evaluation runs on when no model is reachable: the scripted
 * OpenAI-compatible server, behind the real ChatOpenAI tier over HTTP. The clause extractor
 * is answered with what the clause rules find in the chunk it was sent, quoted as a model
 * would quote it, so the model path (structured output, quote checks, chunk merging) is what
 * is measured; so are the KPI analyst (the figures that matter, copied) and the fit analyst
 * (each criterion judged from the profile in its prompt). The other agents are refused
 * (HTTP 400), so they fall back to `rules`.
 */
export async function startScriptedModel(): Promise<{ tiers: ModelTier[]; server: ScriptedServer; close(): Promise<void> }> {
  const server = await startScriptedOpenAI({ defaultResponder: () => ({ fault: { kind: "status", status: 400, message: "not scripted for evaluation" } }) });
  server.setResponder("clause_extractor", (req: RecordedRequest) => {
    const user = String(req.body.messages?.at(-1)?.content ?? "");
    const text = user.slice(user.indexOf("\n\n") + 2);
    const categories = extractClausesByRules(text).map((c) => ({
      name: c.name,
      present: c.present,
      excerpts: c.excerpts.slice(0, 3).map((e) => e.text),
      value: c.value,
    }));
    return { json: { categories } };
  });
  // the KPI analyst: the figures it is sent that matter, copied as printed (anomalies always)
  server.setResponder("analyse_kpis", (req: RecordedRequest) => ({ json: analystAnswer(String(req.body.messages?.at(-1)?.content ?? "")) }));
  // the fit analyst: each criterion judged from the profile as the prompt states it
  server.setResponder("fit_analyst", (req: RecordedRequest) => ({ json: fitAnswer(String(req.body.messages?.at(-1)?.content ?? "")) }));
  const config = loadConfig({
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: "sk-eval",
    OPSGRAPH_MODELS: "openai:gpt-4.1-mini",
    OPSGRAPH_DATA_DIR: ".opsgraph/eval",
  });
  return { tiers: createModelTiers(config), server, close: () => server.close() };
}
