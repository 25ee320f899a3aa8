/**
 * A scripted OpenAI-compatible HTTP server for tests, benchmarks and evals.
 *
 * The LLM is the only stand-in in this project: the real `ChatOpenAI` client
 * from `@langchain/openai` talks to this server over real HTTP on 127.0.0.1
 * (pass `server.url` as `configuration.baseURL`).
 *
 * Endpoints:
 * - `POST /v1/chat/completions`, with and without `stream: true`.
 * - `GET /v1/models`.
 *
 * Each chat request is attributed to an *agent*: `response_format.json_schema.name`,
 * else the first tool's function name, else `null` (plain chat). The answer is the
 * next queued reply for that agent (FIFO, see `script`), else the agent's responder
 * (`setResponder`), else `defaultResponder`, else HTTP 500 with the message
 * `scripted server: no script for agent "<name>"` so a test can never pass by
 * accident when its script runs out.
 *
 * Every chat request (faulted ones included) is recorded in `requests` in arrival order.
 * `close()` destroys open sockets, so `hang` faults never keep the process alive.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ScriptedUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Reported as `usage.prompt_tokens_details.cached_tokens` (default 0). */
  cached_tokens?: number;
  /** Reported as `usage.completion_tokens_details.reasoning_tokens` (default 0). */
  reasoning_tokens?: number;
}

export type Fault =
  /** HTTP error with OpenAI's error body `{ error: { message, type, param, code } }`.
   *  Default code: 401 -> "invalid_api_key", 429 -> "rate_limit_exceeded", else null.
   *  `retryAfterSeconds` sets the `Retry-After` header. */
  | { kind: "status"; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  /** Wait `ms`, then answer `then` (or, without `then`, the next answer for the agent). */
  | { kind: "latency"; ms: number; then?: Reply }
  /** Never answer (until the client aborts or the server closes). */
  | { kind: "hang" }
  /** Destroy the socket without any response. */
  | { kind: "reset" }
  /** 200 with a body that is not valid JSON (stream: an SSE data line that is not valid JSON). */
  | { kind: "malformed" }
  /** 200 with valid JSON content `{"unexpected":true}` that does not match the requested schema. */
  | { kind: "schema_invalid" };

export type Reply =
  /** The structured answer: message content for `response_format`, or a tool call's
   *  arguments when the request used tools (`tool` picks the tool; default: the
   *  `tool_choice` function, else the first tool). */
  | { json: unknown; usage?: ScriptedUsage; tool?: string }
  /** Plain assistant text. */
  | { content: string; usage?: ScriptedUsage }
  | { fault: Fault };

export interface RecordedRequest {
  agent: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the raw request body, as sent by the client
  body: any;
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
  requests: RecordedRequest[];
  requestsFor(agent: string | null): RecordedRequest[];
  /** Queue replies for an agent (`null`: requests with neither json_schema nor tools). */
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
    handle(req, res).catch((err: unknown) => {
      if (err instanceof Gone) return;
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, {
          message: `scripted server: internal error: ${err instanceof Error ? err.message : String(err)}`,
          type: "server_error",
          code: null,
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
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const rawBody = await readBody(req);

    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
      const models = [...new Set([...KNOWN_MODELS, ...seenModels])];
      sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1700000000, owned_by: "scripted" })),
      });
      return;
    }
    if (!(req.method === "POST" && (path === "/v1/chat/completions" || path === "/chat/completions"))) {
      sendError(res, 404, {
        message: `scripted server: unknown route ${req.method ?? "?"} ${path}`,
        type: "invalid_request_error",
        code: "unknown_url",
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
    const rec: RecordedRequest = {
      agent: agentOf(b),
      body,
      headers: flattenHeaders(req),
      stream: b["stream"] === true,
      model: typeof b["model"] === "string" ? b["model"] : "",
      at: Date.now(),
    };
    requests.push(rec);
    if (rec.model) seenModels.add(rec.model);

    if (!bodyOk || !isObject(body)) {
      sendError(res, 400, {
        message: "scripted server: request body is not a JSON object",
        type: "invalid_request_error",
        code: null,
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
          const code = f.code ?? defaultCode(f.status);
          const headers: Record<string, string> = {};
          if (f.retryAfterSeconds !== undefined) headers["retry-after"] = String(f.retryAfterSeconds);
          sendError(
            res,
            f.status,
            {
              message: f.message ?? defaultMessage(f.status, code),
              type: errorType(f.status, code),
              code,
            },
            headers,
          );
          return;
        }
        case "hang":
          await wait(req, null); // only ends by Gone (client abort or close())
          return;
        case "reset":
          req.socket.destroy();
          return;
        case "malformed":
          if (rec.stream) {
            res.writeHead(200, sseHeaders());
            res.write(`data: {"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops"\n\n`);
            res.end("data: [DONE]\n\n");
          } else {
            res.writeHead(200, { "content-type": "application/json", "x-request-id": requestId() });
            res.end(`{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"oops`);
          }
          return;
        case "schema_invalid":
          return answer(req, res, rec, requestChars, { json: SCHEMA_INVALID_JSON });
        case "latency":
          // Only reachable through a nested `then`; handle() unwraps top-level latency.
          await wait(req, f.ms);
          return answer(req, res, rec, requestChars, f.then ?? (await nextReply(rec)) ?? noScriptFault(rec));
      }
    }

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
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage,
        service_tier: "default",
        system_fingerprint: "fp_scripted",
      });
      return;
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

    res.writeHead(200, sseHeaders());
    if (toolCall) {
      res.write(
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
        res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
      }
    } else {
      res.write(chunk({ role: "assistant", content: "", refusal: null }, null));
      for (const piece of pieces(content ?? "")) res.write(chunk({ content: piece }, null));
    }
    res.write(chunk({}, finishReason));
    if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    res.end("data: [DONE]\n\n");
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
  const url = `http://127.0.0.1:${address.port}/v1`;

  function requestId(): string {
    seq += 1;
    return `req_scripted_${seq}`;
  }

  function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "x-request-id": requestId(),
      ...headers,
    });
    res.end(text);
  }

  function sendError(
    res: ServerResponse,
    status: number,
    error: { message: string; type: string; code: string | null },
    headers: Record<string, string> = {},
  ): void {
    sendJson(res, status, { error: { message: error.message, type: error.type, param: null, code: error.code } }, headers);
  }

  return {
    url,
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

function agentOf(body: Record<string, unknown>): string | null {
  const rf = body["response_format"];
  if (isObject(rf) && isObject(rf["json_schema"]) && typeof rf["json_schema"]["name"] === "string") {
    return rf["json_schema"]["name"];
  }
  return firstToolName(body);
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

function noScriptFault(rec: RecordedRequest): Reply {
  return {
    fault: {
      kind: "status",
      status: 500,
      code: "no_script",
      message: `scripted server: no script for agent ${rec.agent === null ? "null (no json_schema name, no tools)" : `"${rec.agent}"`}`,
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
