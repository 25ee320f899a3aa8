// Over 300 lines: startScriptedOpenAI is one closure over the server's queues, responders, sockets and recorded requests (routing, faults, waits); per-API rendering, protocol details and types live in scripted-openai/.
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
import {
  agentOf,
  apiOfPath,
  chatRoute,
  flattenHeaders,
  isObject,
  jsonRendered,
  noScriptFault,
  pathOf,
  randomId,
  readBody,
} from "./scripted-openai/protocol.js";
import { renderers } from "./scripted-openai/render.js";
import type { ApiError, RecordedRequest, Rendered, Reply, Responder, ScriptedApi, ScriptedOpenAIOptions, ScriptedServer } from "./scripted-openai/types.js";

export type { Fault, RecordedRequest, Reply, Responder, ScriptedApi, ScriptedOpenAIOptions, ScriptedServer, ScriptedUsage } from "./scripted-openai/types.js";

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

  async function answer(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, requestChars: number, reply: Reply): Promise<void> {
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
  const { renderAnswer, renderMalformed, statusError } = renderers(requestId);

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
