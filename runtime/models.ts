import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { ChatOpenAI } from "@langchain/openai";
import type { ModelTier, StructuredCall, TokenUsage } from "../nodes/agent.js";
import { CircuitBreaker, type CircuitBreakerOptions, type FailureOutcome } from "../nodes/circuit-breaker.js";
import { systemClock, type Clock } from "../nodes/clock.js";
import { CircuitOpenError, classifyError } from "../nodes/errors.js";
import type { Config } from "./config.js";

/** A model tier with the circuit breaker it calls through. */
export interface BreakerTier extends ModelTier {
  breaker: CircuitBreaker;
}

/**
 * What ties a process's breakers to the fleet's (runtime/shared-breakers.ts). Called only off the
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

/**
 * The model tiers of config: one ChatOpenAI per tier with the client's own retries off
 * (`maxRetries: 0`: retrying is the agent step's job, so nothing multiplies), a per-call
 * timeout (an abandoned call is aborted), and a circuit breaker per (provider, model). Create
 * them once per process: every run then shares the breakers; with `link`, every process does.
 */
export function createModelTiers(
  config: Pick<Config, "modelTiers" | "openai" | "modelTimeoutMs"> & { breaker?: CircuitBreakerOptions },
  clock: Clock = systemClock,
  link?: BreakerLink,
): BreakerTier[] {
  return config.modelTiers.map((spec) => {
    const chat = new ChatOpenAI({
      model: spec.model,
      apiKey: config.openai.apiKey ?? "not-needed-for-local-server",
      maxRetries: 0,
      temperature: 0,
      configuration: { baseURL: config.openai.baseURL, logLevel: "off" },
    });
    const breaker = new CircuitBreaker(clock, config.breaker);
    link?.track(spec.id, breaker);
    // One structured-output runnable per (schema, name). Given a zod schema, ChatOpenAI's
    // jsonSchema method converts it to JSON Schema again on every call (twice: for the request
    // and for its tracing params); it gets the JSON Schema it would send, converted here once,
    // and the answer is checked against the zod schema below as before. Function calling
    // converts once by itself.
    const structuredFor = new WeakMap<object, Map<string, ReturnType<typeof chat.withStructuredOutput>>>();
    const structuredOf = (schema: StructuredCall<unknown>["schema"], name: string) => {
      let byName = structuredFor.get(schema);
      if (!byName) structuredFor.set(schema, (byName = new Map()));
      let r = byName.get(name);
      if (!r) {
        r =
          config.openai.structuredOutput === "jsonSchema"
            ? chat.withStructuredOutput(responseSchema(schema, name), { name, method: "jsonSchema", strict: true, includeRaw: true })
            : chat.withStructuredOutput(schema, { name, method: config.openai.structuredOutput, includeRaw: true });
        byName.set(name, r as never);
      }
      return r!;
    };
    return {
      id: spec.id,
      breaker,
      async invoke<M>(call: StructuredCall<M>): Promise<{ output: M; usage: TokenUsage }> {
        if (!breaker.tryAcquire()) throw new CircuitOpenError(spec.id);
        // half-open: one probe for the whole fleet, not one per process
        const probe = breaker.probe;
        if (probe && link && !(await link.claimProbe(spec.id))) throw new CircuitOpenError(spec.id);
        const timeout = AbortSignal.timeout(config.modelTimeoutMs);
        const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
        try {
          const structured = structuredOf(call.schema as StructuredCall<unknown>["schema"], call.agent);
          const { raw, parsed } = (await structured.invoke(
            [
              { role: "system", content: call.system },
              { role: "user", content: call.user },
            ],
            { signal },
          )) as unknown as { raw: unknown; parsed: unknown };
          breaker.success(); // the provider answered; whether the answer is any good is the agent's business
          link?.succeeded(spec.id, probe);
          const meta = (raw as { usage_metadata?: { input_tokens?: number; output_tokens?: number } }).usage_metadata;
          const output = call.schema.parse(parsed);
          return { output, usage: { input_tokens: meta?.input_tokens ?? 0, output_tokens: meta?.output_tokens ?? 0 } };
        } catch (e) {
          if (call.signal?.aborted) {
            breaker.release();
            if (probe) link?.released(spec.id);
            throw e;
          }
          const c = classifyError(timeout.aborted && !(e as { status?: number }).status ? Object.assign(new Error("model call timed out"), { name: "TimeoutError" }) : e);
          // unavailable, rate-limited, out of quota or refusing our key: the provider is unhealthy.
          // A bad request (400/404/422) or an answer that fails its schema says nothing about that.
          if (c.class === "transient" || c.status === 401 || c.status === 403 || c.code === "insufficient_quota") {
            const outcome = breaker.failure(); // counted here whether or not a link tells the fleet
            link?.failed(spec.id, probe, outcome);
          } else {
            breaker.release();
            if (probe) link?.released(spec.id);
          }
          if (c.class === "transient" && c.message.startsWith("timeout")) throw Object.assign(new Error(`timeout after ${config.modelTimeoutMs} ms`), { name: "TimeoutError" });
          throw e;
        }
      },
    };
  });
}

/**
 * The JSON Schema ChatOpenAI sends as `response_format.json_schema.schema` for a zod schema
 * (@langchain/openai's interopZodResponseFormat: refs for cycles and reuse, titled by name).
 */
export function responseSchema(schema: StructuredCall<unknown>["schema"], name: string): Record<string, unknown> {
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
