// OTLP/HTTP export of a run's spans with OpenTelemetry's own SDK and exporter (JSON to
// <endpoint>/v1/traces), so any OpenTelemetry collector or backend receives opsgraph's traces
// without LangSmith. The spans are opsgraph's stored ones, replayed with their ids and times.
import { context, SpanKind, SpanStatusCode, trace, type Span as OtelSpan } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type IdGenerator } from "@opentelemetry/sdk-trace-base";

/** A span as exported: ids in hex (trace 32, span 16), times in epoch ms. */
export interface ExportedSpan {
  id: string;
  parent_id: string | null;
  kind: string;
  name: string;
  start_ms: number;
  end_ms: number;
  attributes: Record<string, string | number | boolean | null>;
}

export interface OtlpTarget {
  /** The collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); `/v1/traces` is appended. */
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  /** Per request; a collector that never answers is given up on. Default 10 s. */
  timeoutMs?: number;
}

/** Hands the SDK the ids opsgraph already gave its spans (the run's uuid is the trace id). */
class GivenIds implements IdGenerator {
  traceId = "";
  spanId = "";
  generateTraceId = () => this.traceId;
  generateSpanId = () => this.spanId;
}

const ORDER: Record<string, number> = { run: 0, node: 1, attempt: 2 };
const failed = (s: ExportedSpan) => s.attributes.outcome === "error" || s.attributes.status === "failed" || s.attributes.status === "dead_lettered";

/**
 * Sends traces in the background through a batching span processor: a run never waits for
 * the collector. `close` flushes what is pending, up to a bound, then gives up on it.
 */
export class OtlpExporter {
  private readonly ids = new GivenIds();
  private readonly provider: BasicTracerProvider;
  private readonly tracer;

  constructor(
    target: OtlpTarget,
    private readonly onError: (e: unknown) => void = () => {},
  ) {
    const exporter = new OTLPTraceExporter({
      url: `${target.endpoint.replace(/\/+$/, "")}/v1/traces`,
      headers: target.headers,
      timeoutMillis: target.timeoutMs ?? 10_000,
    });
    this.provider = new BasicTracerProvider({
      idGenerator: this.ids,
      resource: resourceFromAttributes({ "service.name": target.serviceName }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    this.tracer = this.provider.getTracer("opsgraph");
  }

  /** Queues one run invocation's spans for export; parents before children. */
  export(traceId: string, spans: ExportedSpan[]): void {
    try {
      const made = new Map<string, OtelSpan>();
      for (const s of [...spans].sort((a, b) => (ORDER[a.kind] ?? 3) - (ORDER[b.kind] ?? 3))) {
        const parent = s.parent_id ? made.get(s.parent_id) : undefined;
        const ctx = parent ? trace.setSpan(context.active(), parent) : trace.deleteSpan(context.active());
        this.ids.traceId = traceId;
        this.ids.spanId = s.id;
        const attributes = Object.fromEntries(
          Object.entries(s.attributes)
            .filter(([, v]) => v !== null && v !== undefined)
            .map(([k, v]) => [`opsgraph.${k}`, v as string | number | boolean]),
        );
        const span = this.tracer.startSpan(
          s.name,
          { kind: SpanKind.INTERNAL, startTime: s.start_ms, attributes: { "opsgraph.kind": s.kind, ...attributes } },
          ctx,
        );
        if (failed(s)) span.setStatus({ code: SpanStatusCode.ERROR });
        made.set(s.id, span);
      }
      // ended children first is not required: each span carries its own end time
      for (const s of spans) made.get(s.id)?.end(Math.max(s.end_ms, s.start_ms));
    } catch (e) {
      this.onError(e);
    }
  }

  /** Exports what is pending, waiting at most `boundMs`. */
  async flush(boundMs = 2_000): Promise<void> {
    await this.bounded(this.provider.forceFlush(), boundMs);
  }

  /** Flushes, then shuts the exporter down: a collector that never answers holds no process open past the bound. */
  async close(boundMs = 2_000): Promise<void> {
    await this.bounded(this.provider.shutdown(), boundMs);
  }

  private async bounded(p: Promise<void>, boundMs: number) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p.catch(this.onError), new Promise<void>((r) => (timer = setTimeout(r, boundMs).unref()))]);
    clearTimeout(timer);
  }
}
