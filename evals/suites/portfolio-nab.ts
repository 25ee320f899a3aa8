import { DEFAULT_ANOMALY_OPTIONS, detectAnomalies, resample, toEpochMs, type ReportingPeriod } from "../../flows/portfolio-monitoring/agents/kpi-anomalies.js";
import type { CompanyMetrics } from "../../flows/portfolio-monitoring/agents/company.js";
import { kpiAnalyst, type KpiAnalysis } from "../../flows/portfolio-monitoring/agents/kpi-analyst.js";
import type { ModelTier } from "../../nodes/agent.js";
import { runAgentStep } from "../agent-run.js";
import { loadNab, ratios, scoreSeries } from "../nab.js";
import { runExperiment, type ExperimentResult } from "../experiment.js";

/**
 * Portfolio monitoring's KPI anomaly flagging (the rules tier) on NAB: each series resampled
 * to `period`, flags scored against the labelled windows (a flag inside a window is a hit,
 * each window counts once).
 */
export async function portfolioNabSuite(o: {
  data: string;
  period: ReportingPeriod;
  name: string;
  upload: boolean;
  tiers?: ModelTier[];
}): Promise<ExperimentResult> {
  const series = await loadNab(o.data);
  const byKey = new Map(series.map((s) => [s.key, s]));
  return runExperiment({
    name: o.name,
    upload: o.upload,
    examples: series.map((s) => ({ inputs: { key: s.key }, reference: { key: s.key } })),
    async target({ key }: { key: string }) {
      const s = byKey.get(key)!;
      const points = resample(s.points, o.period);
      if (!o.tiers?.length) return { key, flags: detectAnomalies(points, DEFAULT_ANOMALY_OPTIONS).map((a) => toEpochMs(a.t)), model_calls: 0 };
      // the model path: the KPI analyst (an agent step on the tiers) over the series as a company's KPI; its anomaly findings are the flags
      const metrics: CompanyMetrics = { version: 1, company: { ticker: "NAB", name: key, sector: "Unknown" }, annual: [], peers: {}, kpis: { [key]: points } };
      const run = await runAgentStep(kpiAnalyst as never, "analyse_kpis", { metrics, anomalies: DEFAULT_ANOMALY_OPTIONS }, o.tiers);
      const findings = (run.output as KpiAnalysis).findings.filter((f) => f.kind === "anomaly");
      return { key, flags: findings.map((f) => toEpochMs(f.period)), model_calls: run.model_calls };
    },
    summary(outputs: { key: string; flags: number[]; model_calls: number }[]) {
      const done = outputs.filter(Boolean);
      const total = { series: done.length, windows: 0, flags: 0, flags_in_windows: 0, hits: 0, false_positives: 0 };
      for (const out of done) {
        const c = scoreSeries(out.flags, byKey.get(out.key)!.windows, o.period);
        for (const k of ["windows", "flags", "flags_in_windows", "hits", "false_positives"] as const) total[k] += c[k];
      }
      const { precision, recall, f1 } = ratios(total);
      return { precision, recall, f1, errors: series.length - done.length, model_calls: done.reduce((n, x) => n + x.model_calls, 0) };
    },
  });
}
