// OTLP/HTTP export of spans in the OTLP JSON encoding (POST <endpoint>/v1/traces), so any
// OpenTelemetry collector or backend receives opsgraph's traces without LangSmith.

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

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };

function anyValue(v: string | number | boolean): AnyValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

const attributesOf = (attrs: Record<string, string | number | boolean | null>) =>
  Object.entries(attrs)
    .filter((e): e is [string, string | number | boolean] => e[1] !== null && e[1] !== undefined)
    .map(([key, v]) => ({ key: `opsgraph.${key}`, value: anyValue(v) }));

// epoch ms (with a fraction) to a decimal string of ns: beyond 2^53, so no plain Number
const nanos = (ms: number) => (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1_000_000))).toString();

/** The OTLP JSON body for one trace (one run invocation). `traceId`: 32 hex digits. */
export function otlpTraceRequest(traceId: string, spans: ExportedSpan[], serviceName: string) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: serviceName } }] },
        scopeSpans: [
          {
            scope: { name: "opsgraph" },
            spans: spans.map((s) => ({
              traceId,
              spanId: s.id,
              ...(s.parent_id ? { parentSpanId: s.parent_id } : {}),
              name: s.name,
              kind: 1, // SPAN_KIND_INTERNAL
              startTimeUnixNano: nanos(s.start_ms),
              endTimeUnixNano: nanos(Math.max(s.end_ms, s.start_ms)),
              attributes: [{ key: "opsgraph.kind", value: { stringValue: s.kind } }, ...attributesOf(s.attributes)],
              // STATUS_CODE_ERROR for failed attempts and runs, else UNSET
              status: s.attributes.outcome === "error" || s.attributes.status === "failed" || s.attributes.status === "dead_lettered" ? { code: 2 } : { code: 0 },
            })),
          },
        ],
      },
    ],
  };
}

/**
 * Sends traces in the background: a run never waits for the collector. `flush` waits for
 * what is in flight, up to a bound, then gives up on it so a process can exit.
 */
export class OtlpExporter {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private readonly url: string;

  constructor(
    private readonly target: OtlpTarget,
    private readonly onError: (e: unknown) => void = () => {},
  ) {
    this.url = `${target.endpoint.replace(/\/+$/, "")}/v1/traces`;
  }

  export(traceId: string, spans: ExportedSpan[]): void {
    const sent = this.send(traceId, spans).catch(this.onError);
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }

  private async send(traceId: string, spans: ExportedSpan[]) {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...this.target.headers },
      body: JSON.stringify(otlpTraceRequest(traceId, spans, this.target.serviceName)),
      signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.target.timeoutMs ?? 10_000)]),
    });
    await res.arrayBuffer(); // frees the connection
    if (!res.ok) throw new Error(`OTLP export to ${this.url}: HTTP ${res.status}`);
  }

  /** Waits for the exports in flight, at most `boundMs`. */
  async flush(boundMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
    clearTimeout(timer);
  }

  /** Flushes, then aborts what is still in flight: a collector that never answers holds no process open. */
  async close(boundMs = 2_000): Promise<void> {
    await this.flush(boundMs);
    this.closing.abort();
  }
}
