import { AsyncLocalStorage } from "node:async_hooks";
import { ChatAnthropic } from "@langchain/anthropic";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { Runnable } from "@langchain/core/runnables";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { ChatOllama } from "@langchain/ollama";
import { AzureChatOpenAI, ChatOpenAI } from "@langchain/openai";
import type { ModelTier, StructuredCall, TokenUsage } from "../../nodes/agent.js";
import { CircuitBreaker, type CircuitBreakerOptions, type FailureOutcome } from "../../nodes/circuit-breaker.js";
import { systemClock, type Clock } from "../../nodes/clock.js";
import { CircuitOpenError, classifyError } from "../../nodes/errors.js";
import type { Config } from "../config.js";
import { InputError } from "../errors.js";
import { breakerKeyOf, endpointOf, outputOf, type ModelTierSpec, type OutputMethod, type Provider } from "./tier-spec.js";

/** A model tier with the circuit breaker it calls through. */
export interface BreakerTier extends ModelTier {
  provider: Provider;
  /** Where its requests go (a base URL; never with a key in it). */
  endpoint: string;
  /** Its breaker's key: `provider:model@endpoint`, one breaker per (provider, endpoint, model). */
  breakerKey: string;
  breaker: CircuitBreaker;
}

/**
 * What ties a process's breakers to the fleet's (runtime/models/shared-breakers.ts). Called only off the
 * fast path: in half-open, and after a call that failed or ended a run of failures. Never throws:
 * a database error leaves the local breaker in charge.
 */
export interface BreakerLink {
  /** Registers a tier's breaker, so the fleet's state reaches it. */
  track(key: string, breaker: CircuitBreaker): void;
  /** This process's probe may go (false: the fleet refuses it, and the breaker has adopted why). */
  claimProbe(key: string): Promise<boolean>;
  /** The provider answered (`probe`: the call was the probe). */
  succeeded(key: string, probe: boolean): void;
  /** The call failed for the provider's health. */
  failed(key: string, probe: boolean, outcome: FailureOutcome): void;
  /** The probe ended telling nothing (cancelled, a bad request): the fleet's probe is free again. */
  released(key: string): void;
}

/** What building tiers needs of Config. `apiKeys` absent: openai tiers take `openai.apiKey` (tests, benchmarks). */
export type TierConfig = Pick<Config, "modelTiers" | "openai" | "modelTimeoutMs"> &
  Partial<Pick<Config, "agentTiers" | "apiKeys">> & { breaker?: CircuitBreakerOptions };

/** Every tier of a process: the flows' chain, the agents' own chains, and each distinct tier once. */
export interface TierSet {
  /** OPSGRAPH_MODELS: every agent's tiers, except an agent with its own. */
  tiers: BreakerTier[];
  /** OPSGRAPH_MODELS_<AGENT>, by agent name. */
  agentTiers: Record<string, BreakerTier[]>;
  /** Each tier once, whichever lists name it (metrics, alerts, status). */
  all: BreakerTier[];
}

/**
 * The model tiers of config: one LangChain chat model per tier, from its provider's own package
 * (ChatOpenAI, AzureChatOpenAI, ChatAnthropic, ChatOllama) with the client's own retries off
 * (`maxRetries: 0`: retrying is the agent step's job, so nothing multiplies), a per-call
 * timeout (an abandoned call is aborted), its own key sent only to its own endpoint, and a
 * circuit breaker per (provider, endpoint, model). Create them once per process: every run then
 * shares the breakers; with `link`, every process does.
 */
export function createTierSet(config: TierConfig, clock: Clock = systemClock, link?: BreakerLink): TierSet {
  const byId = new Map<string, { spec: ModelTierSpec; tier: BreakerTier }>();
  const breakers = new Map<string, CircuitBreaker>();
  const keyOf = (spec: ModelTierSpec) =>
    config.apiKeys?.get(spec.keyEnv) ?? (spec.provider === "openai" && spec.keyEnv === "OPENAI_API_KEY" ? config.openai.apiKey : undefined);
  const secrets = [...(config.apiKeys?.values() ?? []), ...(config.openai.apiKey ? [config.openai.apiKey] : [])];
  const tierOf = (spec: ModelTierSpec): BreakerTier => {
    const known = byId.get(spec.id);
    if (known) {
      if (JSON.stringify(known.spec) !== JSON.stringify(spec))
        throw new InputError(`${spec.id}: named twice with different options; give one of them its own endpoint`);
      return known.tier;
    }
    const endpoint = endpointOf(spec, config.openai.baseURL);
    const key = breakerKeyOf(spec, endpoint);
    let breaker = breakers.get(key);
    if (!breaker) {
      breakers.set(key, (breaker = new CircuitBreaker(clock, config.breaker)));
      link?.track(key, breaker);
    }
    const tier = modelTier(spec, {
      endpoint,
      key: keyOf(spec),
      method: outputOf(spec, config.openai.structuredOutput),
      timeoutMs: config.modelTimeoutMs,
      breaker,
      breakerKey: key,
      link,
      secrets,
    });
    byId.set(spec.id, { spec, tier });
    return tier;
  };
  const tiers = config.modelTiers.map(tierOf);
  const agentTiers = Object.fromEntries(Object.entries(config.agentTiers ?? {}).map(([agent, list]) => [agent, list.map(tierOf)]));
  return { tiers, agentTiers, all: [...byId.values()].map((t) => t.tier) };
}

