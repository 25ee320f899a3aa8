import { ChatOpenAI } from "@langchain/openai";
import type { ModelTier, StructuredCall, TokenUsage } from "../nodes/agent.js";
import { CircuitBreaker, type CircuitBreakerOptions } from "../nodes/circuit-breaker.js";
import { systemClock, type Clock } from "../nodes/clock.js";
import { CircuitOpenError, classifyError } from "../nodes/errors.js";
import type { Config } from "./config.js";

/** A model tier with the circuit breaker it calls through. */
export interface BreakerTier extends ModelTier {
  breaker: CircuitBreaker;
}

/**
 * The model tiers of config: one ChatOpenAI per tier with the client's own retries off
 * (`maxRetries: 0`: retrying is the agent step's job, so nothing multiplies), a per-call
 * timeout (an abandoned call is aborted), and a circuit breaker per (provider, model). Create
 * them once per process: every run then shares the breakers.
 */
export function createModelTiers(
  config: Pick<Config, "modelTiers" | "openai" | "modelTimeoutMs"> & { breaker?: CircuitBreakerOptions },
  clock: Clock = systemClock,
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
    // one structured-output runnable per (schema, name): building it converts the schema to JSON Schema
    const structuredFor = new WeakMap<object, Map<string, ReturnType<typeof chat.withStructuredOutput>>>();
    const structuredOf = (schema: StructuredCall<unknown>["schema"], name: string) => {
      let byName = structuredFor.get(schema);
      if (!byName) structuredFor.set(schema, (byName = new Map()));
      let r = byName.get(name);
      if (!r) byName.set(name, (r = chat.withStructuredOutput(schema, { name, method: config.openai.structuredOutput, includeRaw: true }) as never));
      return r!;
    };
    return {
      id: spec.id,
      breaker,
      async invoke<M>(call: StructuredCall<M>): Promise<{ output: M; usage: TokenUsage }> {
        if (!breaker.tryAcquire()) throw new CircuitOpenError(spec.id);
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
          const meta = (raw as { usage_metadata?: { input_tokens?: number; output_tokens?: number } }).usage_metadata;
          const output = call.schema.parse(parsed);
          return { output, usage: { input_tokens: meta?.input_tokens ?? 0, output_tokens: meta?.output_tokens ?? 0 } };
        } catch (e) {
          if (call.signal?.aborted) {
            breaker.release();
            throw e;
          }
          const c = classifyError(timeout.aborted && !(e as { status?: number }).status ? Object.assign(new Error("model call timed out"), { name: "TimeoutError" }) : e);
          // unavailable, rate-limited, out of quota or refusing our key: the provider is unhealthy.
          // A bad request (400/404/422) or an answer that fails its schema says nothing about that.
          if (c.class === "transient" || c.status === 401 || c.status === 403 || c.code === "insufficient_quota") breaker.failure();
          else breaker.release();
          if (c.class === "transient" && c.message.startsWith("timeout")) throw Object.assign(new Error(`timeout after ${config.modelTimeoutMs} ms`), { name: "TimeoutError" });
          throw e;
        }
      },
    };
  });
}
