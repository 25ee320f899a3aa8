/**
 * Numenta Anomaly Benchmark evaluation of the KPI anomaly detector (rules tier).
 *
 * Dataset format: `<dir>/data/<family>/<series>.csv` (`timestamp,value`, timestamps
 * without an offset, read as UTC) and `<dir>/labels/combined_windows.json` mapping
 * `<family>/<series>.csv` to `[start, end]` anomaly windows. Label keys without a CSV
 * (NAB's artificial series, not copied into the shared dataset) are ignored.
 *
 * Scoring, NAB's own rule: a flag inside a window is a hit and each window counts once.
 * - hits: windows with at least one flag inside (a flagged period overlapping the window);
 * - false_positives: flags outside every window;
 * - precision = hits / (hits + false_positives): a second flag in an already-hit window is
 *   neither credit nor penalty, so flagging an incident twice cannot raise precision;
 * - recall = hits / windows.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../runtime/errors.js";
import {
  DEFAULT_ANOMALY_OPTIONS,
  detectAnomalies,
  nextPeriodStart,
  resample,
  toEpochMs,
  type AnomalyOptions,
  type RawPoint,
  type ReportingPeriod,
} from "../flows/portfolio-monitoring/agents/kpi-anomalies.js";

export const PRECISION_DEFINITION = "windows hit / (windows hit + flags outside every window)";

export interface NabSeries {
  /** `<family>/<series>.csv`, the labels' key. */
  key: string;
  family: string;
  points: RawPoint[];
  /** Anomaly windows as epoch ms, inclusive at both ends. */
  windows: [number, number][];
}

export interface NabCounts {
  series: number;
  windows: number;
  flags: number;
  /** Flags inside some window (a window may hold several). */
  flags_in_windows: number;
  hits: number;
  false_positives: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface NabResult extends NabCounts {
  period: ReportingPeriod;
  options: Required<AnomalyOptions>;
  precision_definition: string;
  per_family: Record<string, NabCounts>;
}

const windowsSchema = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])));

function parseCsv(text: string, file: string): RawPoint[] {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== "timestamp,value") throw new InputError(`${file}: expected the header "timestamp,value"`);
  const points: RawPoint[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]?.trim() ?? "";
    if (line === "") continue;
    const comma = line.indexOf(",");
    const value = Number(line.slice(comma + 1));
    if (comma < 0 || line.slice(comma + 1).trim() === "" || Number.isNaN(value)) throw new InputError(`${file}:${n + 1}: expected "timestamp,value"`);
    // Parsed once here: tuning resamples the same points many times.
    points.push({ t: toEpochMs(line.slice(0, comma)), value });
  }
  return points;
}

