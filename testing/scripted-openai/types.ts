/** The scripted server's public types (scripts, faults, recorded requests) and its internal response shapes. */
export interface ScriptedUsage {
  /** All input tokens. Anthropic: reported as `input_tokens` = prompt_tokens - cached_tokens
   *  plus `cache_read_input_tokens` = cached_tokens; Ollama: `prompt_eval_count`. */
  prompt_tokens: number;
  /** Anthropic: `output_tokens`; Ollama: `eval_count`. */
  completion_tokens: number;
  /** Reported as `usage.prompt_tokens_details.cached_tokens` (default 0). */
  cached_tokens?: number;
  /** Reported as `usage.completion_tokens_details.reasoning_tokens` (default 0; OpenAI/Azure only). */
  reasoning_tokens?: number;
}

export type ScriptedApi = "openai" | "azure" | "anthropic" | "ollama";

export type Fault =
  /** HTTP error in the API's own error shape:
   *  - openai/azure: `{ error: { message, type, param, code } }`, header `x-request-id`.
   *    Default code: 401 -> "invalid_api_key", 429 -> "rate_limit_exceeded", else null.
   *  - anthropic: `{ type: "error", error: { type, message } }`, header `request-id`. `code`
   *    overrides `error.type`; default type by status: 400 invalid_request_error,
   *    401 authentication_error, 403 permission_error, 404 not_found_error,
   *    413 request_too_large, 429 rate_limit_error, 500 api_error, 529 overloaded_error.
   *  - ollama: `{ error: message }` (`code` unused).
   *  `retryAfterSeconds` sets the `retry-after` header, `retryAfterMs` the `retry-after-ms`
   *  header (as Azure OpenAI sends), `headers` any extra response headers (e.g. Anthropic's
   *  `anthropic-ratelimit-requests-remaining`). */
  | {
      kind: "status";
      status: number;
      code?: string;
      message?: string;
      retryAfterSeconds?: number;
      retryAfterMs?: number;
      headers?: Record<string, string>;
    }
  /** Wait `ms`, then answer `then` (or, without `then`, the next answer for the agent). */
  | { kind: "latency"; ms: number; then?: Reply }
  /** Never answer (until the client aborts or the server closes). */
  | { kind: "hang" }
  /** Destroy the socket without any response. */
  | { kind: "reset" }
  /** 200 with a body that is not valid JSON (stream: an SSE data line / NDJSON line that is not valid JSON). */
  | { kind: "malformed" }
  /** 200 with valid JSON content `{"unexpected":true}` that does not match the requested schema. */
  | { kind: "schema_invalid" }
  /** 200 whose headers declare the full `content-length` of a normal answer (the next answer
   *  for the agent, else a text answer), but the connection is cut after half the body. */
  | { kind: "truncated"; then?: Reply };

export type Reply =
  /** The structured answer: message content for a structured-output request (`response_format`,
   *  Anthropic `output_config`, Ollama `format`), or a tool call's arguments when the request used
   *  tools (`tool` picks the tool; default: the forced `tool_choice`, else the first tool). */
  | { json: unknown; usage?: ScriptedUsage; tool?: string }
  /** Plain assistant text. */
  | { content: string; usage?: ScriptedUsage }
  | { fault: Fault };

export interface RecordedRequest {
  /** Which API the route belongs to. */
  api: ScriptedApi;
  /** The request path without the query string, e.g. `/v1/messages`. */
  path: string;
  agent: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the raw request body, as sent by the client
  body: any;
  /** Lower-cased request headers (the API key arrives as `authorization` (OpenAI, "Bearer …"),
   *  `api-key` (Azure) or `x-api-key` (Anthropic)). */
  headers: Record<string, string>;
  stream: boolean;
  model: string;
  /** Date.now() at arrival. */
  at: number;
}

export type Responder = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface ScriptedServer {
  /** Like `http://127.0.0.1:PORT/v1`: use as the OpenAI `baseURL`. */
  url: string;
  /** Like `http://127.0.0.1:PORT` (no `/v1`): Anthropic `anthropicApiUrl`, Ollama `baseUrl`,
   *  Azure `azureOpenAIEndpoint`. */
  origin: string;
  requests: RecordedRequest[];
  requestsFor(agent: string | null): RecordedRequest[];
  /** Queue replies for an agent (`null`: requests with neither a structured-output schema nor tools). */
  script(agent: string | null, ...replies: Reply[]): void;
  setResponder(agent: string | null, r: Responder): void;
  /** Replies still queued for an agent (to assert a script was used up). */
  pending(agent: string | null): number;
  /** Forget recorded requests, queued replies and per-agent responders (keeps `defaultResponder`). */
  reset(): void;
  close(): Promise<void>;
}

export interface ScriptedOpenAIOptions {
  port?: number;
  defaultResponder?: Responder;
}

/** A complete response, before it is written (so `truncated` can cut any of them). */
export interface Rendered {
  status: number;
  headers: Record<string, string>;
  /** Written one after the other (SSE events, NDJSON lines, or one JSON body). */
  chunks: string[];
}

export interface ApiError {
  status: number;
  message: string;
  /** openai/azure: error.type; anthropic: error.type. */
  type: string;
  /** openai/azure only. */
  code: string | null;
  headers: Record<string, string>;
}
