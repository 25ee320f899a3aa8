import { DEFAULT_ANOMALY_OPTIONS, detectAnomalies, resample, toEpochMs, type ReportingPeriod } from "../../agents/portfolio-monitoring/kpi-anomalies.js";
import { loadNab, scoreSeries } from "../nab.js";
import { runExperiment, type ExperimentResult } from "../experiment.js";

/**
 * Portfolio monitoring's KPI anomaly flagging (the rules tier) on NAB: each series resampled
 * to `period`, flags scored against the labelled windows (a flag inside a window is a hit,
 * each window counts once).
 */
export async function portfolioNabSuite(o: { data: string; period: ReportingPeriod; name: string; upload: boolean }): Promise<ExperimentResult> {
  const series = await loadNab(o.data);
  const byKey = new Map(series.map((s) => [s.key, s]));
  return runExperiment({
    name: o.name,
    upload: o.upload,
    examples: series.map((s) => ({ inputs: { key: s.key }, reference: { key: s.key } })),
    async target({ key }: { key: string }) {
      const s = byKey.get(key)!;
      const flags = detectAnomalies(resample(s.points, o.period), DEFAULT_ANOMALY_OPTIONS).map((a) => toEpochMs(a.t));
      return { key, flags };
    },
    summary(outputs: { key: string; flags: number[] }[]) {
      let hits = 0;
      let falsePositives = 0;
      let windows = 0;
      for (const out of outputs.filter(Boolean)) {
        const c = scoreSeries(out.flags, byKey.get(out.key)!.windows, o.period);
        hits += c.hits;
        falsePositives += c.false_positives;
        windows += byKey.get(out.key)!.windows.length;
      }
      const precision = hits + falsePositives ? hits / (hits + falsePositives) : 0;
      const recall = windows ? hits / windows : 0;
      return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, errors: series.length - outputs.filter(Boolean).length };
    },
  });
}
