/**
 * KPI anomaly flagging for the rules tier: resample a raw series to the reporting period,
 * then flag periods far from a robust baseline built only from earlier periods
 * (a weekly report cannot see next week). Pure: no I/O, no clock.
 */
import type { KpiPoint } from "./company.js";

export type ReportingPeriod = "hour" | "day" | "week" | "month";

export interface RawPoint {
  /** ISO 8601 (a timestamp without an offset is read as UTC) or epoch milliseconds. */
  t: string | number;
  value: number;
}

export interface KpiAnomaly {
  /** Start of the flagged period, ISO 8601 (UTC). */
  t: string;
  value: number;
  /** What the period was expected to be: seasonal profile plus the trailing median residual. */
  baseline: number;
  /** (value - baseline) / |baseline| in percent. */
  change_pct: number;
  /** Robust z-score: |value - baseline| over 1.4826 x the trailing MAD of residuals. */
  score: number;
}

export interface AnomalyOptions {
  /** Trailing periods the baseline and its spread are computed from. */
  window?: number;
  /** Periods with a residual the trailing window must hold before a period is judged. */
  warmup?: number;
  /** Robust z-score at or above which a period is flagged. */
  threshold?: number;
  /** Season length in periods (24 for hours in a day, 7 for days in a week); 0 for none. */
  season?: number;
  /** Seasons back whose same-phase values give the seasonal profile (their median). */
  seasons?: number;
  /** After a flag, the next this-many periods are not flagged: one incident gives one flag. */
  cooldown?: number;
  /** Smallest |change_pct| worth a flag, so a near-constant KPI's tiny wobble is not an anomaly. */
  minChangePct?: number;
}

/**
 * Defaults tuned on NAB resampled to days (evals/tune-nab.ts, a small grid); counts are in
 * periods: four weeks of days as the baseline, judged from the sixth day on.
 */
export const DEFAULT_ANOMALY_OPTIONS: Required<AnomalyOptions> = {
  window: 28,
  warmup: 5,
  threshold: 3.5,
  season: 0,
  seasons: 3,
  cooldown: 3,
  minChangePct: 0,
};

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** Epoch milliseconds of a timestamp; one without an offset is UTC (Date.parse would use local time). */
export function toEpochMs(t: string | number): number {
  if (typeof t === "number") {
    if (!Number.isFinite(t)) throw new RangeError(`not a timestamp: ${t}`);
    return t;
  }
  const m = ISO.exec(t.trim());
  if (!m) throw new RangeError(`not an ISO 8601 timestamp: ${JSON.stringify(t)}`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = m;
  const ms = Number(frac.slice(0, 3).padEnd(3, "0"));
  let utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    utc -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  if (Number.isNaN(utc)) throw new RangeError(`not an ISO 8601 timestamp: ${JSON.stringify(t)}`);
  return utc;
}

/** Start (epoch ms, UTC) of the period holding `ms`; weeks start on Monday (ISO 8601). */
export function periodStart(ms: number, period: ReportingPeriod): number {
  const d = new Date(ms);
  switch (period) {
    case "hour":
      return Math.floor(ms / 3_600_000) * 3_600_000;
    case "day":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case "week":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    case "month":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** Start of the period after the one starting at `start`. */
export function nextPeriodStart(start: number, period: ReportingPeriod): number {
  const d = new Date(start);
  switch (period) {
    case "hour":
      return start + 3_600_000;
    case "day":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    case "week":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 7);
    case "month":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
}

/** Mean of the raw points per period, oldest first; periods without a point are left out, as are non-finite values. */
export function resample(points: RawPoint[], period: ReportingPeriod): KpiPoint[] {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const p of points) {
    if (!Number.isFinite(p.value)) continue;
    const start = periodStart(toEpochMs(p.t), period);
    const acc = sums.get(start);
    if (acc) {
      acc.sum += p.value;
      acc.n += 1;
    } else sums.set(start, { sum: p.value, n: 1 });
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([start, { sum, n }]) => ({ t: new Date(start).toISOString(), value: sum / n }));
}

function median(xs: ArrayLike<number>): number {
  // A typed array sorts numerically without a comparator, several times faster.
  const s = Float64Array.from(xs).sort();
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Same-phase median over the last `seasons` seasons, or 0 without a season; NaN while history is short. */
function seasonalProfile(values: number[], i: number, season: number, seasons: number): number {
  if (season <= 0) return 0;
  if (i - season * seasons < 0) return NaN;
  const same: number[] = [];
  for (let k = 1; k <= seasons; k++) same.push(values[i - k * season] ?? NaN);
  return median(same);
}

/**
 * Flag the periods whose robust z-score against the trailing window reaches the threshold.
 * Period i is judged on periods before i only, so appending later periods never changes
 * an earlier verdict.
 */
export function detectAnomalies(points: KpiPoint[], opts: AnomalyOptions = {}): KpiAnomaly[] {
  const { window, warmup, threshold, season, seasons, cooldown, minChangePct } = { ...DEFAULT_ANOMALY_OPTIONS, ...opts };
  const values = points.map((p) => p.value);
  const expected = values.map((_, i) => seasonalProfile(values, i, season, seasons));
  const residuals = values.map((v, i) => v - (expected[i] ?? NaN));
  const flags: KpiAnomaly[] = [];
  let lastFlag = -Infinity;
  for (let i = 0; i < points.length; i++) {
    const r = residuals[i] ?? NaN;
    if (Number.isNaN(r) || i - lastFlag <= cooldown) continue;
    const history = residuals.slice(Math.max(0, i - window), i).filter((x) => !Number.isNaN(x));
    if (history.length < Math.max(warmup, 2)) continue;
    const center = median(history);
    const mad = median(history.map((x) => Math.abs(x - center)));
    const meanAbs = history.reduce((s, x) => s + Math.abs(x - center), 0) / history.length;
    const baseline = (expected[i] ?? NaN) + center;
    // MAD is 0 when over half the window is one value; the mean absolute deviation (x1.2533, its
    // normal-consistency factor) still sees the rest. The floor, 0.1% of the baseline, keeps a flat
    // series' score finite and its rounding-error wobble unflagged.
    const scale = Math.max(1.4826 * mad || 1.2533 * meanAbs, 1e-3 * Math.abs(baseline) || 1e-9);
    const dev = r - center;
    const score = Math.abs(dev) / scale;
    const changePct = baseline !== 0 ? (dev / Math.abs(baseline)) * 100 : Math.sign(dev) * 100;
    if (score >= threshold && Math.abs(changePct) >= minChangePct) {
      flags.push({ t: points[i]?.t ?? "", value: values[i] ?? NaN, baseline, change_pct: changePct, score });
      lastFlag = i;
    }
  }
  return flags;
}
