/**
 * Tuning aid for the KPI anomaly detector: a small grid over a handful of parameters on
 * NAB, per reporting period, ranked by F1. NAB has no separate split, so the figures for
 * the chosen defaults are in-sample: keep the grid small.
 *
 *   npx tsx evals/tune-nab.ts [dir] [--period hour|day|week] [--top 10]
 *
 * dir defaults to ../shared/datasets/portfolio/nab-kpi-anomalies.
 */
import { resample, toEpochMs, type AnomalyOptions, type ReportingPeriod } from "../flows/portfolio-monitoring/agents/kpi-anomalies.js";
import { formatNab, loadNab, scoreNab } from "./nab.js";

const args = process.argv.slice(2);
let dir = "../shared/datasets/portfolio/nab-kpi-anomalies";
let periods: ReportingPeriod[] = ["hour", "day", "week"];
let top = 10;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--period") periods = [(args[++i] ?? "day") as ReportingPeriod];
  else if (a === "--top") top = Number(args[++i] ?? 10);
  else if (a) dir = a;
}

// Counts are in periods: a day-long season is 24 hours or 1 day (none), a week 7 days.
const GRID: Record<ReportingPeriod, { window: number[]; warmup: number[]; season: number[]; cooldown: number[] }> = {
  hour: { window: [48, 168], warmup: [24], season: [0, 24], cooldown: [6, 24] },
  day: { window: [14, 28], warmup: [5, 7], season: [0, 7], cooldown: [1, 3] },
  week: { window: [8, 12], warmup: [4], season: [0], cooldown: [1] },
  month: { window: [6, 12], warmup: [4], season: [0], cooldown: [1] },
};
const THRESHOLDS = [3, 3.5, 4, 5, 6, 8];
const MIN_CHANGE = [0, 5, 10];

const raw = await loadNab(dir);
const t0 = performance.now();
for (const period of periods) {
  const g = GRID[period];
  // Resampled once per period; resampling again inside scoreNab is then the identity, and cheap.
  const series = raw.map((s) => ({ ...s, points: resample(s.points, period).map((p) => ({ t: toEpochMs(p.t), value: p.value })) }));
  const settings: AnomalyOptions[] = g.window.flatMap((window) =>
    g.warmup.flatMap((warmup) =>
      g.season.flatMap((season) =>
        g.cooldown.flatMap((cooldown) =>
          THRESHOLDS.flatMap((threshold) => MIN_CHANGE.map((minChangePct) => ({ window, warmup, season, cooldown, threshold, minChangePct }))),
        ),
      ),
    ),
  );
  const runs = settings.map((opts) => ({ opts, r: scoreNab(series, { period, ...opts }) }));
  runs.sort((a, b) => b.r.f1 - a.r.f1);
  console.log(`\n## ${period}: ${runs.length} settings, best ${top} by F1`);
  console.log("window warmup season cooldown threshold minChange%  flags hits  FP  precision recall  F1");
  for (const { opts: o, r } of runs.slice(0, top)) {
    const p = (x: number) => (x * 100).toFixed(1).padStart(6);
    console.log(
      `${String(o.window).padStart(6)} ${String(o.warmup).padStart(6)} ${String(o.season).padStart(6)} ${String(o.cooldown).padStart(8)} ${String(o.threshold).padStart(9)} ${String(o.minChangePct).padStart(10)}  ${String(r.flags).padStart(5)} ${String(r.hits).padStart(4)} ${String(r.false_positives).padStart(3)}  ${p(r.precision)}   ${p(r.recall)} ${p(r.f1)}`,
    );
  }
  console.log(`\ndefaults:\n${formatNab(scoreNab(series, { period }))}`);
}
console.log(`\n${(performance.now() - t0).toFixed(0)} ms`);
