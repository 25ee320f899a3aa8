import { describe, expect, it } from "vitest";
import { tiersUsedByAgent } from "../../nodes/agent-step.js";
import { loadConfig } from "../config.js";
import { modelsOf } from "../observability/status.js";
import { buildSpans } from "../observability/tracing.js";

// An agent's own chain (OPSGRAPH_MODELS_<AGENT>) as status, the run's JSON and the trace show it.
const env = {
  OPSGRAPH_MODELS: "openai:gpt-4.1-mini,anthropic:claude-haiku-4-5",
  OPSGRAPH_MODELS_RISK_ANALYST: "anthropic:claude-sonnet-4-5,openai-compatible:llama3.1@http://127.0.0.1:8000/v1",
  OPENAI_API_KEY: "sk-openai-secret-1",
  ANTHROPIC_API_KEY: "sk-ant-secret-2",
};

describe("tiers per agent", () => {
  it("status lists the flows' chain, each agent's own, and each tier once with its key variable, never its key", () => {
    const m = modelsOf(loadConfig(env));
    expect(m.chains).toEqual({
      default: ["openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5"],
      agents: { risk_analyst: ["anthropic:claude-sonnet-4-5", "openai-compatible:llama3.1@http://127.0.0.1:8000/v1"] },
    });
    expect(m.tiers.map((t) => [t.id, t.provider, t.endpoint, t.key_env, t.key_set, t.breaker])).toEqual([
      ["openai:gpt-4.1-mini", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", true, "openai:gpt-4.1-mini@https://api.openai.com/v1"],
      [
        "anthropic:claude-haiku-4-5",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        true,
        "anthropic:claude-haiku-4-5@https://api.anthropic.com",
      ],
      [
        "anthropic:claude-sonnet-4-5",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        true,
        "anthropic:claude-sonnet-4-5@https://api.anthropic.com",
      ],
      [
        "openai-compatible:llama3.1@http://127.0.0.1:8000/v1",
        "openai-compatible",
        "http://127.0.0.1:8000/v1",
        null,
        false,
        "openai-compatible:llama3.1@http://127.0.0.1:8000/v1",
      ],
    ]);
    expect(JSON.stringify(m)).not.toMatch(/secret/);
  });

  it("a run's tiers_used_by_agent names, per agent, the tiers that answered it", () => {
    const a = (agent: string, tier: string, outcome: "ok" | "error") => ({ agent, tier, attempt: 1, outcome, ms: 1 });
    expect(
      tiersUsedByAgent([
        a("risk_analyst", "anthropic:claude-sonnet-4-5", "error"),
        a("risk_analyst", "rules", "ok"),
        a("summarizer", "openai:gpt-4.1-mini", "ok"),
        a("summarizer", "openai:gpt-4.1-mini", "ok"),
      ]),
    ).toEqual({ risk_analyst: ["rules"], summarizer: ["openai:gpt-4.1-mini"] });
  });

  it("an agent step's span names the chain that agent was configured with", () => {
    const own: Record<string, string[]> = { risk_analyst: ["anthropic:claude-sonnet-4-5", "rules"] };
    const tiersOf = (agent: string) => own[agent] ?? ["openai:gpt-4.1-mini", "rules"];
    const attempts = [
      { agent: "risk_analyst", tier: "rules", attempt: 1, outcome: "ok" as const, ms: 1 },
      { agent: "summarizer", tier: "openai:gpt-4.1-mini", attempt: 1, outcome: "ok" as const, ms: 1 },
    ];
    const t = 1_000_000;
    const spans = buildSpans(
      { flow: "contract-review", run_id: "r", thread_id: "t", status: "completed", started_at: new Date(t), duration_ms: 10, attempts, error: null },
      [
        { id: "n1", name: "risk_analyst", start_ms: t, end_ms: t + 5, attempts: [attempts[0]!] },
        { id: "n2", name: "summarizer", start_ms: t + 5, end_ms: t + 10, attempts: [attempts[1]!] },
      ],
      undefined,
      (agent) => tiersOf(agent).join(" > "),
    );
    const node = (name: string) => spans.find((s) => s.kind === "node" && s.name === name)!.attributes;
    expect(node("risk_analyst").tiers).toBe("anthropic:claude-sonnet-4-5 > rules");
    expect(node("summarizer").tiers).toBe("openai:gpt-4.1-mini > rules");
  });
});