/** Load every labelled series under `<dir>/data`, families and series in name order. */
export async function loadNab(dir: string): Promise<NabSeries[]> {
  const labelsPath = join(dir, "labels", "combined_windows.json");
  let labels: z.infer<typeof windowsSchema>;
  try {
    labels = windowsSchema.parse(JSON.parse(await readFile(labelsPath, "utf8")));
  } catch (err) {
    throw new InputError(`NAB labels not readable at ${labelsPath}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  const dataDir = join(dir, "data");
  const families: string[] = [];
  try {
    for (const e of await readdir(dataDir, { withFileTypes: true })) if (e.isDirectory()) families.push(e.name);
  } catch {
    throw new InputError(`NAB data folder not found: ${dataDir}`);
  }
  const keys: string[] = [];
  for (const family of families.sort()) {
    for (const f of (await readdir(join(dataDir, family))).sort()) if (f.endsWith(".csv")) keys.push(`${family}/${f}`);
  }
  return Promise.all(
    keys.map(async (key) => {
      const windows = labels[key];
      if (!windows) throw new InputError(`${labelsPath}: no entry for ${key}`);
      const file = join(dataDir, key);
      return {
        key,
        family: key.slice(0, key.indexOf("/")),
        points: parseCsv(await readFile(file, "utf8"), file),
        windows: windows.map(([s, e]): [number, number] => [toEpochMs(s), toEpochMs(e)]),
      };
    }),
  );
}

/** Precision, recall and F1 of summed counts (see the scoring rule above). */
export function ratios(c: Omit<NabCounts, "precision" | "recall" | "f1">): NabCounts {
  // 0 rather than undefined when nothing was flagged (or nothing was labelled): no credit.
  const precision = c.hits + c.false_positives > 0 ? c.hits / (c.hits + c.false_positives) : 0;
  const recall = c.windows > 0 ? c.hits / c.windows : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { ...c, precision, recall, f1 };
}

/** Score flags (period starts, epoch ms) against one series' windows. */
export function scoreSeries(flagStarts: number[], windows: [number, number][], period: ReportingPeriod) {
  const hit = new Set<number>();
  let inWindows = 0;
  for (const start of flagStarts) {
    const end = nextPeriodStart(start, period);
    // A period [start, end) overlaps an inclusive window [ws, we].
    const inside = windows.flatMap(([ws, we], w) => (start <= we && end > ws ? [w] : []));
    if (inside.length > 0) inWindows += 1;
    for (const w of inside) hit.add(w);
  }
  return { windows: windows.length, flags: flagStarts.length, flags_in_windows: inWindows, hits: hit.size, false_positives: flagStarts.length - inWindows };
}

/** Resample each series to `period`, run the detector and score its flags. */
export function scoreNab(series: NabSeries[], opts: AnomalyOptions & { period: ReportingPeriod }): NabResult {
  const { period, ...detector } = opts;
  const options = { ...DEFAULT_ANOMALY_OPTIONS, ...detector };
  const zero = () => ({ series: 0, windows: 0, flags: 0, flags_in_windows: 0, hits: 0, false_positives: 0 });
  const total = zero();
  const families: Record<string, ReturnType<typeof zero>> = {};
  for (const s of series) {
    const flags = detectAnomalies(resample(s.points, period), options);
    const counts = scoreSeries(
      flags.map((f) => toEpochMs(f.t)),
      s.windows,
      period,
    );
    const fam = (families[s.family] ??= zero());
    for (const acc of [total, fam]) {
      acc.series += 1;
      for (const k of ["windows", "flags", "flags_in_windows", "hits", "false_positives"] as const) acc[k] += counts[k];
    }
  }
  const per_family = Object.fromEntries(Object.entries(families).map(([f, c]) => [f, ratios(c)]));
  return { period, options, precision_definition: PRECISION_DEFINITION, ...ratios(total), per_family };
}

export async function evaluateNab(dir: string, opts: AnomalyOptions & { period: ReportingPeriod }): Promise<NabResult> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new InputError(`NAB dataset folder not found: ${dir}`);
  return scoreNab(await loadNab(dir), opts);
}

/** A small text table: one row per family, then the total. */
export function formatNab(r: NabResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const header = ["family", "series", "windows", "flags", "hits", "false pos.", "precision", "recall", "F1"];
  const row = (name: string, c: NabCounts) =>
    [name, c.series, c.windows, c.flags, c.hits, c.false_positives, pct(c.precision), pct(c.recall), pct(c.f1)].map(String);
  const rows = [header, ...Object.entries(r.per_family).map(([f, c]) => row(f, c)), row("all", r)];
  const widths = header.map((_, i) => Math.max(...rows.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  const o = r.options;
  return [
    `NAB, resampled per ${r.period}: window ${o.window}, warm-up ${o.warmup}, threshold ${o.threshold}, season ${o.season}x${o.seasons}, cooldown ${o.cooldown}, min change ${o.minChangePct}%`,
    line(rows[0] ?? []),
    ...rows.slice(1).map(line),
    `precision = ${r.precision_definition}; recall = windows hit / windows`,
  ].join("\n");
}
