import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { datasetsDir, loadConfig } from "./config.js";
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
      { provider: "openai", model: "gpt-4.1-mini", id: "openai:gpt-4.1-mini", keyEnv: "OPENAI_API_KEY" },
      { provider: "openai", model: "gpt-4.1-nano", id: "openai:gpt-4.1-nano", keyEnv: "OPENAI_API_KEY" },
    ]);
  });

  it("reads a chain across providers, each tier with its endpoint and its key's variable", () => {
    const c = loadConfig({
      OPENAI_API_KEY: "sk-openai-1",
      ANTHROPIC_API_KEY: "sk-ant-2",
      EU_KEY: "azure-3",
      OPSGRAPH_MODELS:
        "openai:gpt-4.1-mini,anthropic:claude-haiku-4-5,azure:gpt-4o@https://contoso-eu.openai.azure.com?key=EU_KEY&api-version=2024-06-01,openai-compatible:llama3.1@http://127.0.0.1:11434/v1/,ollama:qwen3,rules",
    });
    expect(c.modelTiers).toEqual([
      { provider: "openai", model: "gpt-4.1-mini", id: "openai:gpt-4.1-mini", keyEnv: "OPENAI_API_KEY" },
      { provider: "anthropic", model: "claude-haiku-4-5", id: "anthropic:claude-haiku-4-5", keyEnv: "ANTHROPIC_API_KEY" },
      {
        provider: "azure",
        model: "gpt-4o",
        endpoint: "https://contoso-eu.openai.azure.com",
        id: "azure:gpt-4o@https://contoso-eu.openai.azure.com",
        keyEnv: "EU_KEY",
        keyWritten: true,
        apiVersion: "2024-06-01",
      },
      { provider: "openai-compatible", model: "llama3.1", endpoint: "http://127.0.0.1:11434/v1", id: "openai-compatible:llama3.1@http://127.0.0.1:11434/v1" },
      { provider: "ollama", model: "qwen3", id: "ollama:qwen3" },
    ]);
    expect([c.apiKeys.get("OPENAI_API_KEY"), c.apiKeys.get("ANTHROPIC_API_KEY"), c.apiKeys.get("EU_KEY")]).toEqual(["sk-openai-1", "sk-ant-2", "azure-3"]);
  });

  it("reads an agent's own chain from OPSGRAPH_MODELS_<AGENT>; rules alone is a chain too", () => {
    const c = loadConfig({
      ANTHROPIC_API_KEY: "k",
      OPSGRAPH_MODELS: "openai-compatible:small@http://127.0.0.1:9/v1",
      OPSGRAPH_MODELS_RISK_ANALYST: "anthropic:claude-sonnet-4-5,openai-compatible:small@http://127.0.0.1:9/v1",
      OPSGRAPH_MODELS_SUMMARIZER: "rules",
    });
    expect(Object.keys(c.agentTiers).sort()).toEqual(["risk_analyst", "summarizer"]);
    expect(c.agentTiers["risk_analyst"]!.map((t) => t.id)).toEqual(["anthropic:claude-sonnet-4-5", "openai-compatible:small@http://127.0.0.1:9/v1"]);
    expect(c.agentTiers["summarizer"]).toEqual([]);
  });

  it("never shows a key: its config prints and serialises the variables' names only", () => {
    const c = loadConfig({ OPENAI_API_KEY: "sk-secret-value-123", OPSGRAPH_MODELS: "openai:gpt-4.1-mini" });
    expect(JSON.stringify(c)).not.toContain("sk-secret-value-123");
    expect(inspect(c, { depth: 10 })).not.toContain("sk-secret-value-123");
    expect(JSON.stringify(c.apiKeys)).toBe('{"OPENAI_API_KEY":"(set)"}');
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
    [{ OPSGRAPH_MODELS: "gpt-4" }, 'OPSGRAPH_MODELS: tier 1 "gpt-4" is not provider:model'],
    [{ OPSGRAPH_MODELS: "openai:gpt-4.1-mini" }, 'OPSGRAPH_MODELS: tier 1 "openai:gpt-4.1-mini" needs its key in OPENAI_API_KEY, which is not set'],
    [
      { OPENAI_API_KEY: "k", OPSGRAPH_MODELS: "openai:gpt-4.1-mini,anthropic:claude-haiku-4-5" },
      'OPSGRAPH_MODELS: tier 2 "anthropic:claude-haiku-4-5" needs its key in ANTHROPIC_API_KEY, which is not set',
    ],
    [
      { OPSGRAPH_MODELS: "openai-compatible:llama@http://127.0.0.1:1/v1?key=VLLM_KEY" },
      'OPSGRAPH_MODELS: tier 1 "openai-compatible:llama@http://127.0.0.1:1/v1" needs its key in VLLM_KEY',
    ],
    [{ OPSGRAPH_MODELS: "gemini:pro" }, 'OPSGRAPH_MODELS: tier 1 "gemini:pro": unknown provider "gemini"'],
    [{ OPSGRAPH_MODELS: "openai-compatible:llama" }, 'OPSGRAPH_MODELS: tier 1 "openai-compatible:llama": openai-compatible needs its endpoint'],
    [{ OPSGRAPH_MODELS: "azure:gpt-4o" }, 'OPSGRAPH_MODELS: tier 1 "azure:gpt-4o": azure needs its endpoint'],
    [{ OPSGRAPH_MODELS: "ollama:llama@ftp://x" }, 'OPSGRAPH_MODELS: tier 1 "ollama:llama@ftp://x": endpoint must be http:// or https://'],
    [{ OPSGRAPH_MODELS: "ollama:llama?key=sk-abc-123" }, 'OPSGRAPH_MODELS: tier 1 "ollama:llama?key=...": key= takes the name of an environment variable'],
    [{ OPSGRAPH_MODELS: "ollama:llama?temperature=1" }, 'OPSGRAPH_MODELS: tier 1 "ollama:llama?temperature=1": unknown option "temperature"'],
    [{ OPSGRAPH_MODELS: "ollama:a,ollama:a" }, 'OPSGRAPH_MODELS: tier 2 "ollama:a": ollama:a is listed twice'],
    [{ OPSGRAPH_MODELS: "rules,ollama:a" }, 'OPSGRAPH_MODELS: tier 1 "rules": rules is always the last tier'],
    [
      { OPSGRAPH_MODELS_RISK_ANALYST: "anthropic:claude-sonnet-4-5" },
      'OPSGRAPH_MODELS_RISK_ANALYST: tier 1 "anthropic:claude-sonnet-4-5" needs its key in ANTHROPIC_API_KEY',
    ],
    [{ OPSGRAPH_MODELS_risk: "ollama:a" }, "OPSGRAPH_MODELS_risk: an agent's tiers are set by OPSGRAPH_MODELS_<AGENT NAME IN CAPITALS>"],
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

describe("datasetsDir: the one setting for the evaluation data", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-datasets-"));
  const repo = path.join(root, "repo");
  fs.mkdirSync(repo);
  it("is OPSGRAPH_DATASETS when set, relative to the working directory", () => {
    expect(datasetsDir({ OPSGRAPH_DATASETS: "data" }, repo)).toBe(path.join(repo, "data"));
  });
  it("unset: .opsgraph/datasets (where data fetch puts it), or ../shared/datasets once that exists", () => {
    expect(datasetsDir({}, repo)).toBe(path.join(repo, ".opsgraph", "datasets"));
    fs.mkdirSync(path.join(root, "shared", "datasets"), { recursive: true });
    expect(datasetsDir({}, repo)).toBe(path.join(root, "shared", "datasets"));
  });
});
