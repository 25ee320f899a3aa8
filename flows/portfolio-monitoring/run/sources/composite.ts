/** (d) A composite asking several sources in order. */
import type { RawPoint } from "../../agents/kpi-anomalies.js";
import type { PortfolioDataSource } from "../../agents/metrics-collector.js";

/** Asks its sources in order: the first that knows the company or has its years answers; KPI series are merged. */
export function compositeSource(sources: PortfolioDataSource[]): PortfolioDataSource {
  const first = async <T>(ask: (s: PortfolioDataSource) => Promise<T>, found: (t: T) => boolean, none: T): Promise<T> => {
    for (const s of sources) {
      const answer = await ask(s);
      if (found(answer)) return answer;
    }
    return none;
  };
  return {
    describe: () => sources.map((s) => s.describe()).join(" + "),
    company: (ticker) =>
      first(
        (s) => s.company(ticker),
        (c) => c !== null,
        null,
      ),
    annual: (ticker) =>
      first(
        (s) => s.annual(ticker),
        (a) => a.length > 0,
        [],
      ),
    peerMedians: (sector, exclude) =>
      first(
        (s) => s.peerMedians(sector, exclude),
        (p) => Object.keys(p).length > 0,
        {},
      ),
    async kpis(ticker) {
      const all = await Promise.all(sources.map((s) => s.kpis(ticker)));
      return Object.assign({}, ...all.reverse()) as Record<string, RawPoint[]>;
    },
  };
}
