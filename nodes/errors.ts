import { ZodError } from "zod";
import { InvalidOutputError } from "./agent.js";

/** Thrown by a model tier whose circuit breaker is open: the call was not made. */
export class CircuitOpenError extends Error {
  override name = "CircuitOpenError";
  constructor(readonly tier: string) {
    super(`circuit open for ${tier}`);
  }
}

/**
 * What a failed model call means for the agent step:
 * - `transient`: the provider may answer next time (429, 408, 409, 5xx, a timeout, a reset
 *   or refused connection, a malformed response): retry the same tier with backoff.
 * - `fatal`: asking again will not help (400, 401, 403, 404, 422, `insufficient_quota`,
 *   context length, an unknown error): go straight to the next tier.
 * - `invalid`: the answer came but fails its schema or its checks (an excerpt not in the
 *   text): one repair attempt on the same tier, then the next tier.
 * - `circuit_open`: the tier's breaker refused the call: next tier, at once.
 */
export type ErrorClass = "transient" | "fatal" | "invalid" | "circuit_open";

export interface ClassifiedError {
  class: ErrorClass;
  /** HTTP status, when there was a response. */
  status?: number;
  /** Provider error code (`rate_limit_exceeded`, `insufficient_quota`, ...). */
  code?: string;
  /** What the provider asked us to wait (Retry-After), in ms. */
  retryAfterMs?: number;
  /** One line, for the ledger and the dead letter queue; never the request's content. */
  message: string;
}

interface ErrorLike {
  name?: string;
  message?: string;
  status?: number;
  /** Ollama's ResponseError. */
  status_code?: number;
  /** The error body: Anthropic's `{ type: "error", error: { type } }`, OpenAI's `{ code, type }`. */
  error?: { type?: string; code?: string; error?: { type?: string } };
  code?: string | number;
  type?: string;
  headers?: Headers | Record<string, string | undefined>;
  cause?: ErrorLike;
  lc_error_code?: string;
}

const TRANSIENT_NETWORK =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|socket hang up|fetch failed|Connection error/i;
/** A stream that ended before its last message: the ollama client's words for a cut or unparsable NDJSON stream. */
const CUT_STREAM = /Did not receive done or success response in stream/;
const CONTEXT_LENGTH = /context_length_exceeded|maximum context length|context window|prompt is too long|ContextOverflow/i;
/** Out of money rather than out of rate: OpenAI's insufficient_quota, Anthropic's credit balance. */
const NO_CREDIT = /insufficient_quota|credit balance is too low|exceeded your current quota/i;

function header(headers: ErrorLike["headers"], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  return (headers as Record<string, string | undefined>)[name];
}

/** Retry-After as seconds or an HTTP date, in ms from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What a refused call asks us to wait, from its headers: `retry-after-ms` (Azure OpenAI, the
 * OpenAI SDK), else `retry-after` (seconds or a date), else Anthropic's rate-limit headers: the
 * latest reset among the limits it reports spent (`anthropic-ratelimit-<limit>-remaining: 0`).
 */