/** The flows' chain of config (OPSGRAPH_MODELS); see createTierSet for what each tier is. */
export function createModelTiers(config: TierConfig, clock: Clock = systemClock, link?: BreakerLink): BreakerTier[] {
  return createTierSet({ ...config, agentTiers: {} }, clock, link).tiers;
}

/** A key-less local or gateway endpoint still gets a non-empty key: the clients refuse to start without one. */
const NO_KEY = "no-key";

/** The call a tier's ChatOllama is making: its fetch carries the call's signal (the ollama client takes none per call). */
const ollamaCall = new AsyncLocalStorage<AbortSignal>();

interface TierParts {
  endpoint: string;
  key: string | undefined;
  method: OutputMethod;
  timeoutMs: number;
  breaker: CircuitBreaker;
  breakerKey: string;
  link: BreakerLink | undefined;
  /** Every key of the process: none may reach an error message. */
  secrets: string[];
}

/** The provider's chat model for a tier. Every setting is passed: none is left for a client to read from the environment. */
function chatModel(spec: ModelTierSpec, p: TierParts): BaseChatModel {
  const common = { temperature: 0, maxRetries: 0 };
  switch (spec.provider) {
    case "openai":
    case "openai-compatible":
      return new ChatOpenAI({ ...common, model: spec.model, apiKey: p.key ?? NO_KEY, configuration: { baseURL: p.endpoint, logLevel: "off" } });
    case "azure":
      return new AzureChatOpenAI({
        ...common,
        model: spec.model,
        azureOpenAIApiKey: p.key ?? NO_KEY,
        azureOpenAIEndpoint: p.endpoint,
        azureOpenAIApiDeploymentName: spec.model,
        azureOpenAIApiVersion: spec.apiVersion!,
        configuration: { logLevel: "off" },
      });
    case "anthropic":
      return new ChatAnthropic({
        ...common,
        model: spec.model,
        apiKey: p.key ?? NO_KEY,
        anthropicApiUrl: p.endpoint,
        maxTokens: 4096,
        clientOptions: { logLevel: "off" },
      });
    case "ollama":
      return new ChatOllama({
        ...common,
        model: spec.model,
        baseUrl: p.endpoint,
        ...(p.key ? { headers: { Authorization: `Bearer ${p.key}` } } : {}),
        fetch: (input: RequestInfo | URL, init?: RequestInit) => {
          const call = ollamaCall.getStore();
          const signal = call && init?.signal ? AbortSignal.any([call, init.signal]) : (call ?? init?.signal ?? undefined);
          return fetch(input, { ...init, ...(signal ? { signal } : {}) });
        },
      });
  }
}

