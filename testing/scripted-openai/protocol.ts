/** Per-API details of the scripted server: routes, agent attribution, usage, default error wording, streaming pieces. */
import type { IncomingMessage } from "node:http";
import type { RecordedRequest, Rendered, Reply, ScriptedApi, ScriptedUsage } from "./types.js";

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{ function: { name } }` -> name (a tool or a forced tool_choice). */
function functionName(v: unknown): string | null {
  return isObject(v) && isObject(v["function"]) && typeof v["function"]["name"] === "string" ? v["function"]["name"] : null;
}

export function firstToolName(body: Record<string, unknown>): string | null {
  const tools = body["tools"];
  return Array.isArray(tools) ? functionName(tools[0]) : null;
}

export function agentOf(api: ScriptedApi, body: Record<string, unknown>): string | null {
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
export function anthropicToolNameOf(body: Record<string, unknown>): string | null {
  const choice = body["tool_choice"];
  if (isObject(choice) && choice["type"] === "tool" && typeof choice["name"] === "string") return choice["name"];
  return anthropicFirstToolName(body);
}

export function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

/** The API a path belongs to (for rendering errors, even on unknown routes). */
export function apiOfPath(path: string): ScriptedApi {
  if (path.startsWith("/openai/")) return "azure";
  if (path === "/v1/messages" || path.startsWith("/v1/messages/")) return "anthropic";
  if (path.startsWith("/api/")) return "ollama";
  return "openai";
}

const AZURE_CHAT = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/;

export function chatRoute(method: string | undefined, path: string): { api: ScriptedApi; deployment?: string } | null {
  if (method !== "POST") return null;
  if (path === "/v1/chat/completions" || path === "/chat/completions") return { api: "openai" };
  const azure = AZURE_CHAT.exec(path);
  if (azure) return { api: "azure", deployment: decodeURIComponent(azure[1] ?? "") };
  if (path === "/v1/messages") return { api: "anthropic" };
  if (path === "/api/chat") return { api: "ollama" };
  return null;
}

export function jsonRendered(status: number, payload: unknown, headers: Record<string, string> = {}): Rendered {
  const text = JSON.stringify(payload);
  return {
    status,
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers },
    chunks: [text],
  };
}

/** The tool to call for a json reply: the forced tool_choice, else the first tool. */
export function toolNameOf(body: Record<string, unknown>): string | null {
  return functionName(body["tool_choice"]) ?? firstToolName(body);
}

export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function makeUsage(given: ScriptedUsage | undefined, requestChars: number, answerChars: number) {
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

export function defaultCode(status: number): string | null {
  if (status === 401) return "invalid_api_key";
  if (status === 429) return "rate_limit_exceeded";
  return null;
}

export function errorType(status: number, code: string | null): string {
  if (code === "insufficient_quota") return "insufficient_quota";
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function defaultMessage(status: number, code: string | null): string {
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

export function anthropicErrorType(status: number): string {
  return ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function anthropicMessage(status: number): string {
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

export function ollamaMessage(status: number, model: string): string {
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

export function noScriptFault(rec: RecordedRequest): Reply {
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

export function sseHeaders(): Record<string, string> {
  return { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" };
}

/** Split text into a few chunks (about 3 to 8) for streaming. */
export function pieces(text: string): string[] {
  const chars = Array.from(text); // code points, so surrogate pairs stay whole
  if (chars.length === 0) return [];
  const size = Math.max(4, Math.ceil(chars.length / 6));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

export function randomId(): string {
  return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8);
}
