/**
 * A scripted LLM HTTP server for tests, benchmarks and evals: OpenAI-compatible, and also
 * Azure OpenAI, Anthropic Messages and Ollama native chat, each chosen by route, so one
 * server instance can stand in for any provider.
 *
 * The LLM is the only stand-in in this project: the real LangChain clients talk to this
 * server over real HTTP on 127.0.0.1:
 * - `ChatOpenAI` (@langchain/openai): `configuration: { baseURL: server.url }`.
 * - `AzureChatOpenAI` (@langchain/openai): `azureOpenAIEndpoint: server.origin` plus
 *   `azureOpenAIApiDeploymentName`, `azureOpenAIApiVersion`, `azureOpenAIApiKey`
 *   (or `azureOpenAIBasePath: `${server.origin}/openai/deployments``).
 * - `ChatAnthropic` (@langchain/anthropic): `anthropicApiUrl: server.origin`.
 * - `ChatOllama` (@langchain/ollama): `baseUrl: server.origin`.
 *
 * Endpoints (`api` is recorded on each request):
 * - `POST /v1/chat/completions` (also `/chat/completions`), stream or not: api "openai".
 * - `POST /openai/deployments/<deployment>/chat/completions?api-version=…`: api "azure",
 *   answered exactly like OpenAI; the recorded `model` is the body's model, else the deployment.
 * - `POST /v1/messages`: api "anthropic" (Messages API; `stream: true` gives Anthropic SSE events).
 * - `POST /api/chat`: api "ollama" (NDJSON stream unless `stream: false`).
 * - `GET /v1/models`, `GET /api/tags`, `GET /api/version` (not recorded).
 *
 * Each chat request is attributed to an *agent*:
 * - openai/azure: `response_format.json_schema.name`, else the first tool's function name;
 * - anthropic: the forced `tool_choice.name` (type "tool"), else the first tool's `name`,
 *   else the `title` of the structured-output JSON schema (`output_config.format.schema` or
 *   `output_format.schema`);
 * - ollama: `format.title` when `format` is a JSON-schema object, else the first tool's
 *   function name;
 * else `null` (plain chat). The answer is the next queued reply for that agent (FIFO, see
 * `script`), else the agent's responder (`setResponder`), else `defaultResponder`, else
 * HTTP 500 with the message `scripted server: no script for agent "<name>"` so a test can
 * never pass by accident when its script runs out. Queues and responders are shared by all
 * APIs: the agent name is the only key.
 *
 * Every fault works on every route, rendered in that API's own shape (error bodies, SSE or
 * NDJSON). Every chat request (faulted ones included) is recorded in `requests` in arrival
 * order. `close()` destroys open sockets, so `hang` faults never keep the process alive.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

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

const KNOWN_MODELS = ["gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano", "gpt-4o-mini", "gpt-4o"];

const SCHEMA_INVALID_JSON = { unexpected: true };

/** Thrown internally when a hang/latency wait is cut short by the client or by close(). */
class Gone extends Error {}

/** A complete response, before it is written (so `truncated` can cut any of them). */
interface Rendered {
  status: number;
  headers: Record<string, string>;
  /** Written one after the other (SSE events, NDJSON lines, or one JSON body). */
  chunks: string[];
}

interface ApiError {
  status: number;
  message: string;
  /** openai/azure: error.type; anthropic: error.type. */
  type: string;
  /** openai/azure only. */
  code: string | null;
  headers: Record<string, string>;
}

