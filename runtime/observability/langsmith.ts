import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { LangChainTracer, type LangChainTracerFields } from "@langchain/core/tracers/tracer_langchain";
import type { KVMap } from "langsmith/schemas";
import type { ChainValues } from "@langchain/core/utils/types";
import type { Serialized } from "@langchain/core/load/serializable";
import { Client } from "langsmith";

export interface LangSmithSettings {
  apiKey?: string;
  /** LangSmith's API URL; the client's default (LangSmith cloud) when unset. */
  endpoint?: string;
  project?: string;
  /** Per request to LangSmith. Default 10 s. */
  timeoutMs?: number;
}

interface FlowTracerFields extends LangChainTracerFields {
  flow: string;
}

/** LangChain's tracer, naming a run's root after its flow (as opsgraph's own spans do) instead of "LangGraph". */
class FlowTracer extends LangChainTracer {
  constructor(fields: FlowTracerFields) {
    super(fields);
  }
  // from fields: LangChain copies a tracer through its fields
  private get flow() {
    return (this.fields as FlowTracerFields).flow;
  }
  // where LangChain creates a chain's run (and its name), before handleChainStart
  override _createRunForChainStart(
    chain: Serialized,
    inputs: ChainValues,
    runId: string,
    parentRunId?: string,
    tags?: string[],
    metadata?: KVMap,
    runType?: string,
    name?: string,
    extra?: Record<string, unknown>,
  ) {
    return super._createRunForChainStart(chain, inputs, runId, parentRunId, tags, metadata, runType, parentRunId ? name : this.flow, extra);
  }
  // LangChain's copy is a plain LangChainTracer: keep it a FlowTracer (its fields carry the flow)
  override copyWithTracingConfig(config: Parameters<LangChainTracer["copyWithTracingConfig"]>[0]): LangChainTracer {
    return Object.setPrototypeOf(super.copyWithTracingConfig(config), FlowTracer.prototype) as FlowTracer;
  }
}

/**
 * LangSmith tracing of runs, on a client of opsgraph's own: requests are bounded, retried
 * little, and abandoned at close, so an unreachable LangSmith never holds a run or a
 * process (LangChain's default client waits 90 s a request). The tracer is attached to
 * each invocation, so LangChain adds no default one.
 */
export function createLangSmithTracing(s: LangSmithSettings) {
  const closing = new AbortController();
  // The client retries a failed request up to 4 times over ~15 s of timers that hold the
  // process open; an error whose message starts with "Cancel" it does not retry. An
  // unreachable LangSmith loses that batch of traces, never a run.
  const fetchOnce = async (input: RequestInfo | URL, init?: RequestInit) => {
    if (closing.signal.aborted) throw new Error("Cancel: LangSmith tracing is closed");
    try {
      return await fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, closing.signal]) : closing.signal });
    } catch (e) {
      // unreachable: the server's info is the client's defaults (else it asks again, and warns, on every run)
      if (/\/info(\?|$)/.test(String(input instanceof Request ? input.url : input)))
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      throw new Error(`Cancel: LangSmith unreachable: ${(e as Error).message}`, { cause: e });
    }
  };
  const client = new Client({
    ...(s.endpoint ? { apiUrl: s.endpoint } : {}),
    ...(s.apiKey ? { apiKey: s.apiKey } : {}),
    timeout_ms: s.timeoutMs ?? 10_000,
    callerOptions: { maxRetries: 1 },
    fetchImplementation: fetchOnce as typeof fetch,
  });
  return {
    tracer(run: { flow: string; run_id: string; thread_id: string }): BaseCallbackHandler {
      return new FlowTracer({
        client,
        flow: run.flow,
        ...(s.project ? { projectName: s.project } : {}),
        metadata: { opsgraph_run_id: run.run_id, thread_id: run.thread_id, flow: run.flow },
      });
    },
    /** Waits for pending trace batches at most `boundMs`, then abandons them. */
    async close(boundMs = 2_000): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.awaitPendingTraceBatches().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
      clearTimeout(timer);
      closing.abort();
    },
  };
}
