// Over 300 lines: one renderer per API (OpenAI chat, Azure, Anthropic Messages, Ollama) for answers, malformed answers and errors; each is short, and they share the request-id counter.
/** Renders a scripted answer, a malformed answer or a scripted error in each API's own shape. */
import {
  anthropicErrorType,
  anthropicMessage,
  anthropicToolNameOf,
  defaultCode,
  defaultMessage,
  errorType,
  firstToolName,
  isObject,
  jsonRendered,
  makeUsage,
  ollamaMessage,
  pieces,
  randomId,
  sseHeaders,
  toolNameOf,
} from "./protocol.js";
import type { ApiError, RecordedRequest, Rendered, ScriptedUsage } from "./types.js";

/** The renderers; `requestId` is the server's own, so request ids keep one sequence. */
export function renderers(requestId: () => string) {
  function renderAnswer(
    rec: RecordedRequest,
    requestChars: number,
    reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage },
  ): Rendered {
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

  function renderOpenAI(
    rec: RecordedRequest,
    requestChars: number,
    reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage },
  ): Rendered {
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
        message["tool_calls"] = [{ id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: toolCall.arguments } }];
      }
      return jsonRendered(
        200,
        {
          id,
          object: "chat.completion",
          created,
          model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
          usage,
          service_tier: "default",
          system_fingerprint: "fp_scripted",
        },
        { "x-request-id": requestId() },
      );
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

  function renderAnthropic(
    rec: RecordedRequest,
    requestChars: number,
    reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage },
  ): Rendered {
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
      return jsonRendered(
        200,
        {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [block],
          stop_reason: stopReason,
          stop_sequence: null,
          usage,
        },
        headers,
      );
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

  function renderOllama(
    rec: RecordedRequest,
    requestChars: number,
    reply: { json: unknown; usage?: ScriptedUsage; tool?: string } | { content: string; usage?: ScriptedUsage },
  ): Rendered {
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
  return { renderAnswer, renderMalformed, statusError };
}
