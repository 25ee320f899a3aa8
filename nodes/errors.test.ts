import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidOutputError } from "./agent.js";
import { CircuitOpenError, classifyError, DEFAULT_BACKOFF, nextDelay, parseRetryAfter } from "./errors.js";

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
    ["a reset connection", Object.assign(new Error("Connection error."), { cause: Object.assign(new TypeError("fetch failed"), { cause: { code: "UND_ERR_SOCKET", message: "other side closed" } }) }), "transient"],
    ["a refused connection", Object.assign(new Error("Connection error."), { cause: { code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" } }), "transient"],
    ["malformed JSON", new SyntaxError("Unexpected token < in JSON"), "transient"],
    ["400", http(400), "fatal"],
    ["401", http(401, { code: "invalid_api_key" }), "fatal"],
    ["403", http(403), "fatal"],
    ["404", http(404), "fatal"],
    ["429 insufficient_quota", http(429, { code: "insufficient_quota" }), "fatal"],
    ["400 insufficient_quota", http(400, { code: "insufficient_quota" }), "fatal"],
    ["context length", http(400, { code: "context_length_exceeded" }), "fatal"],
    ["an unknown error", new Error("something odd"), "fatal"],
    ["a schema violation", z.object({ a: z.string() }).safeParse({}).error, "invalid"],
    ["a schema violation from another copy of zod", Object.assign(new Error("[]"), { name: "$ZodError", issues: [{ path: ["clause"], message: "Required" }] }), "invalid"],
    ["an excerpt not in the text", new InvalidOutputError(["excerpt not in the contract"]), "invalid"],
    ["an unparseable tool call", Object.assign(new Error("Failed to parse. Text: x"), { lc_error_code: "OUTPUT_PARSING_FAILURE" }), "invalid"],
    ["an open breaker", new CircuitOpenError("openai:gpt-4.1-mini"), "circuit_open"],
  ])("%s is %s", (_what, error, expected) => {
    expect(classifyError(error).class).toBe(expected);
  });

  it("reads Retry-After from the response headers, in seconds or as a date", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(classifyError(http(429, { headers: new Headers({ "retry-after": "7" }) }), now).retryAfterMs).toBe(7000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
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