export function retryAfterOf(headers: ErrorLike["headers"], now: number): number | undefined {
  const ms = Number(header(headers, "retry-after-ms"));
  if (header(headers, "retry-after-ms") !== undefined && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const after = parseRetryAfter(header(headers, "retry-after"), now);
  if (after !== undefined) return after;
  let latest: number | undefined;
  for (const limit of ["requests", "tokens", "input-tokens", "output-tokens"]) {
    if (header(headers, `anthropic-ratelimit-${limit}-remaining`) !== "0") continue;
    const at = Date.parse(header(headers, `anthropic-ratelimit-${limit}-reset`) ?? "");
    if (!Number.isNaN(at)) latest = Math.max(latest ?? 0, at - now);
  }
  return latest;
}

const firstLine = (s: string) => s.split("\n")[0]!.slice(0, 300);

/** Classifies an error thrown by a model tier or an agent's checks. See ErrorClass. */
export function classifyError(error: unknown, now = Date.now()): ClassifiedError {
  if (error instanceof CircuitOpenError) return { class: "circuit_open", message: error.message };
  if (error instanceof InvalidOutputError) return { class: "invalid", message: error.message };
  // zod errors from any copy of zod (the OpenAI SDK validates with its own): anything with `issues`
  if (error instanceof ZodError || Array.isArray((error as { issues?: unknown })?.issues)) {
    const issues = (error as ZodError).issues as { path: PropertyKey[]; message: string }[];
    return {
      class: "invalid",
      message: `invalid output: ${issues
        .slice(0, 3)
        .map((i) => `${i.path.map(String).join(".") || "answer"}: ${i.message}`)
        .join("; ")}`,
    };
  }
  const e = (error ?? {}) as ErrorLike;
  const message = firstLine(String(e.message ?? error));
  if (e.name === "OutputParserException" || e.lc_error_code === "OUTPUT_PARSING_FAILURE") return { class: "invalid", message: `invalid output: ${message}` };
  // the same meaning whoever answered: OpenAI and Azure (`code`, `type`), Anthropic (`type`, the body's
  // `error.type`: overloaded_error on its 529), Ollama (`status_code`)
  const status = typeof e.status === "number" ? e.status : typeof e.status_code === "number" ? e.status_code : undefined;
  if (e.name === "ContextOverflowError") return { ...(status ? { status } : {}), class: "fatal", code: "context_length_exceeded", message };
  let code = typeof e.code === "string" ? e.code : (e.type ?? e.error?.error?.type ?? e.error?.type ?? undefined);
  if (status !== undefined) {
    // no money left is not a rate limit: asking again will not help, and the provider is unusable (its breaker counts it)
    if (NO_CREDIT.test(`${code ?? ""} ${e.type ?? ""} ${message}`) && status !== 500) code = "insufficient_quota";
    const base = { status, ...(code ? { code } : {}), message };
    if (code === "insufficient_quota") return { ...base, class: "fatal" };
    if (CONTEXT_LENGTH.test(`${code ?? ""} ${message}`)) return { ...base, class: "fatal" };
    if (status === 429 || status === 408 || status === 409 || status >= 500) {
      const retryAfterMs = retryAfterOf(e.headers, now);
      return { ...base, class: "transient", ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { ...base, class: "fatal" };
  }
  if (e.name === "TimeoutError" || e.name === "AbortError" || /timed out|timeout/i.test(message)) return { class: "transient", message: `timeout: ${message}` };
  if (e.name === "SyntaxError" || CUT_STREAM.test(message)) return { class: "transient", message: `malformed response: ${message}` };
  const chain = [e, e.cause, e.cause?.cause].filter(Boolean) as ErrorLike[];
  if (chain.some((c) => TRANSIENT_NETWORK.test(`${c.code ?? ""} ${c.message ?? ""}`))) return { class: "transient", message: `connection: ${message}` };
  return { class: "fatal", message };
}

export interface BackoffPolicy {
  /** Waits before attempts 2, 3, 4, 5 (ms). */
  delaysMs: readonly number[];
  /** Most attempts on one tier. */
  maxAttempts: number;
  /** Most waiting in one agent step, across tiers (ms). */
  maxWaitMs: number;
  /** Up to this share of the delay is added at random. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { delaysMs: [1000, 2000, 4000, 8000], maxAttempts: 5, maxWaitMs: 30_000, jitter: 0.2 };

/**
 * How long to wait before the next attempt on the same tier, or null to give up on the
 * tier: the attempt budget is spent, or the wait would pass the step's waiting cap.
 * Retry-After is honoured when longer than the backoff, within the cap.
 */
export function nextDelay(policy: BackoffPolicy, attempt: number, waitedMs: number, retryAfterMs: number | undefined, random = Math.random): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const base = policy.delaysMs[Math.min(attempt - 1, policy.delaysMs.length - 1)]!;
  const delay = Math.max(Math.round(base * (1 + policy.jitter * random())), retryAfterMs ?? 0);
  return waitedMs + delay <= policy.maxWaitMs ? delay : null;
}
