// Over 300 lines: one test file per capability (tiers per provider): structured calls, keys, failure classes, scrubbed errors and fallback share one scripted server and its relay.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { RULES_TIER } from "../nodes/agent-step.js";
import { classifyError } from "../nodes/errors.js";
import { loadConfig } from "../runtime/config.js";
import { createModelTiers, createTierSet, type BreakerTier } from "../runtime/models/models.js";
import type { Database } from "../runtime/db/postgres.js";
import { ContractReviewRunner } from "../flows/contract-review/run/runner.js";
import { startScriptedOpenAI, type RecordedRequest, type Reply, type ScriptedApi, type ScriptedServer } from "../testing/scripted-openai.js";
import { freshDatabase, openTestDatabase } from "./support/database.js";
import { documentOf } from "../testing/documents.js";
import { FakeWaitsClock } from "../testing/fake-clock.js";
import { startRelay, type Relay } from "./support/providers-relay.js";
import { AGENTS, CONTRACT, ok } from "../testing/scripted-contract.js";
import { until } from "../testing/until.js";

// Every provider's tier exactly as createTierSet builds it from the environment (ChatOpenAI,
// AzureChatOpenAI, ChatAnthropic, ChatOllama), over real HTTP to the scripted server: the
// request each client sends, whose key it carries, how each client's failures are classified,
// and a contract review falling back from one provider to another.

const Verdict = z.object({
  verdict: z.string().describe("The decision"),
  score: z.number().describe("How sure, 0 to 10"),
});
const ANSWER = { verdict: "approve", score: 7 };
const USAGE = { prompt_tokens: 321, completion_tokens: 45, cached_tokens: 21 };
const call = { agent: "judge", schema: Verdict, system: "You judge.", user: "Judge this." };

/** Distinct, realistic keys: Azure's are 32 hex digits, nothing like `sk-`, so only the tier's own scrubbing can catch them. */
const KEYS = {
  OPENAI_API_KEY: "sk-proj-openaiKEY0123456789",
  ANTHROPIC_API_KEY: "sk-ant-api03-anthropicKEY0123",
  AZURE_OPENAI_API_KEY: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
  MY_LOCAL_KEY: "local-gateway-key-4242",
};
const ALL_KEYS = Object.values(KEYS);

let server: ScriptedServer;
let relay: Relay;

beforeAll(async () => {
  server = await startScriptedOpenAI();
  relay = await startRelay(Number(new URL(server.origin).port));
});
afterAll(async () => {
  await relay?.close();
  await server?.close();
});
beforeEach(() => {
  server.reset();
});

/** The tiers of OPSGRAPH_MODELS, built as the CLI builds them: loadConfig, then createTierSet. */
function tiersOf(models: string[], env: Record<string, string> = {}): BreakerTier[] {
  return createTierSet(loadConfig({ OPSGRAPH_MODELS: models.join(","), ...KEYS, ...env })).tiers;
}
const tierOf = (spec: string, env: Record<string, string> = {}) => tiersOf([spec], env)[0]!;

/** What `fn` throws (fails the test if it does not). */
async function thrown(fn: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error("expected the call to throw");
}

/** One tier per provider, each as an operator would write it for a local stand-in. */
const PROVIDER_SPECS = {
  openai: () => `openai:gpt-4.1-mini@${server.url}`,
  azure: () => `azure:gpt4o-prod@${server.origin}?api-version=2024-10-21`,
  anthropic: () => `anthropic:claude-haiku-4-5@${server.origin}`,
  "openai-compatible": () => `openai-compatible:llama3.1@${server.url}`,
  ollama: () => `ollama:llama3.1@${server.origin}`,
};
type ProviderName = keyof typeof PROVIDER_SPECS;
const PROVIDER_NAMES = Object.keys(PROVIDER_SPECS) as ProviderName[];
/** The same tier with its requests through the relay (to see which side closes the socket). */
const relayed = (p: ProviderName) => PROVIDER_SPECS[p]().replace(server.origin, relay.origin);

