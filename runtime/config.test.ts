import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { InputError } from "./errors.js";

describe("config", () => {
  it("defaults to the embedded database and the rules tier only", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ databaseUrl: undefined, modelTiers: [], modelTimeoutMs: 60_000, dataDir: ".opsgraph", reviewThreshold: 60, logLevel: "info" });
    expect(c.openai.structuredOutput).toBe("jsonSchema");
  });

  it("picks a default model when only an API key is set", () => {
    expect(loadConfig({ OPENAI_API_KEY: "sk-x" }).modelTiers.map((t) => t.id)).toEqual(["openai:gpt-4.1-mini"]);
  });

  it("reads ordered tiers and ignores an explicit rules entry (rules is always last)", () => {
    const c = loadConfig({ OPENAI_API_KEY: "sk-x", OPSGRAPH_MODELS: "openai:gpt-4.1-mini, openai:gpt-4.1-nano,rules" });
    expect(c.modelTiers).toEqual([
      { provider: "openai", model: "gpt-4.1-mini", id: "openai:gpt-4.1-mini" },
      { provider: "openai", model: "gpt-4.1-nano", id: "openai:gpt-4.1-nano" },
    ]);
  });

  it("orders tiers adaptively only when OPSGRAPH_ADAPTIVE_TIERS is true", () => {
    expect(loadConfig({}).adaptiveTiers).toBe(false);
    expect(loadConfig({ OPSGRAPH_ADAPTIVE_TIERS: "true" }).adaptiveTiers).toBe(true);
    expect(loadConfig({ OPSGRAPH_ADAPTIVE_TIERS: "false" }).adaptiveTiers).toBe(false);
  });

  it("accepts a local OpenAI-compatible server without a key", () => {
    expect(loadConfig({ OPENAI_BASE_URL: "http://127.0.0.1:8000/v1", OPSGRAPH_MODELS: "openai:llama" }).modelTiers).toHaveLength(1);
  });

  it.each([
    [{ OPSGRAPH_MODEL_TIMEOUT_MS: "abc" }, "OPSGRAPH_MODEL_TIMEOUT_MS: must be a number"],
    [{ OPSGRAPH_MODEL_TIMEOUT_MS: "-5" }, "OPSGRAPH_MODEL_TIMEOUT_MS: must be positive"],
    [{ OPSGRAPH_MODELS: "gpt-4" }, 'OPSGRAPH_MODELS: "gpt-4" is not provider:model'],
    [{ OPSGRAPH_MODELS: "openai:gpt-4.1-mini" }, "OPENAI_API_KEY: required"],
    [{ DATABASE_URL: "mysql://db" }, "DATABASE_URL: must be a postgres:// or postgresql:// URL"],
    [{ OPENAI_BASE_URL: "not a url" }, "OPENAI_BASE_URL: must be a URL"],
    [{ LANGSMITH_TRACING: "yes" }, "LANGSMITH_TRACING: must be true or false"],
    [{ OPSGRAPH_ADAPTIVE_TIERS: "on" }, "OPSGRAPH_ADAPTIVE_TIERS: must be true or false"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL: must be one of"],
    [{ OPSGRAPH_REVIEW_THRESHOLD: "101" }, "OPSGRAPH_REVIEW_THRESHOLD: must be between 0 and 100"],
    [{ OPSGRAPH_STRUCTURED_OUTPUT: "xml" }, "OPSGRAPH_STRUCTURED_OUTPUT: must be jsonSchema or functionCalling"],
  ])("refuses %o with one line naming the variable", (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.startsWith(message)).toBe(true);
    expect((error as Error).message).not.toContain("\n");
  });
});
