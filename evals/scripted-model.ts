import { extractClausesByRules } from "../agents/contract-review/clause-rules.js";
import type { ModelTier } from "../nodes/agent.js";
import { loadConfig } from "../runtime/config.js";
import { createModelTiers } from "../runtime/models.js";
import { startScriptedOpenAI, type RecordedRequest, type ScriptedServer } from "../test/scripted-openai.js";

/**
 * The "scripted model" an evaluation runs on when no model is reachable: the scripted
 * OpenAI-compatible server, behind the real ChatOpenAI tier over HTTP. The clause extractor
 * is answered with what the clause rules find in the chunk it was sent, quoted as a model
 * would quote it, so the model path (structured output, quote checks, chunk merging) is what
 * is measured; the other agents are refused (HTTP 400), so they fall back to `rules`.
 */
export async function startScriptedModel(): Promise<{ tiers: ModelTier[]; server: ScriptedServer; close(): Promise<void> }> {
  const server = await startScriptedOpenAI({ defaultResponder: () => ({ fault: { kind: "status", status: 400, message: "not scripted for evaluation" } }) });
  server.setResponder("clause_extractor", (req: RecordedRequest) => {
    const user = String(req.body.messages?.at(-1)?.content ?? "");
    const text = user.slice(user.indexOf("\n\n") + 2);
    const categories = extractClausesByRules(text).map((c) => ({ name: c.name, present: c.present, excerpts: c.excerpts.slice(0, 3).map((e) => e.text), value: c.value }));
    return { json: { categories } };
  });
  const config = loadConfig({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-eval", OPSGRAPH_MODELS: "openai:gpt-4.1-mini", OPSGRAPH_DATA_DIR: ".opsgraph/eval" });
  return { tiers: createModelTiers(config), server, close: () => server.close() };
}