describe("each provider's tier answers a structured call through its own API", () => {
  const cases: {
    name: string;
    spec: () => string;
    api: ScriptedApi;
    path: string;
    model: string;
    /** Proves the structured-output method from the request body. */
    method(body: Record<string, any>): void; // eslint-disable-line @typescript-eslint/no-explicit-any -- raw request bodies
  }[] = [
    {
      name: "openai, json schema (default)",
      spec: PROVIDER_SPECS.openai,
      api: "openai",
      path: "/v1/chat/completions",
      model: "gpt-4.1-mini",
      method: responseFormat,
    },
    {
      name: "openai, function calling",
      spec: () => `openai:gpt-4.1@${server.url}?output=functionCalling`,
      api: "openai",
      path: "/v1/chat/completions",
      model: "gpt-4.1",
      method: forcedFunction,
    },
    {
      name: "azure, json schema (default)",
      spec: PROVIDER_SPECS.azure,
      api: "azure",
      path: "/openai/deployments/gpt4o-prod/chat/completions",
      model: "gpt4o-prod",
      method: responseFormat,
    },
    {
      name: "azure, function calling",
      spec: () => `azure:gpt4o-tools@${server.origin}?api-version=2024-10-21&output=functionCalling`,
      api: "azure",
      path: "/openai/deployments/gpt4o-tools/chat/completions",
      model: "gpt4o-tools",
      method: forcedFunction,
    },
    {
      name: "anthropic, a forced tool (default)",
      spec: PROVIDER_SPECS.anthropic,
      api: "anthropic",
      path: "/v1/messages",
      model: "claude-haiku-4-5",
      method(body) {
        expect(body.tools).toHaveLength(1);
        expect(body.tools[0]).toMatchObject({ name: "judge", input_schema: { type: "object", required: ["verdict", "score"] } });
        expect(body.tool_choice).toEqual({ type: "tool", name: "judge" });
        expect(body.output_config).toBeUndefined();
        expect(body.system).toBe("You judge.");
      },
    },
    {
      name: "anthropic, json schema (output_config)",
      spec: () => `anthropic:claude-sonnet-4-5@${server.origin}?output=jsonSchema`,
      api: "anthropic",
      path: "/v1/messages",
      model: "claude-sonnet-4-5",
      method(body) {
        expect(body.output_config.format).toMatchObject({ type: "json_schema", schema: { type: "object", title: "judge", required: ["verdict", "score"] } });
        expect(body.tools).toBeUndefined();
      },
    },
    {
      name: "openai-compatible, json schema (default)",
      spec: PROVIDER_SPECS["openai-compatible"],
      api: "openai",
      path: "/v1/chat/completions",
      model: "llama3.1",
      method: responseFormat,
    },
    {
      name: "openai-compatible, function calling",
      spec: () => `openai-compatible:qwen3@${server.url}?output=functionCalling`,
      api: "openai",
      path: "/v1/chat/completions",
      model: "qwen3",
      method: forcedFunction,
    },
    {
      name: "ollama, json schema in `format` (default)",
      spec: PROVIDER_SPECS.ollama,
      api: "ollama",
      path: "/api/chat",
      model: "llama3.1",
      method(body) {
        expect(body.format).toMatchObject({ type: "object", title: "judge", required: ["verdict", "score"] });
        expect(body.tools).toBeUndefined();
      },
    },
    {
      name: "ollama, function calling",
      spec: () => `ollama:qwen3@${server.origin}?output=functionCalling`,
      api: "ollama",
      path: "/api/chat",
      model: "qwen3",
      method(body) {
        expect(body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["judge"]);
        expect(body.format).toBeUndefined();
      },
    },
  ];

  it.each(cases)("$name: the request goes to its API, and the answer and its token usage come back", async ({ spec, api, path: route, model, method }) => {
    server.script("judge", { json: ANSWER, usage: USAGE });
    const tier = tierOf(spec());
    const { output, usage } = await tier.invoke(call);
    expect(output).toEqual(ANSWER);
    // all the input tokens, cached ones included, whichever way the API reports them
    expect(usage).toEqual({ input_tokens: 321, output_tokens: 45 });
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect({ api: req.api, path: req.path, model: req.model, agent: req.agent }).toEqual({ api, path: route, model, agent: "judge" });
    method(req.body);
    expect(JSON.stringify(req.body)).toContain("Judge this.");
  });

  it("azure: the request names the api-version of its spec", async () => {
    server.script("judge", { json: ANSWER });
    await tierOf(`azure:gpt4o-prod@${relay.origin}?api-version=2024-06-01`).invoke(call);
    expect(relay.connections.map((c) => c.sent).join("")).toMatch(
      /^POST \/openai\/deployments\/gpt4o-prod\/chat\/completions\?api-version=2024-06-01 HTTP\/1\.1/m,
    );
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw request bodies
function responseFormat(body: Record<string, any>) {
  expect(body.response_format).toMatchObject({
    type: "json_schema",
    json_schema: { name: "judge", strict: true, schema: { type: "object", required: ["verdict", "score"] } },
  });
  expect(body.tools).toBeUndefined();
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw request bodies
function forcedFunction(body: Record<string, any>) {
  expect(body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["judge"]);
  expect(body.tool_choice).toEqual({ type: "function", function: { name: "judge" } });
  expect(body.response_format).toBeUndefined();
}

describe("each tier sends its own key, and only to its own endpoint", () => {
  // decoys in the process's environment: a client reading it instead of its tier's settings shows up
  const DECOYS = {
    OPENAI_API_KEY: "decoy-openai-env",
    ANTHROPIC_API_KEY: "decoy-anthropic-env",
    AZURE_OPENAI_API_KEY: "decoy-azure-env",
    OLLAMA_API_KEY: "decoy-ollama-env",
  };
  beforeEach(() => {
    for (const [k, v] of Object.entries(DECOYS)) vi.stubEnv(k, v);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("openai, azure, anthropic and a gateway's ?key= each carry their own key in their API's header; key-less local tiers carry none", async () => {
    const tiers = tiersOf([
      `openai:gpt-4.1-mini@${server.url}`,
      `azure:gpt4o-prod@${server.origin}`,
      `anthropic:claude-haiku-4-5@${server.origin}`,
      `openai-compatible:llama3.1@${server.url}?key=MY_LOCAL_KEY`,
      `ollama:llama3.1@${server.origin}?key=MY_LOCAL_KEY`,
      `openai-compatible:llama3.2@${server.url}`,
      `ollama:llama3.2@${server.origin}`,
    ]);
    server.setResponder("judge", () => ({ json: ANSWER }));
    for (const tier of tiers) await tier.invoke(call);

    expect(server.requests.map((r) => `${r.api}:${r.model}`)).toEqual([
      "openai:gpt-4.1-mini",
      "azure:gpt4o-prod",
      "anthropic:claude-haiku-4-5",
      "openai:llama3.1",
      "ollama:llama3.1",
      "openai:llama3.2",
      "ollama:llama3.2",
    ]);
    const [openai, azure, anthropic, gateway, ollamaKeyed, compatible, ollama] = server.requests as [RecordedRequest, ...RecordedRequest[]];
    const expected: [RecordedRequest | undefined, string | null, Record<string, string | undefined>][] = [
      [openai, KEYS.OPENAI_API_KEY, { authorization: `Bearer ${KEYS.OPENAI_API_KEY}`, "api-key": undefined, "x-api-key": undefined }],
      [azure, KEYS.AZURE_OPENAI_API_KEY, { "api-key": KEYS.AZURE_OPENAI_API_KEY, authorization: undefined, "x-api-key": undefined }],
      [anthropic, KEYS.ANTHROPIC_API_KEY, { "x-api-key": KEYS.ANTHROPIC_API_KEY, authorization: undefined, "api-key": undefined }],
      [gateway, KEYS.MY_LOCAL_KEY, { authorization: `Bearer ${KEYS.MY_LOCAL_KEY}`, "api-key": undefined, "x-api-key": undefined }],
      [ollamaKeyed, KEYS.MY_LOCAL_KEY, { authorization: `Bearer ${KEYS.MY_LOCAL_KEY}`, "api-key": undefined, "x-api-key": undefined }],
      // the OpenAI client will not start without some key: a placeholder, never a real one
      [compatible, null, { authorization: "Bearer no-key", "api-key": undefined, "x-api-key": undefined }],
      [ollama, null, { authorization: undefined, "api-key": undefined, "x-api-key": undefined }],
    ];
    for (const [req, own, headers] of expected) {
      const where = `${req!.api}:${req!.model}`;
      expect(Object.fromEntries(Object.keys(headers).map((h) => [h, req!.headers[h]])), where).toEqual(headers);
      const sent = JSON.stringify(req!.headers) + JSON.stringify(req!.body);
      for (const key of [...ALL_KEYS, ...Object.values(DECOYS)]) if (key !== own) expect(sent, `${where} carries ${key}`).not.toContain(key);
    }
  });
});

describe("each client's failures, classified", () => {
  /** Every tier fresh (its own breaker), one failure opening it: a counted failure shows as an open breaker. */
  const strict = (spec: string) => tierOf(spec, { OPSGRAPH_BREAKER_FAILURES: "1" });
  const fail = (reply: Reply) => server.setResponder("judge", () => reply);

  /** The breaker counted the failure: it is open, and the next call is refused without a request. */
  async function expectCounted(tier: BreakerTier) {
    expect(tier.breaker.current).toBe("open");
    const requests = server.requests.length;
    expect(classifyError(await thrown(() => tier.invoke(call))).class).toBe("circuit_open");
    expect(server.requests).toHaveLength(requests);
  }

  it("anthropic 529 overloaded: transient, and the breaker counts it", async () => {
    fail({ fault: { kind: "status", status: 529 } });
    const tier = strict(PROVIDER_SPECS.anthropic());
    const c = classifyError(await thrown(() => tier.invoke(call)));
    expect(c).toMatchObject({ class: "transient", status: 529, code: "overloaded_error" });
    await expectCounted(tier);
  });

  it("anthropic 429: a rate limit, waiting what retry-after says, else until the spent limit's reset", async () => {
    const now = Date.UTC(2026, 4, 1, 12, 0, 0);
    const spent = {
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": new Date(now + 20_000).toISOString(),
      "anthropic-ratelimit-tokens-remaining": "5000",
      "anthropic-ratelimit-tokens-reset": new Date(now + 50_000).toISOString(),
    };
    const tier = tierOf(PROVIDER_SPECS.anthropic());
    fail({ fault: { kind: "status", status: 429, retryAfterSeconds: 7, headers: spent } });
    expect(classifyError(await thrown(() => tier.invoke(call)), now)).toMatchObject({
      class: "transient",
      status: 429,
      code: "rate_limit_error",
      retryAfterMs: 7_000,
    });
    fail({ fault: { kind: "status", status: 429, headers: spent } });
    // the requests limit is spent (resets in 20 s); the tokens limit is not, so its later reset does not count
    expect(classifyError(await thrown(() => tier.invoke(call)), now)).toMatchObject({ class: "transient", status: 429, retryAfterMs: 20_000 });
    expect(tier.breaker.failuresInARow).toBe(2);
  });

  it("azure 429 with retry-after-ms: waits exactly that", async () => {
    fail({ fault: { kind: "status", status: 429, retryAfterMs: 1_250, retryAfterSeconds: 2 } });
    const c = classifyError(await thrown(() => tierOf(PROVIDER_SPECS.azure()).invoke(call)));
    expect(c).toMatchObject({ class: "transient", status: 429, retryAfterMs: 1_250 });
  });

  it("openai 429 insufficient_quota: not retried (fatal), but the breaker counts it", async () => {
    fail({ fault: { kind: "status", status: 429, code: "insufficient_quota" } });
    const tier = strict(PROVIDER_SPECS.openai());
    const c = classifyError(await thrown(() => tier.invoke(call)));
    expect(c).toMatchObject({ class: "fatal", status: 429, code: "insufficient_quota" });
    expect(c.retryAfterMs).toBeUndefined();
    await expectCounted(tier);
  });

  it.each(PROVIDER_NAMES)("%s 400: fatal, and the breaker does not count it", async (p) => {
    fail({ fault: { kind: "status", status: 400 } });
    const tier = strict(PROVIDER_SPECS[p]());
    expect(classifyError(await thrown(() => tier.invoke(call)))).toMatchObject({ class: "fatal", status: 400 });
    expect(tier.breaker.current).toBe("closed");
    fail({ json: ANSWER });
    await expect(tier.invoke(call)).resolves.toMatchObject({ output: ANSWER });
  });

  it.each(PROVIDER_NAMES)("%s hang: a timeout after OPSGRAPH_MODEL_TIMEOUT_MS, and the request's socket is closed", async (p) => {
    fail({ fault: { kind: "hang" } });
    const tier = tierOf(relayed(p), { OPSGRAPH_MODEL_TIMEOUT_MS: "300" });
    const user = `Judge this; ${p} will hang.`;
    const t0 = performance.now();
    const e = await thrown(() => tier.invoke({ ...call, user }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(e).toMatchObject({ name: "TimeoutError", message: "timeout after 300 ms" });
    expect(classifyError(e).class).toBe("transient");
    expect(tier.breaker.failuresInARow).toBe(1);
    // the call was aborted, not abandoned: the client closed the connection the request hung on
    const hung = relay.connections.filter((c) => c.sent.includes(user));
    expect(hung).toHaveLength(1);
    await until("the client to close the hung request's socket", () => hung[0]!.closedBy === "client", 2_000, 20);
  });

  it.each(PROVIDER_NAMES)("%s truncated and malformed bodies: transient, and counted", async (p) => {
    const tier = tierOf(PROVIDER_SPECS[p]());
    fail({ fault: { kind: "truncated", then: { json: ANSWER } } });
    expect(classifyError(await thrown(() => tier.invoke(call))).class).toBe("transient");
    fail({ fault: { kind: "malformed" } });
    expect(classifyError(await thrown(() => tier.invoke(call))).class).toBe("transient");
    expect(tier.breaker.failuresInARow).toBe(2);
  });
});

describe("no key in an error", () => {
  /** Each tier with a key, and the header it arrives in. */
  const KEYED: [string, () => string, string][] = [
    ["openai", () => `openai:gpt-4.1-mini@${server.url}`, KEYS.OPENAI_API_KEY],
    ["azure", () => `azure:gpt4o-prod@${server.origin}`, KEYS.AZURE_OPENAI_API_KEY],
    ["anthropic", () => `anthropic:claude-haiku-4-5@${server.origin}`, KEYS.ANTHROPIC_API_KEY],
    ["openai-compatible", () => `openai-compatible:llama3.1@${server.url}?key=MY_LOCAL_KEY`, KEYS.MY_LOCAL_KEY],
    ["ollama", () => `ollama:llama3.1@${server.origin}?key=MY_LOCAL_KEY`, KEYS.MY_LOCAL_KEY],
  ];

  it.each(KEYED)("%s 401 echoing the key: neither the error's message, its cause's nor the provider's error body it carries holds it", async (_, spec, key) => {
    // the provider quotes back whatever key it was sent, as OpenAI does
    server.setResponder("judge", (req) => {
      const sent = req.headers["x-api-key"] ?? req.headers["api-key"] ?? req.headers["authorization"]?.replace(/^Bearer /, "") ?? "";
      return {
        fault: {
          kind: "status",
          status: 401,
          message: `Incorrect API key provided: ${sent}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        },
      };
    });
    const e = await thrown(() => tierOf(spec()).invoke(call));
    expect(server.requests).toHaveLength(1);
    const c = classifyError(e);
    expect(c).toMatchObject({ class: "fatal", status: 401 });
    expect(c.message).toContain("Incorrect API key provided: [key]");
    const cause = e.cause as Error | undefined;
    for (const text of [e.message, String(e), e.stack ?? "", cause?.message ?? "", c.message]) expect(text).not.toContain(key);
    // the body as the client parsed it (e.error) is kept on the error for anyone who logs it
    expect(e.error).toBeDefined();
    expect(JSON.stringify(e.error)).not.toContain(key);
  });
});

describe("contract review falls back from one provider to another", () => {
  let admin: Database;
  let db: { pool: pg.Pool; drop: () => Promise<void> };
  let reportsDir: string;
  beforeAll(async () => {
    admin = await openTestDatabase();
    db = await freshDatabase(admin);
    reportsDir = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-providers-"));
  });
  afterAll(async () => {
    await db?.drop();
    await admin?.close();
    if (reportsDir) fs.rmSync(reportsDir, { recursive: true, force: true });
  });

  const OPENAI = () => `openai:gpt-4.1-mini@${server.url}`;
  const ANTHROPIC = () => `anthropic:claude-haiku-4-5@${server.origin}`;

  /** A runner over OPSGRAPH_MODELS=openai,anthropic, backoff on a fake clock; `fault`: what `api` answers instead. */
  function review(requestId: string, faults: Partial<Record<ScriptedApi, (agent: (typeof AGENTS)[number]) => Reply>>) {
    for (const agent of AGENTS) server.setResponder(agent, (req) => faults[req.api]?.(agent) ?? ok(agent));
    const clock = new FakeWaitsClock();
    const config = loadConfig({ OPSGRAPH_MODELS: `${OPENAI()},${ANTHROPIC()}`, ...KEYS, OPSGRAPH_MODEL_TIMEOUT_MS: "300" });
    const runner = new ContractReviewRunner({ pool: db.pool, tiers: createModelTiers(config, clock), reportsDir, reviewThreshold: 60, clock });
    return runner.review({ document: documentOf(CONTRACT, `${requestId}.txt`), requestId, autoApprove: true });
  }

  const OPENAI_FAULTS: [string, (agent: (typeof AGENTS)[number]) => Reply][] = [
    ["500", () => ({ fault: { kind: "status", status: 500 } })],
    ["429 with retry-after", () => ({ fault: { kind: "status", status: 429, retryAfterSeconds: 2 } })],
    ["hang", () => ({ fault: { kind: "hang" } })],
    ["reset", () => ({ fault: { kind: "reset" } })],
    ["truncated", (agent) => ({ fault: { kind: "truncated", then: ok(agent) } })],
    ["schema_invalid", () => ({ fault: { kind: "schema_invalid" } })],
  ];

  it.each(OPENAI_FAULTS)("openai %s: every agent's answer comes from the anthropic tier, and the run completes", async (kind, fault) => {
    const run = await review(`fallback-${kind.replace(/\W+/g, "-")}`, { openai: fault });
    expect(run.status).toBe("completed");
    expect(run.tiers_used).toEqual([`anthropic:claude-haiku-4-5@${server.origin}`]);
    const attempts = run.attempts!;
    for (const agent of AGENTS) {
      const mine = attempts.filter((a) => a.agent === agent);
      expect(
        mine.filter((a) => a.outcome === "ok").map((a) => a.tier),
        agent,
      ).toEqual([`anthropic:claude-haiku-4-5@${server.origin}`]);
      // openai was tried first and failed (or, once its breaker opened, skipped)
      expect(mine[0], agent).toMatchObject({ tier: `openai:gpt-4.1-mini@${server.url}` });
      expect(mine[0]!.outcome, agent).not.toBe("ok");
    }
    expect(
      server.requests
        .filter((r) => r.api === "anthropic")
        .map((r) => r.agent)
        .sort(),
    ).toEqual([...AGENTS].sort());
  });

  it("both providers failing: the rules tier answers, and the run completes", async () => {
    const run = await review("fallback-both", {
      openai: () => ({ fault: { kind: "status", status: 500 } }),
      anthropic: () => ({ fault: { kind: "status", status: 529 } }),
    });
    expect(run.status).toBe("completed");
    expect(run.tiers_used).toEqual([RULES_TIER]);
    const attempts = run.attempts!;
    for (const agent of AGENTS)
      expect(
        attempts.filter((a) => a.agent === agent && a.outcome === "ok").map((a) => a.tier),
        agent,
      ).toEqual([RULES_TIER]);
    expect(attempts.some((a) => a.tier === `anthropic:claude-haiku-4-5@${server.origin}` && a.status === 529 && a.error_class === "transient")).toBe(true);
    expect(server.requests.some((r) => r.api === "anthropic")).toBe(true);
  });
});
