import { z } from "zod";
import type { TokenUsage } from "../../nodes/agent.js";

/** US dollars per 1M tokens, by model name (`gpt-4.1-mini`) or tier id (`openai:gpt-4.1-mini`, `azure:gpt-4o@https://…`). */
export const PriceTable = z.record(
  z.string().min(1),
  z.object({
    input: z.number().nonnegative().describe("US$ per 1M input (prompt) tokens"),
    output: z.number().nonnegative().describe("US$ per 1M output (completion) tokens"),
  }),
);
export type PriceTable = z.infer<typeof PriceTable>;

/**
 * OpenAI's and Anthropic's list prices (2025) for their standard tiers; OPSGRAPH_PRICES adds to or
 * overrides them (an Azure deployment is priced by its deployment name, a local model by its
 * name, or by its whole tier id where one name is served at two prices). A model missing costs 0.
 */
export const DEFAULT_PRICES: PriceTable = {
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
  "claude-opus-4-1": { input: 15, output: 75 },
};

/** The price of a model: by its tier id first, then without its endpoint, then by its bare name; undefined when unknown. */
export function priceOf(model: string, prices: PriceTable = DEFAULT_PRICES) {
  const at = model.indexOf("@");
  const id = at < 0 ? model : model.slice(0, at);
  return prices[model] ?? prices[id] ?? prices[id.slice(id.indexOf(":") + 1)];
}

/**
 * What `tokens` of `model` cost in US$. `model` is a tier id (`openai:gpt-4.1-mini`) or a
 * model name. The rules tier, a person, and a model missing from the table cost 0.
 */
export function costOf(model: string, tokens: Partial<TokenUsage> | undefined, prices: PriceTable = DEFAULT_PRICES): number {
  const price = priceOf(model, prices);
  if (!price || !tokens) return 0;
  return ((tokens.input_tokens ?? 0) * price.input + (tokens.output_tokens ?? 0) * price.output) / 1_000_000;
}
