import { describe, expect, it } from "vitest";
import { costOf, priceOf } from "./prices.js";

describe("prices of tiers across providers", () => {
  it("prices a tier by its id, then without its endpoint, then by the bare model name", () => {
    expect(priceOf("anthropic:claude-haiku-4-5")).toEqual({ input: 1, output: 5 });
    expect(priceOf("anthropic:claude-sonnet-4-5@https://gateway.internal")).toEqual({ input: 3, output: 15 });
    expect(priceOf("azure:gpt-4o-mini@https://contoso-eastus.openai.azure.com")).toEqual({ input: 0.15, output: 0.6 });
    // a model name with a colon (an Ollama tag) is the whole rest of the id
    const table = { "llama3.1:8b": { input: 0.01, output: 0.02 }, "ollama:qwen3@http://gpu-a:11434": { input: 0, output: 0 }, qwen3: { input: 9, output: 9 } };
    expect(priceOf("ollama:llama3.1:8b@http://gpu-box:11434", table)).toEqual({ input: 0.01, output: 0.02 });
    // the whole id wins: one model served at two prices
    expect(priceOf("ollama:qwen3@http://gpu-a:11434", table)).toEqual({ input: 0, output: 0 });
    expect(priceOf("ollama:qwen3@http://gpu-b:11434", table)).toEqual({ input: 9, output: 9 });
  });

  it("costs tokens per provider's price, and a model missing from the table nothing", () => {
    const tokens = { input_tokens: 2_000, output_tokens: 500 };
    expect(costOf("anthropic:claude-haiku-4-5", tokens)).toBeCloseTo((2_000 * 1 + 500 * 5) / 1e6, 12);
    expect(costOf("openai:gpt-4.1-mini", tokens)).toBeCloseTo((2_000 * 0.4 + 500 * 1.6) / 1e6, 12);
    expect(costOf("openai-compatible:llama3.1@http://127.0.0.1:11434/v1", tokens)).toBe(0);
    expect(costOf("rules", tokens)).toBe(0);
  });
});