/** One tier: its chat model, structured output by its method, behind its breaker. */
function modelTier(spec: ModelTierSpec, p: TierParts): BreakerTier {
  const chat = chatModel(spec, p);
  const { breaker, breakerKey: key, link } = p;
  // One structured-output runnable per (schema, name), given the JSON Schema it would send,
  // converted here once (ChatOpenAI converts a zod schema again on every call, twice); the
  // answer is checked against the zod schema below, whichever provider gave it.
  const structuredFor = new WeakMap<object, Map<string, Runnable>>();
  const structuredOf = (schema: StructuredCall<unknown>["schema"], name: string): Runnable => {
    let byName = structuredFor.get(schema);
    if (!byName) structuredFor.set(schema, (byName = new Map()));
    let r = byName.get(name);
    if (!r) {
      const json = responseSchema(schema, name);
      r =
        spec.provider === "anthropic" || spec.provider === "ollama"
          ? (chat.withStructuredOutput(json, { name, method: p.method, includeRaw: true }) as Runnable)
          : p.method === "jsonSchema"
            ? ((chat as ChatOpenAI).withStructuredOutput(json, { name, method: "jsonSchema", strict: true, includeRaw: true }) as Runnable)
            : ((chat as ChatOpenAI).withStructuredOutput(schema, { name, method: "functionCalling", includeRaw: true }) as Runnable);
      byName.set(name, r);
    }
    return r;
  };
  return {
    id: spec.id,
    provider: spec.provider,
    endpoint: p.endpoint,
    breakerKey: key,
    breaker,
    async invoke<M>(call: StructuredCall<M>): Promise<{ output: M; usage: TokenUsage }> {
      if (!breaker.tryAcquire()) throw new CircuitOpenError(spec.id);
      // half-open: one probe for the whole fleet, not one per process
      const probe = breaker.probe;
      if (probe && link && !(await link.claimProbe(key))) throw new CircuitOpenError(spec.id);
      const timeout = AbortSignal.timeout(p.timeoutMs);
      const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
      try {
        const structured = structuredOf(call.schema as StructuredCall<unknown>["schema"], call.agent);
        const messages = [
          { role: "system", content: call.system },
          { role: "user", content: call.user },
        ];
        const { raw, parsed } = (await ollamaCall.run(signal, () => structured.invoke(messages, { signal }))) as { raw: unknown; parsed: unknown };
        breaker.success(); // the provider answered; whether the answer is any good is the agent's business
        link?.succeeded(key, probe);
        const meta = (raw as { usage_metadata?: { input_tokens?: number; output_tokens?: number } }).usage_metadata;
        const output = call.schema.parse(parsed);
        return { output, usage: { input_tokens: meta?.input_tokens ?? 0, output_tokens: meta?.output_tokens ?? 0 } };
      } catch (e) {
        scrubKeys(e, p.secrets);
        if (call.signal?.aborted) {
          breaker.release();
          if (probe) link?.released(key);
          throw e;
        }
        const c = classifyError(
          timeout.aborted && !(e as { status?: number }).status ? Object.assign(new Error("model call timed out"), { name: "TimeoutError" }) : e,
        );
        // unavailable, rate-limited, out of quota or credit, or refusing our key: the provider is
        // unhealthy. A bad request (400/404/422) or an answer that fails its schema says nothing about that.
        if (c.class === "transient" || c.status === 401 || c.status === 403 || c.code === "insufficient_quota") {
          const outcome = breaker.failure(); // counted here whether or not a link tells the fleet
          link?.failed(key, probe, outcome);
        } else {
          breaker.release();
          if (probe) link?.released(key);
        }
        if (c.class === "transient" && c.message.startsWith("timeout"))
          throw Object.assign(new Error(`timeout after ${p.timeoutMs} ms`), { name: "TimeoutError" });
        throw e;
      }
    },
  };
}

/** Anything shaped like a provider's key: providers echo part of a refused one ("Incorrect API key provided: sk-ab***yz"). */
const KEY_LIKE = /\b(sk-(?:ant-|proj-)?[A-Za-z0-9_*.-]{6,}|AIza[0-9A-Za-z_-]{20,})/g;

/**
 * Takes every key (and anything shaped like one) out of an error, in place: its message, the
 * provider's error body it carries (`error`: OpenAI's `{ message }`, Anthropic's
 * `{ error: { message } }`, Ollama's string), and its cause's.
 */
export function scrubKeys(e: unknown, secrets: readonly string[]): void {
  const scrub = (text: string) => {
    let m = text;
    for (const s of secrets) if (s.length >= 4) m = m.split(s).join("[key]");
    return m.replace(KEY_LIKE, "[key]");
  };
  const seen = new Set<unknown>();
  const visit = (x: unknown, depth: number): void => {
    if (!x || typeof x !== "object" || seen.has(x) || depth > 8) return;
    seen.add(x);
    const o = x as Record<string, unknown>;
    for (const k of ["message", "error", "cause"]) {
      const v = o[k];
      if (typeof v !== "string") visit(v, depth + 1);
      else if (k !== "cause" && scrub(v) !== v) {
        try {
          o[k] = scrub(v);
        } catch {
          // a frozen error keeps its message; classifyError's line is scrubbed by the ledger
        }
      }
    }
  };
  visit(e, 0);
}

/**
 * The JSON Schema ChatOpenAI sends as `response_format.json_schema.schema` for a zod schema
 * (@langchain/openai's interopZodResponseFormat: refs for cycles and reuse, titled by name).
 */
export function responseSchema(schema: StructuredCall<unknown>["schema"], name: string): Record<string, unknown> {
  // the agent's zod schema (v3 or v4) as @langchain/core's converter takes either: its parameter type names only one
  const converted = toJsonSchema(schema as never, {
    cycles: "ref",
    reused: "ref",
    override(ctx) {
      ctx.jsonSchema.title = name;
    },
  });
  // plain data: zod's result also answers to `~standard`, which ChatOpenAI would convert again (to draft-07)
  return JSON.parse(JSON.stringify(converted)) as Record<string, unknown>;
}