export async function startScriptedOpenAI(opts: ScriptedOpenAIOptions = {}): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const queues = new Map<string | null, Reply[]>();
  const responders = new Map<string | null, Responder>();
  const sockets = new Set<Socket>();
  /** Callbacks that end pending waits (hang, latency) when the server closes. */
  const waiters = new Set<() => void>();
  const seenModels = new Set<string>();
  let closed = false;
  let seq = 0;

  /** The next answer for a request, or null when nothing is scripted. */
  async function nextReply(rec: RecordedRequest): Promise<Reply | null> {
    const queue = queues.get(rec.agent);
    const queued = queue?.shift();
    if (queued !== undefined) return queued;
    const responder = responders.get(rec.agent) ?? opts.defaultResponder;
    if (responder) return await responder(rec);
    return null;
  }

  /** Resolves after `ms`, rejects with Gone if the client goes away or the server closes. */
  function wait(req: IncomingMessage, ms: number | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error): void => {
        if (timer) clearTimeout(timer);
        waiters.delete(onServerClose);
        req.socket.off("close", onSocketClose);
        if (err) reject(err);
        else resolve();
      };
      const onSocketClose = (): void => done(new Gone("client went away"));
      const onServerClose = (): void => done(new Gone("server closed"));
      if (closed || req.socket.destroyed) {
        done(new Gone("gone"));
        return;
      }
      waiters.add(onServerClose);
      req.socket.once("close", onSocketClose);
      if (ms !== null) timer = setTimeout(() => done(), ms);
    });
  }

  const server = createServer((req, res) => {
    const api = apiOfPath(pathOf(req));
    handle(req, res).catch((err: unknown) => {
      if (err instanceof Gone) return;
      if (!res.headersSent && !res.destroyed) {
        sendError(res, api, {
          status: 500,
          message: `scripted server: internal error: ${err instanceof Error ? err.message : String(err)}`,
          type: api === "anthropic" ? "api_error" : "server_error",
          code: null,
          headers: {},
        });
      } else {
        res.destroy();
      }
    });
  });

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const rawBody = await readBody(req);

    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
      const models = [...new Set([...KNOWN_MODELS, ...seenModels])];
      sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1700000000, owned_by: "scripted" })),
      });
      return;
    }
    if (req.method === "GET" && path === "/api/tags") {
      sendJson(res, 200, {
        models: [...seenModels].map((name) => ({ name, model: name, modified_at: new Date(0).toISOString(), size: 0, digest: "scripted" })),
      });
      return;
    }
    if (req.method === "GET" && path === "/api/version") {
      sendJson(res, 200, { version: "0.12.0" });
      return;
    }

    const route = chatRoute(req.method, path);
    if (!route) {
      const api = apiOfPath(path);
      sendError(res, api, {
        status: 404,
        message: `scripted server: unknown route ${req.method ?? "?"} ${path}`,
        type: api === "anthropic" ? "not_found_error" : "invalid_request_error",
        code: "unknown_url",
        headers: {},
      });
      return;
    }

    let body: unknown;
    let bodyOk = true;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = rawBody;
      bodyOk = false;
    }
    const b = (bodyOk && isObject(body) ? body : {}) as Record<string, unknown>;
    const bodyModel = typeof b["model"] === "string" ? b["model"] : "";
    const rec: RecordedRequest = {
      api: route.api,
      path,
      agent: agentOf(route.api, b),
      body,
      headers: flattenHeaders(req),
      // Ollama streams unless told not to; the others stream only when asked.
      stream: route.api === "ollama" ? b["stream"] !== false : b["stream"] === true,
      model: bodyModel || (route.deployment ?? ""),
      at: Date.now(),
    };
    requests.push(rec);
    if (rec.model) seenModels.add(rec.model);

    if (!bodyOk || !isObject(body)) {
      sendError(res, rec.api, {
        status: 400,
        message: "scripted server: request body is not a JSON object",
        type: "invalid_request_error",
        code: null,
        headers: {},
      });
      return;
    }

    let reply = await nextReply(rec);
    // Follow latency faults: wait, then answer `then` or the next answer.
    while (reply && "fault" in reply && reply.fault.kind === "latency") {
      const { ms, then } = reply.fault;
      await wait(req, ms);
      reply = then ?? (await nextReply(rec));
    }

    await answer(req, res, rec, rawBody.length, reply ?? noScriptFault(rec));
  }

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    rec: RecordedRequest,
    requestChars: number,
    reply: Reply,
  ): Promise<void> {
    if ("fault" in reply) {
      const f = reply.fault;
      switch (f.kind) {
        case "status": {
          const headers: Record<string, string> = {};
          if (f.retryAfterSeconds !== undefined) headers["retry-after"] = String(f.retryAfterSeconds);
          if (f.retryAfterMs !== undefined) headers["retry-after-ms"] = String(f.retryAfterMs);
          Object.assign(headers, f.headers ?? {});
          sendError(res, rec.api, statusError(rec, f.status, f.code, f.message, headers));
          return;
        }
        case "hang":
          await wait(req, null); // only ends by Gone (client abort or close())
          return;
        case "reset":
          req.socket.destroy();
          return;
        case "malformed":
          write(res, renderMalformed(rec));
          return;
        case "schema_invalid":
          return answer(req, res, rec, requestChars, { json: SCHEMA_INVALID_JSON });
        case "truncated": {
          let full = f.then ?? (await nextReply(rec)) ?? { content: "This answer is cut off halfway through." };
          if ("fault" in full) full = { content: "This answer is cut off halfway through." };
          const rendered = renderAnswer(rec, requestChars, full);
          const bytes = Buffer.from(rendered.chunks.join(""), "utf8");
          res.writeHead(200, { ...rendered.headers, "content-length": String(bytes.length) });
          res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => {
            req.socket.destroy();
          });
          return;
        }
        case "latency":
          // Only reachable through a nested `then`; handle() unwraps top-level latency.
          await wait(req, f.ms);
          return answer(req, res, rec, requestChars, f.then ?? (await nextReply(rec)) ?? noScriptFault(rec));
      }
    }
    write(res, renderAnswer(rec, requestChars, reply));
  }

  /** The success answer for a json/content reply, in the request's API and stream mode. */
  function renderAnswer(rec: RecordedRequest, requestChars: number, reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage }): Rendered {
    switch (rec.api) {
      case "openai":
      case "azure":
        return renderOpenAI(rec, requestChars, reply);
      case "anthropic":
        return renderAnthropic(rec, requestChars, reply);
      case "ollama":
        return renderOllama(rec, requestChars, reply);
    }
  }

  function renderOpenAI(rec: RecordedRequest, requestChars: number, reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage }): Rendered {
    const b = rec.body as Record<string, unknown>;
    const tools = Array.isArray(b["tools"]) ? (b["tools"] as unknown[]) : [];
    const useTools = "json" in reply && tools.length > 0 && b["tool_choice"] !== "none";

    let content: string | null;
    let toolCall: { id: string; name: string; arguments: string } | null = null;
    if ("json" in reply) {
      const text = JSON.stringify(reply.json) ?? "null";
      if (useTools) {
        content = null;
        toolCall = { id: `call_${randomId()}`, name: reply.tool ?? toolNameOf(b) ?? "unknown", arguments: text };
      } else {
        content = text;
      }
    } else {
      content = reply.content;
    }
    const finishReason = toolCall ? "tool_calls" : "stop";
    const answerChars = (content?.length ?? 0) + (toolCall ? toolCall.arguments.length + toolCall.name.length : 0);
    const usage = makeUsage(reply.usage, requestChars, answerChars);
    const id = `chatcmpl-${randomId()}`;
    const created = Math.floor(Date.now() / 1000);
    const model = rec.model || "gpt-4.1-mini";

    if (!rec.stream) {
      const message: Record<string, unknown> = { role: "assistant", content, refusal: null, annotations: [] };
      if (toolCall) {
        message["tool_calls"] = [
          { id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: toolCall.arguments } },
        ];
      }
      return jsonRendered(200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage,
        service_tier: "default",
        system_fingerprint: "fp_scripted",
      }, { "x-request-id": requestId() });
    }

    // Streaming: SSE chunks in chat.completion.chunk shape.
    const includeUsage = isObject(b["stream_options"]) && b["stream_options"]["include_usage"] === true;
    const base = { id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_scripted", service_tier: "default" };
    const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
      `data: ${JSON.stringify({
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      })}\n\n`;

    const chunks: string[] = [];
    if (toolCall) {
      chunks.push(
        chunk(
          {
            role: "assistant",
            content: null,
            tool_calls: [{ index: 0, id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: "" } }],
          },
          null,
        ),
      );
      for (const piece of pieces(toolCall.arguments)) {
        chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
      }
    } else {
      chunks.push(chunk({ role: "assistant", content: "", refusal: null }, null));
      for (const piece of pieces(content ?? "")) chunks.push(chunk({ content: piece }, null));
    }
    chunks.push(chunk({}, finishReason));
    if (includeUsage) chunks.push(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    chunks.push("data: [DONE]\n\n");
    return { status: 200, headers: { ...sseHeaders(), "x-request-id": requestId() }, chunks };
  }

  function renderAnthropic(rec: RecordedRequest, requestChars: number, reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage }): Rendered {
    const b = rec.body as Record<string, unknown>;
    const tools = Array.isArray(b["tools"]) ? (b["tools"] as unknown[]) : [];
    const choice = b["tool_choice"];
    const useTools = "json" in reply && tools.length > 0 && !(isObject(choice) && choice["type"] === "none");

    let block: { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown };
    if ("json" in reply) {
      if (useTools) {
        block = { type: "tool_use", id: `toolu_${randomId()}`, name: reply.tool ?? anthropicToolNameOf(b) ?? "unknown", input: reply.json };
      } else {
        block = { type: "text", text: JSON.stringify(reply.json) ?? "null" };
      }
    } else {
      block = { type: "text", text: reply.content };
    }
    const answerText = block.type === "text" ? block.text : (JSON.stringify(block.input) ?? "null");
    const u = makeUsage(reply.usage, requestChars, answerText.length + (block.type === "tool_use" ? block.name.length : 0));
    const cached = u.prompt_tokens_details.cached_tokens;
    const usage = {
      input_tokens: Math.max(0, u.prompt_tokens - cached),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: cached,
      output_tokens: u.completion_tokens,
      service_tier: "standard",
    };
    const stopReason = block.type === "tool_use" ? "tool_use" : "end_turn";
    const id = `msg_${randomId()}`;
    const model = rec.model || "claude-sonnet-4-5";
    const headers = { "request-id": `req_${randomId()}`, "anthropic-organization-id": "scripted-org" };

    if (!rec.stream) {
      return jsonRendered(200, {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [block],
        stop_reason: stopReason,
        stop_sequence: null,
        usage,
      }, headers);
    }

    const event = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const chunks: string[] = [
      event("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }),
    ];
    if (block.type === "tool_use") {
      chunks.push(event("content_block_start", { index: 0, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }));
      chunks.push(event("ping", {}));
      for (const piece of pieces(answerText)) {
        chunks.push(event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: piece } }));
      }
    } else {
      chunks.push(event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }));
      chunks.push(event("ping", {}));
      for (const piece of pieces(block.text)) {
        chunks.push(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } }));
      }
    }
    chunks.push(event("content_block_stop", { index: 0 }));
    chunks.push(
      event("message_delta", {
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      }),
    );
    chunks.push(event("message_stop", {}));
    return { status: 200, headers: { ...sseHeaders(), ...headers }, chunks };
  }

  function renderOllama(rec: RecordedRequest, requestChars: number, reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage }): Rendered {
    const b = rec.body as Record<string, unknown>;
    const tools = Array.isArray(b["tools"]) ? (b["tools"] as unknown[]) : [];
    const hasFormat = b["format"] !== undefined && b["format"] !== null && b["format"] !== "";
    const useTools = "json" in reply && tools.length > 0 && !hasFormat;

    let content: string;
    let toolCall: { name: string; arguments: unknown } | null = null;
    if ("json" in reply) {
      if (useTools) {
        content = "";
        toolCall = { name: reply.tool ?? firstToolName(b) ?? "unknown", arguments: reply.json };
      } else {
        content = JSON.stringify(reply.json) ?? "null";
      }
    } else {
      content = reply.content;
    }
    const answerChars = content.length + (toolCall ? (JSON.stringify(toolCall.arguments) ?? "").length + toolCall.name.length : 0);
    const u = makeUsage(reply.usage, requestChars, answerChars);
    const model = rec.model || "llama3.2";
    const createdAt = (): string => new Date().toISOString();
    const final = {
      done: true,
      done_reason: "stop",
      total_duration: 123_000_000,
      load_duration: 1_000_000,
      prompt_eval_count: u.prompt_tokens,
      prompt_eval_duration: 20_000_000,
      eval_count: u.completion_tokens,
      eval_duration: 100_000_000,
    };
    const toolCalls = toolCall ? [{ function: { index: 0, name: toolCall.name, arguments: toolCall.arguments } }] : undefined;
    const headers = { "content-type": rec.stream ? "application/x-ndjson" : "application/json; charset=utf-8" };

    if (!rec.stream) {
      const message: Record<string, unknown> = { role: "assistant", content };
      if (toolCalls) message["tool_calls"] = toolCalls;
      return jsonRendered(200, { model, created_at: createdAt(), message, ...final }, headers);
    }
    const line = (v: unknown): string => `${JSON.stringify(v)}\n`;
    const chunks: string[] = [];
    if (toolCalls) {
      chunks.push(line({ model, created_at: createdAt(), message: { role: "assistant", content: "", tool_calls: toolCalls }, done: false }));
    } else {
      for (const piece of pieces(content)) {
        chunks.push(line({ model, created_at: createdAt(), message: { role: "assistant", content: piece }, done: false }));
      }
    }
    chunks.push(line({ model, created_at: createdAt(), message: { role: "assistant", content: "" }, ...final }));
    return { status: 200, headers, chunks };
  }

  function renderMalformed(rec: RecordedRequest): Rendered {
    switch (rec.api) {
      case "openai":
      case "azure":
        if (rec.stream) {
          return {
            status: 200,
            headers: sseHeaders(),
            chunks: [
              `data: {"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops"\n\n`,
              "data: [DONE]\n\n",
            ],
          };
        }
        return {
          status: 200,
          headers: { "content-type": "application/json", "x-request-id": requestId() },
          chunks: [`{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"oops`],
        };
      case "anthropic":
        if (rec.stream) {
          return {
            status: 200,
            headers: { ...sseHeaders(), "request-id": `req_${randomId()}` },
            chunks: [`event: message_start\ndata: {"type":"message_start","message":{"id":"msg_malformed","type":"message"\n\n`],
          };
        }
        return {
          status: 200,
          headers: { "content-type": "application/json", "request-id": `req_${randomId()}` },
          chunks: [`{"id":"msg_malformed","type":"message","role":"assistant","content":[{"type":"text","text":"oops`],
        };
      case "ollama":
        if (rec.stream) {
          // A broken line and no `done` line: the ollama client skips the line (console.warn) and
          // then finds the stream ended without `done`.
          return {
            status: 200,
            headers: { "content-type": "application/x-ndjson" },
            chunks: [`{"model":"${rec.model}","message":{"role":"assistant","content":"oops\n`],
          };
        }
        return {
          status: 200,
          headers: { "content-type": "application/json; charset=utf-8" },
          chunks: [`{"model":"${rec.model}","message":{"role":"assistant","content":"oops`],
        };
    }
  }

  /** The error for a scripted status, with the API's default type/code/message. */
  function statusError(rec: RecordedRequest, status: number, code: string | undefined, message: string | undefined, headers: Record<string, string>): ApiError {
    switch (rec.api) {
      case "openai":
      case "azure": {
        const c = code ?? defaultCode(status);
        return { status, message: message ?? defaultMessage(status, c), type: errorType(status, c), code: c, headers };
      }
      case "anthropic":
        return { status, message: message ?? anthropicMessage(status), type: code ?? anthropicErrorType(status), code: null, headers };
      case "ollama":
        return { status, message: message ?? ollamaMessage(status, rec.model), type: "", code: null, headers };
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("scripted server: no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  const url = `${origin}/v1`;

  function requestId(): string {
    seq += 1;
    return `req_scripted_${seq}`;
  }

  function write(res: ServerResponse, r: Rendered): void {
    res.writeHead(r.status, r.headers);
    for (const c of r.chunks.slice(0, -1)) res.write(c);
    res.end(r.chunks[r.chunks.length - 1] ?? "");
  }

  function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    write(res, jsonRendered(status, payload, { "x-request-id": requestId(), ...headers }));
  }

  function sendError(res: ServerResponse, api: ScriptedApi, e: ApiError): void {
    switch (api) {
      case "openai":
      case "azure":
        sendJson(res, e.status, { error: { message: e.message, type: e.type, param: null, code: e.code } }, e.headers);
        return;
      case "anthropic":
        write(res, jsonRendered(e.status, { type: "error", error: { type: e.type, message: e.message } }, { "request-id": `req_${randomId()}`, ...e.headers }));
        return;
      case "ollama":
        write(res, jsonRendered(e.status, { error: e.message }, { "content-type": "application/json; charset=utf-8", ...e.headers }));
        return;
    }
  }

  return {
    url,
    origin,
    requests,
    requestsFor: (agent) => requests.filter((r) => r.agent === agent),
    script(agent, ...replies) {
      const queue = queues.get(agent) ?? [];
      queue.push(...replies);
      queues.set(agent, queue);
    },
    setResponder(agent, r) {
      responders.set(agent, r);
    },
    pending: (agent) => queues.get(agent)?.length ?? 0,
    reset() {
      requests.length = 0;
      queues.clear();
      responders.clear();
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const w of [...waiters]) w();
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
  };
}

// ---------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{ function: { name } }` -> name (a tool or a forced tool_choice). */
function functionName(v: unknown): string | null {
  return isObject(v) && isObject(v["function"]) && typeof v["function"]["name"] === "string" ? v["function"]["name"] : null;
}

function firstToolName(body: Record<string, unknown>): string | null {
  const tools = body["tools"];
  return Array.isArray(tools) ? functionName(tools[0]) : null;
}

function agentOf(api: ScriptedApi, body: Record<string, unknown>): string | null {
  switch (api) {
    case "openai":
    case "azure": {
      const rf = body["response_format"];
      if (isObject(rf) && isObject(rf["json_schema"]) && typeof rf["json_schema"]["name"] === "string") {
        return rf["json_schema"]["name"];
      }
      return firstToolName(body);
    }
    case "anthropic": {
      const choice = body["tool_choice"];
      if (isObject(choice) && choice["type"] === "tool" && typeof choice["name"] === "string") return choice["name"];
      const first = anthropicFirstToolName(body);
      if (first !== null) return first;
      const oc = body["output_config"];
      const formats = [isObject(oc) ? oc["format"] : undefined, body["output_format"]];
      for (const f of formats) {
        if (isObject(f) && isObject(f["schema"]) && typeof f["schema"]["title"] === "string") return f["schema"]["title"];
      }
      return null;
    }
    case "ollama": {
      const format = body["format"];
      if (isObject(format) && typeof format["title"] === "string") return format["title"];
      return firstToolName(body);
    }
  }
}

function anthropicFirstToolName(body: Record<string, unknown>): string | null {
  const tools = body["tools"];
  const first: unknown = Array.isArray(tools) ? tools[0] : undefined;
  return isObject(first) && typeof first["name"] === "string" ? first["name"] : null;
}

/** Anthropic: the tool to call for a json reply: the forced tool_choice, else the first tool. */
function anthropicToolNameOf(body: Record<string, unknown>): string | null {
  const choice = body["tool_choice"];
  if (isObject(choice) && choice["type"] === "tool" && typeof choice["name"] === "string") return choice["name"];
  return anthropicFirstToolName(body);
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

/** The API a path belongs to (for rendering errors, even on unknown routes). */
function apiOfPath(path: string): ScriptedApi {
  if (path.startsWith("/openai/")) return "azure";
  if (path === "/v1/messages" || path.startsWith("/v1/messages/")) return "anthropic";
  if (path.startsWith("/api/")) return "ollama";
  return "openai";
}

const AZURE_CHAT = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/;

function chatRoute(method: string | undefined, path: string): { api: ScriptedApi; deployment?: string } | null {
  if (method !== "POST") return null;
  if (path === "/v1/chat/completions" || path === "/chat/completions") return { api: "openai" };
  const azure = AZURE_CHAT.exec(path);
  if (azure) return { api: "azure", deployment: decodeURIComponent(azure[1] ?? "") };
  if (path === "/v1/messages") return { api: "anthropic" };
  if (path === "/api/chat") return { api: "ollama" };
  return null;
}

function jsonRendered(status: number, payload: unknown, headers: Record<string, string> = {}): Rendered {
  const text = JSON.stringify(payload);
  return {
    status,
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers },
    chunks: [text],
  };
}

/** The tool to call for a json reply: the forced tool_choice, else the first tool. */
function toolNameOf(body: Record<string, unknown>): string | null {
  return functionName(body["tool_choice"]) ?? firstToolName(body);
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function makeUsage(given: ScriptedUsage | undefined, requestChars: number, answerChars: number) {
  const prompt = given?.prompt_tokens ?? Math.max(1, Math.ceil(requestChars / 4));
  const completion = given?.completion_tokens ?? Math.max(1, Math.ceil(answerChars / 4));
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: given?.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: given?.reasoning_tokens ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function defaultCode(status: number): string | null {
  if (status === 401) return "invalid_api_key";
  if (status === 429) return "rate_limit_exceeded";
  return null;
}

function errorType(status: number, code: string | null): string {
  if (code === "insufficient_quota") return "insufficient_quota";
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function defaultMessage(status: number, code: string | null): string {
  if (code === "insufficient_quota") {
    return "You exceeded your current quota, please check your plan and billing details.";
  }
  if (status === 401) return "Incorrect API key provided: test. You can find your API key at https://platform.openai.com/account/api-keys.";
  // No "try again in Ns" hint: LangChain's AsyncCaller parses that from the message, so the
  // Retry-After header stays the only retry hint unless a test scripts a message with one.
  if (status === 429) return "Rate limit reached for gpt-4.1-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.";
  if (status === 503) return "The server is overloaded or not ready yet.";
  if (status >= 500) return "The server had an error while processing your request. Sorry about that!";
  return `scripted server: scripted status ${status}`;
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function anthropicErrorType(status: number): string {
  return ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

function anthropicMessage(status: number): string {
  // Avoid the words "tool" (400) and "prompt is too long": @langchain/anthropic's error wrapper
  // reclassifies 400s carrying them (INVALID_TOOL_RESULTS, ContextOverflowError).
  switch (status) {
    case 401:
      return "invalid x-api-key";
    case 403:
      return "Your API key does not have permission to use the specified resource.";
    case 404:
      return "model: not found";
    case 413:
      return "Request exceeds the maximum allowed number of bytes.";
    case 429:
      return "This request would exceed the rate limit for your organization of 50 requests per minute.";
    case 500:
      return "Internal server error";
    case 529:
      return "Overloaded";
    default:
      return `scripted server: scripted status ${status}`;
  }
}

function ollamaMessage(status: number, model: string): string {
  switch (status) {
    case 401:
      return "unauthorized";
    case 404:
      return `model "${model}" not found, try pulling it first`;
    case 429:
      return "too many requests";
    case 503:
      return "server busy, please try again.  maximum pending requests exceeded";
    case 500:
      return "llama runner process has terminated: exit status 2";
    default:
      return `scripted server: scripted status ${status}`;
  }
}

function noScriptFault(rec: RecordedRequest): Reply {
  const none =
    rec.api === "anthropic"
      ? "null (no forced tool, no tools, no output schema title)"
      : rec.api === "ollama"
        ? "null (no format title, no tools)"
        : "null (no json_schema name, no tools)";
  return {
    fault: {
      kind: "status",
      status: 500,
      code: "no_script",
      message: `scripted server: no script for agent ${rec.agent === null ? none : `"${rec.agent}"`}`,
    },
  };
}

function sseHeaders(): Record<string, string> {
  return { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" };
}

/** Split text into a few chunks (about 3 to 8) for streaming. */
function pieces(text: string): string[] {
  const chars = Array.from(text); // code points, so surrogate pairs stay whole
  if (chars.length === 0) return [];
  const size = Math.max(4, Math.ceil(chars.length / 6));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8);
}
