import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidOutputError } from "./agent.js";
import { CircuitOpenError, classifyError, DEFAULT_BACKOFF, nextDelay, parseRetryAfter, retryAfterOf } from "./errors.js";

const http = (status: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${status} error`), { status, ...extra });

describe("classifyError: which failures are worth retrying", () => {
  it.each([
    ["429 rate limit", http(429, { code: "rate_limit_exceeded" }), "transient"],
    ["408", http(408), "transient"],
    ["500", http(500), "transient"],
    ["502", http(502), "transient"],
    ["503", http(503), "transient"],
    ["a timeout", Object.assign(new Error("Request timed out."), { name: "TimeoutError" }), "transient"],
    ["an aborted call (our timeout)", Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" }), "transient"],
    [
      "a reset connection",
      Object.assign(new Error("Connection error."), {
        cause: Object.assign(new TypeError("fetch failed"), { cause: { code: "UND_ERR_SOCKET", message: "other side closed" } }),
      }),
      "transient",
    ],
    [
      "a refused connection",
      Object.assign(new Error("Connection error."), { cause: { code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" } }),
      "transient",
    ],
    ["malformed JSON", new SyntaxError("Unexpected token < in JSON"), "transient"],
    ["an ollama stream cut before its done line", new Error("Did not receive done or success response in stream."), "transient"],
    ["400", http(400), "fatal"],
    ["401", http(401, { code: "invalid_api_key" }), "fatal"],
    ["403", http(403), "fatal"],
    ["404", http(404), "fatal"],
    ["429 insufficient_quota", http(429, { code: "insufficient_quota" }), "fatal"],
    ["400 insufficient_quota", http(400, { code: "insufficient_quota" }), "fatal"],
    ["context length", http(400, { code: "context_length_exceeded" }), "fatal"],
    ["an unknown error", new Error("something odd"), "fatal"],
    ["a schema violation", z.object({ a: z.string() }).safeParse({}).error, "invalid"],
    [
      "a schema violation from another copy of zod",
      Object.assign(new Error("[]"), { name: "$ZodError", issues: [{ path: ["clause"], message: "Required" }] }),
      "invalid",
    ],
    ["an excerpt not in the text", new InvalidOutputError(["excerpt not in the contract"]), "invalid"],
    ["an unparseable tool call", Object.assign(new Error("Failed to parse. Text: x"), { lc_error_code: "OUTPUT_PARSING_FAILURE" }), "invalid"],
    ["an open breaker", new CircuitOpenError("openai:gpt-4.1-mini"), "circuit_open"],
    ["Anthropic's 529 overloaded", http(529, { type: "overloaded_error", error: { type: "error", error: { type: "overloaded_error" } } }), "transient"],
    ["Anthropic's 429 rate_limit_error", http(429, { type: "rate_limit_error" }), "transient"],
    [
      "Anthropic's prompt too long",
      Object.assign(new Error("400 prompt is too long: 210000 tokens > 200000 maximum"), { name: "ContextOverflowError" }),
      "fatal",
    ],
    [
      "Anthropic's low credit balance",
      http(400, { type: "invalid_request_error", message: "400 Your credit balance is too low to access the Anthropic API." }),
      "fatal",
    ],
    [
      "Ollama's missing model",
      Object.assign(new Error('model "llama9" not found, try pulling it first'), { name: "ResponseError", status_code: 404 }),
      "fatal",
    ],
    ["Ollama's 500", Object.assign(new Error("llama runner process has terminated"), { name: "ResponseError", status_code: 500 }), "transient"],
  ])("%s is %s", (_what, error, expected) => {
    expect(classifyError(error).class).toBe(expected);
  });

  it("reads Retry-After from the response headers, in seconds or as a date", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(classifyError(http(429, { headers: new Headers({ "retry-after": "7" }) }), now).retryAfterMs).toBe(7000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });

  it("reads Azure's retry-after-ms before Retry-After", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(classifyError(http(429, { headers: new Headers({ "retry-after-ms": "1500", "retry-after": "2" }) }), now).retryAfterMs).toBe(1500);
  });

  it("reads Anthropic's rate-limit headers when it sends no Retry-After: the latest reset of a spent limit", () => {
    const now = Date.UTC(2026, 0, 1);
    const headers = new Headers({
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": new Date(now + 4000).toISOString(),
      "anthropic-ratelimit-tokens-remaining": "0",
      "anthropic-ratelimit-tokens-reset": new Date(now + 9000).toISOString(),
      "anthropic-ratelimit-input-tokens-remaining": "5000",
      "anthropic-ratelimit-input-tokens-reset": new Date(now + 60_000).toISOString(),
    });
    expect(retryAfterOf(headers, now)).toBe(9000);
    expect(classifyError(http(429, { type: "rate_limit_error", headers }), now)).toMatchObject({
      class: "transient",
      retryAfterMs: 9000,
      code: "rate_limit_error",
    });
  });

  it("names running out of credit insufficient_quota, whoever says it", () => {
    expect(classifyError(http(400, { type: "invalid_request_error", message: "400 Your credit balance is too low to access the Anthropic API." })).code).toBe(
      "insufficient_quota",
    );
    expect(classifyError(http(429, { code: "insufficient_quota" })).code).toBe("insufficient_quota");
    expect(classifyError(http(429, { type: "rate_limit_error" })).code).toBe("rate_limit_error");
  });
});

describe("backoff", () => {
  const noJitter = () => 0;
  it("waits 1, 2, 4, 8 s before attempts 2 to 5, then gives up on the tier", () => {
    expect([1, 2, 3, 4, 5].map((n) => nextDelay(DEFAULT_BACKOFF, n, 0, undefined, noJitter))).toEqual([1000, 2000, 4000, 8000, null]);
  });
  it("adds up to 20% jitter", () => {
    expect(nextDelay(DEFAULT_BACKOFF, 1, 0, undefined, () => 1)).toBe(1200);
  });
  it("honours a longer Retry-After, but never past 30 s of waiting in the step", () => {
    expect(nextDelay(DEFAULT_BACKOFF, 1, 0, 9000, noJitter)).toBe(9000);
    expect(nextDelay(DEFAULT_BACKOFF, 2, 25_000, 9000, noJitter)).toBeNull();
    expect(nextDelay(DEFAULT_BACKOFF, 1, 29_500, undefined, noJitter)).toBeNull();
  });
});
