import { ChatOpenAI } from "@langchain/openai";
import type { ModelTier, StructuredCall, TokenUsage } from "../nodes/agent.js";
import type { Config } from "./config.js";

/**
 * The model tiers of config as ModelTiers: one ChatOpenAI per tier with the client's own
 * retries off (`maxRetries: 0`: retrying is the agent step's job, so nothing multiplies)
 * and a per-call timeout; an abandoned call is aborted.
 */
export function createModelTiers(config: Pick<Config, "modelTiers" | "openai" | "modelTimeoutMs">): ModelTier[] {
  return config.modelTiers.map((spec) => {
    const chat = new ChatOpenAI({
      model: spec.model,
      apiKey: config.openai.apiKey ?? "not-needed-for-local-server",
      maxRetries: 0,
      temperature: 0,
      configuration: { baseURL: config.openai.baseURL, logLevel: "off" },
    });
    return {
      id: spec.id,
      async invoke<M>(call: StructuredCall<M>): Promise<{ output: M; usage: TokenUsage }> {
        const structured = chat.withStructuredOutput(call.schema, { name: call.agent, method: config.openai.structuredOutput, includeRaw: true });
        const timeout = AbortSignal.timeout(config.modelTimeoutMs);
        const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
        const { raw, parsed } = await structured.invoke(
          [
            { role: "system", content: call.system },
            { role: "user", content: call.user },
          ],
          { signal },
        );
        const meta = (raw as { usage_metadata?: { input_tokens?: number; output_tokens?: number } }).usage_metadata;
        const output = call.schema.parse(parsed);
        return { output, usage: { input_tokens: meta?.input_tokens ?? 0, output_tokens: meta?.output_tokens ?? 0 } };
      },
    };
  });
}
